package zipenc

import (
	"bufio"
	"cmp"
	"crypto/hmac"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"
	"unicode/utf8"
)

// copyBufSize is the size of the fixed buffers Verify and Extract use.
const copyBufSize = 64 << 10

// A Reader reads a WinZip AES zip archive through an io.ReaderAt.
type Reader struct {
	files []*File
}

// A File is one entry of an archive. Its exported fields are as declared
// by the central directory; Extract checks Size against the actual content.
type File struct {
	Name     string
	Modified time.Time
	// Size is the declared uncompressed size.
	Size uint64
	// CompressedSize is the size of the entry's stored data: salt, password
	// verifier, ciphertext and MAC.
	CompressedSize uint64
	// Method is the compression method inside the encryption: 0 (stored)
	// or 8 (deflate).
	Method uint16
	// AESVersion is 1 (AE-1, CRC-32 stored and checked) or 2 (AE-2), 0 for
	// an entry that is not WinZip AES encrypted.
	AESVersion int
	// KeyBits is the AES key length, 128, 192 or 256; 0 if not AES.
	KeyBits int
	// CRC32 is the declared CRC-32 (zero for AE-2).
	CRC32 uint32

	r            io.ReaderAt
	flags        uint16
	rawMethod    uint16
	hasAES       bool
	aesVendorID  uint16
	strength     uint8
	headerOffset int64
	dataOffset   int64
	unsupported  error     // why Verify and Extract refuse the entry
	segments     []segment // from the segment table, or wholeSegment; nil: inflate serially
}

// Files returns the archive's entries in central directory order.
func (r *Reader) Files() []*File { return slices.Clone(r.files) }

// readFullAt reads exactly len(buf) bytes at off. Running out of input is an
// integrity error (a truncated archive); other read errors pass through.
func readFullAt(r io.ReaderAt, buf []byte, off int64) error {
	n, err := r.ReadAt(buf, off)
	if n == len(buf) {
		return nil
	}
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return integrityf("archive truncated: %d bytes missing at offset %d", len(buf)-n, off+int64(n))
	}
	return err
}

