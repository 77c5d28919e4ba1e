package zipenc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
)

// inflateSegment inflates src, one segment of a deflate stream (RFC 1951),
// into dst, which it must fill exactly, with no history before it. A
// segment that is not the last must end at a block boundary on a byte
// boundary exactly at the end of src, with no final block in it; the last
// one must end with the final block in its last byte (only padding bits
// after it). Anything else is an error.
//
// Why that proves the parallel result equal to the serial one: a serial
// decoder that reaches a segment's first byte at a block boundary decodes
// its bits exactly as a fresh decoder does, provided no back-reference
// reaches before the segment (a fresh decoder has no history and refuses
// one). If the fresh decoder then ends a non-final block exactly at the
// segment's last bit, so does the serial one, which therefore starts the
// next segment at a block boundary too. By induction from the stream's
// start, the outputs concatenated are the serial output, and the last
// segment's final block ends the stream where the serial decoder ends it.
//
// The decoder is xfer's own, written for this case: the whole input and
// the whole output are in memory, so it reads the input eight bytes at a
// time and writes matches straight into dst, where a streaming decoder
// (klauspost/compress/flate, which the serial path uses) reads a byte at a
// time and copies through a 32 KiB window. It accepts exactly the streams
// compress/flate accepts (FuzzInflateSegment holds it to that) and about
// doubles the inflate's speed (BenchmarkInflateSegment).
func inflateSegment(dst, src []byte, last bool) error {
	d := inflater{src: src, dst: dst}
	return d.run(last)
}

// Table entries, for the literal/length and distance codes alike:
//
//	bits 0-4    code bits to consume (of the main table, or of a subtable)
//	bits 8-12   extra bits to read after the code (lengths and distances),
//	            or a subtable's index bits
//	bits 16-31  the literal, the base length or distance, or where the
//	            subtable starts
//
// and the flags below. Entries of codes longer than a main table's bits
// point to a subtable indexed by the bits that follow.
const (
	entLiteral = 1 << 5
	entEnd     = 1 << 6 // end of block
	entSub     = 1 << 7 // a subtable's pointer
	entInvalid = 1 << 13

	litBits  = 10 // main table index bits, literal/length code
	distBits = 8  // main table index bits, distance code
	// The tables' sizes: a main table and its subtables never exceed these
	// (zlib's "enough" counts: 1332 entries for 288 symbols and 10 bits,
	// 402 for 32 symbols and 8 bits), and being powers of two they let an
	// index be masked instead of checked.
	litTableLen  = 2048
	distTableLen = 512
)

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	// The order in which a dynamic block gives the code length code's lengths.
	codeLengthOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	fixedLit, fixedDist = fixedTables()
)

func litEntry(sym int) uint32 {
	switch {
	case sym < 256:
		return entLiteral | uint32(sym)<<16
	case sym == 256:
		return entEnd
	case sym < 286:
		return uint32(lengthExtra[sym-257])<<8 | uint32(lengthBase[sym-257])<<16
	}
	return entInvalid // 286 and 287: codes of the fixed table, never valid
}

func distEntry(sym int) uint32 {
	if sym < 30 {
		return uint32(distExtra[sym])<<8 | uint32(distBase[sym])<<16
	}
	return entInvalid // 30 and 31: codes of the fixed table, never valid
}

func codeLengthEntry(sym int) uint32 { return uint32(sym) << 16 }

func fixedTables() (*[litTableLen]uint32, *[distTableLen]uint32) {
	var lens [288 + 32]uint8
	for i := range 288 {
		switch {
		case i < 144:
			lens[i] = 8
		case i < 256:
			lens[i] = 9
		case i < 280:
			lens[i] = 7
		default:
			lens[i] = 8
		}
	}
	for i := 288; i < len(lens); i++ {
		lens[i] = 5
	}
	lit, dist := new([litTableLen]uint32), new([distTableLen]uint32)
	if !buildTable(lit[:], lens[:288], litBits, litEntry) || !buildTable(dist[:], lens[288:], distBits, distEntry) {
		panic("zipenc: the fixed Huffman tables do not build")
	}
	return lit, dist
}

