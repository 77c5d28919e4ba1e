package zipenc

import "encoding/binary"

// Zip record signatures, lengths and field values (APPNOTE.TXT 6.3.10).
const (
	sigLocal          = 0x04034b50
	sigCentral        = 0x02014b50
	sigDescriptor     = 0x08074b50
	sigEnd            = 0x06054b50
	sigEnd64          = 0x06064b50
	sigEnd64Locator   = 0x07064b50
	localHeaderLen    = 30
	centralHeaderLen  = 46
	endLen            = 22
	end64Len          = 56
	end64LocatorLen   = 20
	maxCommentLen     = 0xffff
	extraZip64        = 0x0001
	extraNTFS         = 0x000a
	extraExtTime      = 0x5455
	flagEncrypted     = 1 << 0
	flagStrongEncrypt = 1 << 6
	flagDescriptor    = 1 << 3
	flagUTF8          = 1 << 11
	methodStore       = 0
	methodDeflate     = 8
	versionAES        = 51        // "5.1: AES encryption" in APPNOTE 4.4.3
	versionMadeBy     = 3<<8 | 63 // Unix, APPNOTE 6.3
	unixRegularFile   = 0o100600  // recipients get an owner-only file
	max16             = 0xffff
	max32             = 0xffffffff // a 32-bit field with this value defers to ZIP64
)

var le = binary.LittleEndian

// appendExtraHeader appends the id and size of one extra field.
func appendExtraHeader(b []byte, id, size uint16) []byte {
	b = le.AppendUint16(b, id)
	return le.AppendUint16(b, size)
}

// appendAESExtra appends the 0x9901 field for AE-2, AES-256.
func appendAESExtra(b []byte, method uint16) []byte {
	b = appendExtraHeader(b, extraAES, aesExtraLen)
	b = le.AppendUint16(b, vendorVersion2)
	b = append(b, 'A', 'E', strength256)
	return le.AppendUint16(b, method)
}

// appendExtTime appends an Info-ZIP extended timestamp (0x5455) carrying
// only the modification time, the same form in local and central headers.
func appendExtTime(b []byte, unix int64) []byte {
	b = appendExtraHeader(b, extraExtTime, 5)
	b = append(b, 1) // flags: mtime present
	return le.AppendUint32(b, uint32(unix))
}

// forEachExtra calls fn for each extra field, after checking that every
// field lies inside the block.
func forEachExtra(extra []byte, fn func(id uint16, data []byte) error) error {
	for len(extra) > 0 {
		if len(extra) < 4 {
			return integrityf("truncated extra field header")
		}
		id, size := le.Uint16(extra), int(le.Uint16(extra[2:]))
		if size > len(extra)-4 {
			return integrityf("extra field 0x%04x runs past the end of its block", id)
		}
		if err := fn(id, extra[4:4+size]); err != nil {
			return err
		}
		extra = extra[4+size:]
	}
	return nil
}