// NewReader reads and checks the central directory of the archive of the
// given size in src, and every entry's local header against it. Names,
// ranges and extra fields are validated here; passwords, MACs and content
// are checked by File.Verify and File.Extract. All errors about the archive
// itself match ErrIntegrity.
func NewReader(src io.ReaderAt, size int64) (*Reader, error) {
	if size < endLen {
		return nil, integrityf("not a zip archive: %d bytes", size)
	}
	// The end record is in the last 22+65535 bytes; a fixed bound.
	tail := make([]byte, min(size, endLen+maxCommentLen))
	tailOffset := size - int64(len(tail))
	if err := readFullAt(src, tail, tailOffset); err != nil {
		return nil, err
	}
	p := -1
	for i := len(tail) - endLen; i >= 0; i-- {
		if le.Uint32(tail[i:]) == sigEnd && i+endLen+int(le.Uint16(tail[i+20:])) <= len(tail) {
			p = i
			break
		}
	}
	if p < 0 {
		return nil, integrityf("no end of central directory record: not a zip archive or truncated")
	}
	end := tail[p : p+endLen]
	endOffset := tailOffset + int64(p)
	if le.Uint16(end[4:]) != 0 || le.Uint16(end[6:]) != 0 || le.Uint16(end[8:]) != le.Uint16(end[10:]) {
		return nil, unsupportedf("multi-disk archive")
	}
	records := uint64(le.Uint16(end[10:]))
	dirSize := uint64(le.Uint32(end[12:]))
	dirOffset := uint64(le.Uint32(end[16:]))
	dirEnd := uint64(endOffset)

	if endOffset >= end64LocatorLen {
		var loc [end64LocatorLen]byte
		if err := readFullAt(src, loc[:], endOffset-end64LocatorLen); err != nil {
			return nil, err
		}
		if le.Uint32(loc[:]) == sigEnd64Locator {
			if le.Uint32(loc[4:]) != 0 || le.Uint32(loc[16:]) > 1 {
				return nil, unsupportedf("multi-disk archive")
			}
			off := le.Uint64(loc[8:])
			if off > uint64(endOffset-end64LocatorLen) || uint64(endOffset-end64LocatorLen)-off < end64Len {
				return nil, integrityf("ZIP64 end record offset %d out of range", off)
			}
			var e64 [end64Len]byte
			if err := readFullAt(src, e64[:], int64(off)); err != nil {
				return nil, err
			}
			if le.Uint32(e64[:]) != sigEnd64 || le.Uint64(e64[4:]) < end64Len-12 {
				return nil, integrityf("bad ZIP64 end of central directory record")
			}
			if le.Uint32(e64[16:]) != 0 || le.Uint32(e64[20:]) != 0 || le.Uint64(e64[24:]) != le.Uint64(e64[32:]) {
				return nil, unsupportedf("multi-disk archive")
			}
			records = le.Uint64(e64[32:])
			dirSize = le.Uint64(e64[40:])
			dirOffset = le.Uint64(e64[48:])
			dirEnd = off
		}
	}
	if dirOffset > dirEnd || dirSize != dirEnd-dirOffset {
		return nil, integrityf("central directory (offset %d, size %d) does not end at the end record (offset %d)", dirOffset, dirSize, dirEnd)
	}
	if records > dirSize/centralHeaderLen {
		return nil, integrityf("%d entries cannot fit a %d-byte central directory", records, dirSize)
	}

	var (
		r       = new(Reader)
		scratch = make([]byte, max16) // names and extra fields, never longer
		dir     = bufio.NewReaderSize(io.NewSectionReader(src, int64(dirOffset), int64(dirSize)), 64<<10)
		names   = make(map[string]bool)
	)
	for range records {
		f, err := readCentral(dir, scratch)
		if err != nil {
			return nil, err
		}
		if names[f.Name] {
			return nil, integrityf("duplicate entry %q", f.Name)
		}
		names[f.Name] = true
		f.r = src
		if err := f.checkLocal(scratch, int64(dirOffset)); err != nil {
			return nil, err
		}
		r.files = append(r.files, f)
	}
	if _, err := dir.ReadByte(); err != io.EOF {
		if err == nil {
			return nil, integrityf("central directory holds more than %d entries", records)
		}
		return nil, err
	}

	// Entries must not overlap: a classic zip bomb shares data between them.
	byOffset := slices.Clone(r.files)
	slices.SortFunc(byOffset, func(a, b *File) int { return cmp.Compare(a.headerOffset, b.headerOffset) })
	for i := 1; i < len(byOffset); i++ {
		prev, f := byOffset[i-1], byOffset[i]
		if prev.dataOffset+int64(prev.CompressedSize) > f.headerOffset {
			return nil, integrityf("entries %q and %q overlap", prev.Name, f.Name)
		}
	}
	return r, nil
}