// buildTable fills table with the canonical Huffman code of lens (RFC 1951
// 3.2.2) for lookups of mainBits bits, the entry of each symbol given by
// entry. It refuses the lengths compress/flate refuses: a code that is
// over-subscribed, or incomplete other than by being empty or a single
// one-bit code (whose unused half, like all of an empty code, decodes as
// invalid).
func buildTable(table []uint32, lens []uint8, mainBits uint, entry func(int) uint32) bool {
	var count [16]int
	for _, l := range lens {
		count[l]++
	}
	count[0] = 0
	left, total, maxLen := 1, 0, 0
	for l := 1; l < 16; l++ {
		left = left<<1 - count[l]
		if left < 0 {
			return false // over-subscribed
		}
		total += count[l]
		if count[l] > 0 {
			maxLen = l
		}
	}
	if left > 0 && !(total == 0 || (total == 1 && maxLen == 1)) {
		return false // incomplete
	}
	mainLen := 1 << mainBits
	if left > 0 {
		for i := range mainLen {
			table[i] = entInvalid
		}
	}
	var next [16]int // each length's first code (count[0] is zero)
	for code, l := 0, 1; l < 16; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	// Subtables: each prefix of mainBits bits shared by longer codes gets
	// one, as wide as the longest of them needs.
	var subBits [1 << litBits]uint8
	if maxLen > int(mainBits) {
		code := next
		for _, l := range lens {
			if int(l) <= int(mainBits) {
				if l > 0 {
					code[l]++
				}
				continue
			}
			rev := int(bits.Reverse16(uint16(code[l])) >> (16 - l))
			code[l]++
			p := rev & (mainLen - 1)
			subBits[p] = max(subBits[p], l-uint8(mainBits))
		}
	}
	end := mainLen
	for p := range mainLen {
		if subBits[p] == 0 {
			continue
		}
		if end+1<<subBits[p] > len(table) {
			return false // never for these alphabets (see litTableLen)
		}
		table[p] = entSub | uint32(mainBits) | uint32(subBits[p])<<8 | uint32(end)<<16
		end += 1 << subBits[p]
	}
	for sym, l := range lens {
		if l == 0 {
			continue
		}
		rev := int(bits.Reverse16(uint16(next[l])) >> (16 - l))
		next[l]++
		e := entry(sym)
		if int(l) <= int(mainBits) {
			for i := rev; i < mainLen; i += 1 << l {
				table[i] = e | uint32(l)
			}
			continue
		}
		sub := table[rev&(mainLen-1)]
		off, width := int(sub>>16), int(sub>>8&31)
		step := l - uint8(mainBits)
		for i := rev >> mainBits; i < 1<<width; i += 1 << step {
			table[off+i] = e | uint32(step)
		}
	}
	return true
}

var (
	errMoreOutput = errors.New("more output than declared")
	errBackRef    = errors.New("a back-reference reaches before the segment")
	errCorrupt    = errors.New("corrupt deflate data")
)

// inflater is one segment's decoding state. Bits are read least
// significant first into b, which holds n valid bits; the bits above them
// are either zero or the input's next bits, so that refilling can OR whole
// words in. pos is the next byte of src not yet in b; past the end of src,
// refills add zero bytes and pos keeps counting them.
type inflater struct {
	src, dst []byte
	pos, out int
	b        uint64
	n        uint

	lit  [litTableLen]uint32
	dist [distTableLen]uint32
	lens [286 + 30]uint8
}

