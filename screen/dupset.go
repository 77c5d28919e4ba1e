package screen

// dupSet is an open-addressing set of 64-bit row hashes (8 bytes a slot,
// at most three quarters full) for the duplicate check. It grows by doubling
// up to maxSlots; once full it refuses new hashes, and the caller reports
// that the check stopped there.
type dupSet struct {
	slots    []uint64
	n        int
	maxSlots int
}

func newDupSet(maxRows int) *dupSet {
	max := 1 << 10
	for max*3/4 < maxRows {
		max *= 2
	}
	return &dupSet{slots: make([]uint64, min(1<<12, max)), maxSlots: max}
}

// add inserts h and reports whether it was already present; full reports
// that h could not be recorded.
func (d *dupSet) add(h uint64) (seen, full bool) {
	if h == 0 {
		h = 1 // 0 marks an empty slot
	}
	if (d.n+1)*4 > len(d.slots)*3 {
		if len(d.slots) >= d.maxSlots {
			return d.lookup(h), true
		}
		d.grow()
	}
	mask := uint64(len(d.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch d.slots[i] {
		case h:
			return true, false
		case 0:
			d.slots[i] = h
			d.n++
			return false, false
		}
	}
}

func (d *dupSet) lookup(h uint64) bool {
	mask := uint64(len(d.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch d.slots[i] {
		case h:
			return true
		case 0:
			return false
		}
	}
}

func (d *dupSet) grow() {
	old := d.slots
	d.slots = make([]uint64, 2*len(old))
	mask := uint64(len(d.slots) - 1)
	for _, h := range old {
		if h == 0 {
			continue
		}
		i := h & mask
		for d.slots[i] != 0 {
			i = (i + 1) & mask
		}
		d.slots[i] = h
	}
}
