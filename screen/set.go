package screen

import (
	"encoding/binary"
	"math/bits"
	"slices"
)

// h128 is a 128-bit hash of a normalised key, as two big-endian halves.
type h128 struct{ hi, lo uint64 }

func h128Of(b []byte) h128 {
	return h128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:16])}
}

func (a h128) cmp(b h128) int {
	switch {
	case a.hi < b.hi:
		return -1
	case a.hi > b.hi:
		return 1
	case a.lo < b.lo:
		return -1
	case a.lo > b.lo:
		return 1
	}
	return 0
}

// hashSet is a read-only set of 128-bit hashes, each with a one-bit mark,
// in about 9 bytes per entry. Entries are sorted and split into 2^b buckets
// by their top b bits (about four entries a bucket); a bucket's entries are
// stored as the 63 bits that follow those top b bits, then the mark, and
// idx holds where each bucket starts. A lookup is one index read and a scan
// of a few adjacent words. Matching on 63+b bits instead of 128 leaves a
// false match chance near 8 in 2^64 per lookup, whatever the size of the
// set.
type hashSet struct {
	b    uint
	idx  []uint32 // len 2^b+1
	rest []uint64
}

// maxSetEntries keeps idx in uint32.
const maxSetEntries = 1<<32 - 1

func bucketBits(n int) uint {
	if n < 8 {
		return 0
	}
	return uint(min(bits.Len(uint(n))-2, 30))
}

func (s *hashSet) split(h h128) (bucket uint64, rest uint64) {
	if s.b == 0 {
		return 0, h.hi
	}
	return h.hi >> (64 - s.b), h.hi<<s.b | h.lo>>(64-s.b)
}

// setBuilder fills a hashSet from entries given in ascending order.
type setBuilder struct {
	s      hashSet
	bucket uint64
	last   h128
	n      int
}

func newSetBuilder(n int) *setBuilder {
	b := bucketBits(n)
	return &setBuilder{s: hashSet{b: b, idx: make([]uint32, 1<<b+1), rest: make([]uint64, 0, n)}}
}

// add appends h with its mark; h must be greater than the last one added,
// and add reports false when it is not.
func (sb *setBuilder) add(h h128, mark bool) bool {
	if sb.n > 0 && h.cmp(sb.last) <= 0 {
		return false
	}
	bucket, rest := sb.s.split(h)
	rest &^= 1
	if mark {
		rest |= 1
	}
	for sb.bucket < bucket {
		sb.bucket++
		sb.s.idx[sb.bucket] = uint32(len(sb.s.rest))
	}
	sb.s.rest = append(sb.s.rest, rest)
	sb.last, sb.n = h, sb.n+1
	return true
}

func (sb *setBuilder) done() hashSet {
	for i := sb.bucket + 1; i < uint64(len(sb.s.idx)); i++ {
		sb.s.idx[i] = uint32(len(sb.s.rest))
	}
	sb.s.rest = slices.Clip(sb.s.rest)
	return sb.s
}

// lookup reports whether h is in the set, and its mark.
func (s *hashSet) lookup(h h128) (found, mark bool) {
	bucket, rest := s.split(h)
	rest >>= 1
	for _, r := range s.rest[s.idx[bucket]:s.idx[bucket+1]] {
		if r>>1 >= rest {
			return r>>1 == rest, r>>1 == rest && r&1 == 1
		}
	}
	return false, false
}

func (s *hashSet) len() int { return len(s.rest) }

// bytes is the set's size in memory.
func (s *hashSet) bytes() int { return 8*cap(s.rest) + 4*len(s.idx) }