// refillWord brings b, holding n bits, to 56 to 63 bits with the eight
// bytes of src at pos, which must be there, and returns the new b, n and
// pos: the bytes it ORs in beyond those it counts are the input's next
// bits, which the next refill ORs in again. A function of values, so that
// huffman's copies of the state stay in registers when it is inlined.
func refillWord(src []byte, b uint64, n uint, pos int) (uint64, uint, int) {
	b |= binary.LittleEndian.Uint64(src[pos:]) << n
	return b, n | 56, pos + int(63-n)>>3
}

// refill brings b to at least 56 bits.
func (d *inflater) refill() {
	if d.pos+8 <= len(d.src) {
		d.b, d.n, d.pos = refillWord(d.src, d.b, d.n, d.pos)
		return
	}
	for d.n < 56 {
		if d.pos < len(d.src) {
			d.b |= uint64(d.src[d.pos]) << d.n
		}
		d.pos++
		d.n += 8
	}
}

// bitPos is the position in src, in bits, of the next unread bit.
func (d *inflater) bitPos() int { return 8*d.pos - int(d.n) }

// take returns the next k (at most 32) bits.
func (d *inflater) take(k uint) uint32 {
	if d.n < k {
		d.refill()
	}
	v := uint32(d.b & (1<<k - 1))
	d.b >>= k
	d.n -= k
	return v
}

func (d *inflater) run(last bool) error {
	end := 8 * len(d.src)
	for {
		hdr := d.take(3)
		if d.bitPos() > end {
			return io.ErrUnexpectedEOF
		}
		final := hdr&1 == 1
		var err error
		switch hdr >> 1 {
		case 0:
			err = d.stored()
		case 1:
			err = d.huffman(fixedLit, fixedDist)
		case 2:
			if err = d.readTables(); err == nil {
				err = d.huffman(&d.lit, &d.dist)
			}
		default:
			err = errCorrupt // reserved block type
		}
		if d.bitPos() > end {
			return io.ErrUnexpectedEOF // decoded the zeros past the end
		}
		if err != nil {
			return err
		}
		switch {
		case final && !last:
			return errors.New("does not end at a block boundary at its last byte: a final block")
		case final && (d.bitPos()+7)/8 != len(d.src):
			return errors.New("does not end with the final block in its last byte")
		case !final && d.bitPos() == end && last:
			return errors.New("does not end with the final block in its last byte")
		case !final && d.bitPos() < end:
			continue // another block; it must add nothing once dst is full
		case d.out < len(d.dst):
			return fmt.Errorf("%d bytes of output, %d declared", d.out, len(d.dst))
		}
		return nil
	}
}

// stored copies a stored block.
func (d *inflater) stored() error {
	// Drop the bits to the byte boundary and go back to reading bytes.
	d.take(d.n & 7)
	p := d.bitPos() / 8
	d.b, d.n, d.pos = 0, 0, p
	if p+4 > len(d.src) {
		return io.ErrUnexpectedEOF
	}
	l := int(binary.LittleEndian.Uint16(d.src[p:]))
	if nl := binary.LittleEndian.Uint16(d.src[p+2:]); uint16(l) != ^nl {
		return errCorrupt
	}
	p += 4
	switch {
	case l > len(d.src)-p:
		return io.ErrUnexpectedEOF
	case l > len(d.dst)-d.out:
		return errMoreOutput
	}
	d.out += copy(d.dst[d.out:], d.src[p:p+l])
	d.pos = p + l
	return nil
}