// readCentral reads one central directory header.
func readCentral(dir *bufio.Reader, scratch []byte) (*File, error) {
	var h [centralHeaderLen]byte
	if _, err := io.ReadFull(dir, h[:]); err != nil {
		return nil, dirReadErr(err)
	}
	if le.Uint32(h[:]) != sigCentral {
		return nil, integrityf("bad central directory header signature")
	}
	f := &File{
		flags:     le.Uint16(h[8:]),
		rawMethod: le.Uint16(h[10:]),
		CRC32:     le.Uint32(h[16:]),
	}
	dosTime, dosDate := le.Uint16(h[12:]), le.Uint16(h[14:])
	csize := uint64(le.Uint32(h[20:]))
	usize := uint64(le.Uint32(h[24:]))
	nameLen, extraLen, commentLen := int(le.Uint16(h[28:])), int(le.Uint16(h[30:])), int(le.Uint16(h[32:]))
	disk := le.Uint16(h[34:])
	offset := uint64(le.Uint32(h[42:]))

	name := scratch[:nameLen]
	if _, err := io.ReadFull(dir, name); err != nil {
		return nil, dirReadErr(err)
	}
	if f.flags&flagUTF8 != 0 && !utf8.Valid(name) {
		return nil, integrityf("entry name %q is not valid UTF-8", name)
	}
	f.Name = string(name)
	if err := checkName(f.Name); err != nil {
		return nil, integrityf("unsafe entry name: %v", err)
	}

	extra := scratch[:extraLen]
	if _, err := io.ReadFull(dir, extra); err != nil {
		return nil, dirReadErr(err)
	}
	var (
		seen64, seenAES bool
		from64          [3]bool // usize, csize, offset came from the ZIP64 field
		segTable        []byte
		extTime         *time.Time
		ntfsTime        *time.Time
	)
	err := forEachExtra(extra, func(id uint16, data []byte) error {
		switch id {
		case extraZip64:
			if seen64 {
				return integrityf("%q: two ZIP64 extra fields", f.Name)
			}
			seen64 = true
			// Only the fields whose 32-bit value is saturated are present,
			// in this order. Any 64-bit value is valid, 0xFFFFFFFF too.
			for i, v := range []*uint64{&usize, &csize, &offset} {
				if *v != max32 {
					continue
				}
				if len(data) < 8 {
					return integrityf("%q: ZIP64 extra field too short", f.Name)
				}
				*v = le.Uint64(data)
				data = data[8:]
				from64[i] = true
			}
			if disk == max16 {
				if len(data) < 4 {
					return integrityf("%q: ZIP64 extra field too short", f.Name)
				}
				disk = uint16(min(le.Uint32(data), max16-1))
			}
		case extraAES:
			if seenAES {
				return integrityf("%q: two AES extra fields", f.Name)
			}
			seenAES = true
			if err := f.parseAESExtra(data); err != nil {
				return err
			}
		case extraExtTime:
			if len(data) >= 5 && data[0]&1 != 0 {
				t := time.Unix(int64(le.Uint32(data[1:])), 0)
				extTime = &t
			}
		case extraNTFS:
			if t, ok := parseNTFS(data); ok {
				ntfsTime = &t
			}
		case extraSegments:
			if segTable != nil {
				return integrityf("%q: two segment tables", f.Name)
			}
			segTable = append([]byte{}, data...) // data is scratch
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if _, err := dir.Discard(commentLen); err != nil {
		return nil, dirReadErr(err)
	}

	if usize == max32 && !from64[0] || csize == max32 && !from64[1] || offset == max32 && !from64[2] {
		return nil, integrityf("%q: ZIP64 sizes or offset missing", f.Name)
	}
	if disk != 0 {
		return nil, unsupportedf("%q: multi-disk archive", f.Name)
	}
	if usize > math.MaxInt64 || csize > math.MaxInt64 || offset > math.MaxInt64 {
		return nil, integrityf("%q: size or offset out of range", f.Name)
	}
	f.Size, f.CompressedSize, f.headerOffset = usize, csize, int64(offset)
	switch {
	case extTime != nil:
		f.Modified = *extTime
	case ntfsTime != nil:
		f.Modified = *ntfsTime
	default:
		f.Modified = dosToTime(dosDate, dosTime)
	}

	switch {
	case f.rawMethod == methodAES && !f.hasAES:
		return nil, integrityf("%q: AES method without AES extra field", f.Name)
	case f.flags&flagEncrypted == 0:
		f.unsupported = unsupportedf("%q is not encrypted", f.Name)
	case f.flags&flagStrongEncrypt != 0:
		f.unsupported = unsupportedf("%q uses PKWARE strong encryption", f.Name)
	case f.rawMethod != methodAES:
		f.unsupported = unsupportedf("%q is encrypted with ZipCrypto (traditional PKWARE encryption), not WinZip AES: xfer reads only AES", f.Name)
	case f.aesVendorID != 'A'|'E'<<8:
		f.unsupported = unsupportedf("%q: unknown AES vendor 0x%04x", f.Name, f.aesVendorID)
	case f.AESVersion != vendorVersion1 && f.AESVersion != vendorVersion2:
		f.unsupported = unsupportedf("%q: unknown AES vendor version %d", f.Name, f.AESVersion)
	case f.KeyBits == 0:
		f.unsupported = unsupportedf("%q: unknown AES strength %d", f.Name, f.strength)
	case f.Method != methodStore && f.Method != methodDeflate:
		f.unsupported = unsupportedf("%q is compressed with %s: xfer reads only stored and deflated entries", f.Name, methodName(f.Method))
	}
	if f.unsupported == nil {
		overhead := uint64(f.KeyBits/16 + verifierLen + macLen)
		if f.CompressedSize < overhead {
			return nil, integrityf("%q: %d bytes of data cannot hold salt, verifier and MAC", f.Name, f.CompressedSize)
		}
		if f.Method == methodStore && f.CompressedSize-overhead != f.Size {
			return nil, integrityf("%q: stored entry of %d bytes has %d bytes of data", f.Name, f.Size, f.CompressedSize-overhead)
		}
		if segTable != nil {
			if f.Method != methodDeflate {
				return nil, integrityf("%q: segment table on an entry that is not deflated", f.Name)
			}
			if f.segments, err = parseSegments(segTable, f.CompressedSize-overhead, f.Size); err != nil {
				return nil, integrityf("%q: %v", f.Name, err)
			}
		} else if f.Method == methodDeflate {
			f.segments = wholeSegment(f.CompressedSize-overhead, f.Size)
		}
	}
	return f, nil
}

// methodName names a zip compression method (APPNOTE 4.4.5).
func methodName(m uint16) string {
	names := map[uint16]string{
		1: "Shrink", 6: "Implode", 9: "Deflate64", 12: "BZip2", 14: "LZMA",
		93: "Zstandard", 95: "XZ", 96: "JPEG", 97: "WavPack", 98: "PPMd",
	}
	if n, ok := names[m]; ok {
		return fmt.Sprintf("%s (method %d)", n, m)
	}
	return fmt.Sprintf("compression method %d", m)
}

func dirReadErr(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return integrityf("central directory truncated")
	}
	return err
}

// parseAESExtra reads the 0x9901 field: vendor version, "AE", strength,
// actual compression method.
func (f *File) parseAESExtra(data []byte) error {
	if len(data) != aesExtraLen {
		return integrityf("%q: AES extra field of %d bytes", f.Name, len(data))
	}
	f.hasAES = true
	f.AESVersion = int(le.Uint16(data))
	f.aesVendorID = le.Uint16(data[2:])
	f.strength = data[4]
	f.KeyBits = 8 * keyLenForStrength(f.strength)
	f.Method = le.Uint16(data[5:])
	return nil
}

// parseNTFS reads the modification time from an NTFS extra field (0x000a).
func parseNTFS(data []byte) (time.Time, bool) {
	if len(data) < 4 {
		return time.Time{}, false
	}
	data = data[4:] // reserved
	for len(data) >= 4 {
		tag, size := le.Uint16(data), int(le.Uint16(data[2:]))
		data = data[4:]
		if size > len(data) {
			return time.Time{}, false
		}
		if tag == 1 && size >= 24 {
			const ticksPerSecond = 1e7
			const epochDelta = 11644473600 // 1601-01-01 to 1970-01-01 in seconds
			ticks := le.Uint64(data)
			return time.Unix(int64(ticks/ticksPerSecond)-epochDelta, int64(ticks%ticksPerSecond)*100), true
		}
		data = data[size:]
	}
	return time.Time{}, false
}

// checkLocal reads the entry's local header, checks that it agrees with the
// central directory and that the data lies before the directory, and sets
// f.dataOffset.
func (f *File) checkLocal(scratch []byte, dirOffset int64) error {
	if f.headerOffset > dirOffset-localHeaderLen {
		return integrityf("%q: local header offset %d outside the archive's data", f.Name, f.headerOffset)
	}
	var h [localHeaderLen]byte
	if err := readFullAt(f.r, h[:], f.headerOffset); err != nil {
		return err
	}
	if le.Uint32(h[:]) != sigLocal {
		return integrityf("%q: bad local header signature", f.Name)
	}
	flags, method := le.Uint16(h[6:]), le.Uint16(h[8:])
	nameLen, extraLen := int64(le.Uint16(h[26:])), int64(le.Uint16(h[28:]))
	if method != f.rawMethod {
		return integrityf("%q: local header method %d, central directory %d", f.Name, method, f.rawMethod)
	}
	if flags&flagEncrypted != f.flags&flagEncrypted {
		return integrityf("%q: local header and central directory disagree on encryption", f.Name)
	}
	f.dataOffset = f.headerOffset + localHeaderLen + nameLen + extraLen
	if f.dataOffset > dirOffset || int64(f.CompressedSize) > dirOffset-f.dataOffset {
		return integrityf("%q: data (offset %d, %d bytes) runs into the central directory at %d", f.Name, f.dataOffset, f.CompressedSize, dirOffset)
	}
	name := scratch[:nameLen]
	if err := readFullAt(f.r, name, f.headerOffset+localHeaderLen); err != nil {
		return err
	}
	if string(name) != f.Name {
		return integrityf("local header name %q differs from central directory name %q", name, f.Name)
	}
	if f.rawMethod != methodAES {
		return nil
	}
	extra := scratch[:extraLen]
	if err := readFullAt(f.r, extra, f.headerOffset+localHeaderLen+nameLen); err != nil {
		return err
	}
	var local File
	err := forEachExtra(extra, func(id uint16, data []byte) error {
		if id != extraAES {
			return nil
		}
		if local.hasAES {
			return integrityf("%q: two AES extra fields in local header", f.Name)
		}
		local.Name = f.Name
		return local.parseAESExtra(data)
	})
	if err != nil {
		return err
	}
	if !local.hasAES || local.AESVersion != f.AESVersion || local.aesVendorID != f.aesVendorID ||
		local.strength != f.strength || local.Method != f.Method {
		return integrityf("%q: local and central AES extra fields differ", f.Name)
	}
	return nil
}

// saltLen is the salt length for the entry's key length.
func (f *File) saltLen() int { return f.KeyBits / 16 }

// ciphertext returns the offset and length of the encrypted content.
func (f *File) ciphertext() (off, n int64) {
	s := int64(f.saltLen() + verifierLen)
	return f.dataOffset + s, int64(f.CompressedSize) - s - macLen
}

// keys checks the password against the entry's verifier and derives the
// keys.
func (f *File) keys(password []byte) (entryKeys, error) {
	if f.unsupported != nil {
		return entryKeys{}, f.unsupported
	}
	var hdr [16 + verifierLen]byte
	s := f.saltLen()
	if err := readFullAt(f.r, hdr[:s+verifierLen], f.dataOffset); err != nil {
		return entryKeys{}, err
	}
	k, err := deriveKeys(password, hdr[:s], f.KeyBits/8)
	if err != nil {
		return entryKeys{}, err
	}
	if subtle.ConstantTimeCompare(k.verifier[:], hdr[s:s+verifierLen]) != 1 {
		return entryKeys{}, ErrPassword
	}
	return k, nil
}

// storedMAC reads the entry's 10-byte MAC.
func (f *File) storedMAC() ([macLen]byte, error) {
	var m [macLen]byte
	off, n := f.ciphertext()
	err := readFullAt(f.r, m[:], off+n)
	return m, err
}

// Verify checks the password and the HMAC over the entry's whole
// ciphertext, reading it once without decrypting. It returns an error
// matching ErrPassword or ErrIntegrity (or ErrUnsupported) on failure.
func (f *File) Verify(password []byte) error {
	k, err := f.keys(password)
	if err != nil {
		return err
	}
	return f.verifyMAC(k, make([]byte, copyBufSize))
}

func (f *File) verifyMAC(k entryKeys, buf []byte) error {
	c, err := newEntryCipher(k)
	if err != nil {
		return err
	}
	off, n := f.ciphertext()
	got, err := io.CopyBuffer(writerOnly{c.mac}, io.NewSectionReader(f.r, off, n), buf)
	if err != nil {
		return err
	}
	if got != n {
		return integrityf("%q: archive truncated", f.Name)
	}
	want, err := f.storedMAC()
	if err != nil {
		return err
	}
	if sum := c.sum(); !hmac.Equal(sum[:], want[:]) {
		return integrityf("%q: HMAC mismatch: archive damaged or tampered with", f.Name)
	}
	return nil
}

// writerOnly hides any ReaderFrom so that io.CopyBuffer uses our buffer.
type writerOnly struct{ io.Writer }