// readTables reads a dynamic block's code lengths and builds its tables.
func (d *inflater) readTables() error {
	nlit := int(d.take(5)) + 257
	ndist := int(d.take(5)) + 1
	nclen := int(d.take(4)) + 4
	if nlit > 286 || ndist > 30 {
		return errCorrupt
	}
	var clens [19]uint8
	for _, sym := range codeLengthOrder[:nclen] {
		clens[sym] = uint8(d.take(3))
	}
	// The code length code, looked up 7 bits at a time (its longest).
	var ctab [128]uint32
	if !buildTable(ctab[:], clens[:], 7, codeLengthEntry) {
		return errCorrupt
	}
	lens := d.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		if d.n < 14 {
			d.refill()
		}
		e := ctab[d.b&127]
		if e&entInvalid != 0 {
			return errCorrupt
		}
		d.b >>= e & 31
		d.n -= uint(e & 31)
		sym := e >> 16
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var v uint8
		switch sym {
		case 16:
			if i == 0 {
				return errCorrupt
			}
			rep, v = 3+int(d.take(2)), lens[i-1]
		case 17:
			rep = 3 + int(d.take(3))
		default:
			rep = 11 + int(d.take(7))
		}
		if i+rep > len(lens) {
			return errCorrupt
		}
		for range rep {
			lens[i] = v
			i++
		}
	}
	if lens[256] == 0 {
		return errCorrupt // no end of block: the block could never end
	}
	if !buildTable(d.lit[:], lens[:nlit], litBits, litEntry) || !buildTable(d.dist[:], lens[nlit:], distBits, distEntry) {
		return errCorrupt
	}
	return nil
}

// huffman decodes a block's symbols with the tables lt and dt until its
// end of block. It works on copies of the bit reader's state, which the
// compiler can keep in registers, and puts them back when it returns.
func (d *inflater) huffman(lt *[litTableLen]uint32, dt *[distTableLen]uint32) (err error) {
	src, dst := d.src, d.dst
	b, n, pos, out := d.b, d.n, d.pos, d.out
	for {
		// A length and its distance take at most 15+5+15+13 = 48 bits.
		if n < 48 {
			if pos+8 <= len(src) {
				b, n, pos = refillWord(src, b, n, pos)
			} else {
				d.b, d.n, d.pos = b, n, pos
				d.refill()
				b, n, pos = d.b, d.n, d.pos
			}
		}
		e := lt[b&(1<<litBits-1)]
		if e&entSub != 0 {
			b >>= litBits
			n -= litBits
			e = lt[(e>>16+uint32(b)&(1<<(e>>8&31)-1))&(litTableLen-1)]
		}
		b >>= e & 31
		n -= uint(e & 31)
		if e&entLiteral != 0 {
			if out >= len(dst) {
				err = errMoreOutput
				break
			}
			dst[out] = byte(e >> 16)
			out++
			continue
		}
		if e&(entEnd|entInvalid) != 0 {
			if e&entInvalid != 0 {
				err = errCorrupt
			}
			break
		}
		extra := e >> 8 & 31
		length := int(e>>16) + int(b&(1<<extra-1))
		b >>= extra
		n -= uint(extra)

		e = dt[b&(1<<distBits-1)]
		if e&entSub != 0 {
			b >>= distBits
			n -= distBits
			e = dt[(e>>16+uint32(b)&(1<<(e>>8&31)-1))&(distTableLen-1)]
		}
		if e&entInvalid != 0 {
			err = errCorrupt
			break
		}
		b >>= e & 31
		n -= uint(e & 31)
		extra = e >> 8 & 31
		dist := int(e>>16) + int(b&(1<<extra-1))
		b >>= extra
		n -= uint(extra)

		if dist > out {
			err = errBackRef
			break
		}
		if length > len(dst)-out {
			err = errMoreOutput
			break
		}
		from, end := out-dist, out+length
		if dist >= 8 && end+8 <= len(dst) {
			// Eight bytes at a time, each word read from bytes already
			// written; up to seven past end, which later output overwrites.
			for ; out < end; out, from = out+8, from+8 {
				binary.LittleEndian.PutUint64(dst[out:], binary.LittleEndian.Uint64(dst[from:]))
			}
			out = end
			continue
		}
		// Copying what is behind out, which grows as it goes: a distance
		// shorter than the length repeats its bytes, doubling each time.
		for out < end {
			out += copy(dst[out:end], dst[from:out])
		}
	}
	d.b, d.n, d.pos, d.out = b, n, pos, out
	return err
}
