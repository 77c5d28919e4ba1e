package testutil

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"testing"
)

// IncompressibleCSV returns a canonical CSV (CRLF) of random base64
// fields, about size bytes, which seals to about 3/4 of that (deflate
// saves only what base64 adds): what a pull writes of it is the CSV
// itself, and the sealed file is long enough to arrive in many ranges.
func IncompressibleCSV(size int) []byte {
	var b bytes.Buffer
	b.WriteString("id,token\r\n")
	field := make([]byte, 60)
	for i := 0; b.Len() < size; i++ {
		rand.Read(field)
		fmt.Fprintf(&b, "%d,%s\r\n", i, base64.StdEncoding.EncodeToString(field))
	}
	return b.Bytes()
}

// ZipCentralDirectory returns the offset of a zip's central directory, as
// its end records give it (zip64 included).
func ZipCentralDirectory(t testing.TB, z []byte) int {
	t.Helper()
	end := bytes.LastIndex(z, []byte("PK\x05\x06"))
	if end < 0 || len(z) < end+22 {
		t.Fatal("no end of central directory record")
	}
	if off := binary.LittleEndian.Uint32(z[end+16:]); off != 0xFFFFFFFF {
		return int(off)
	}
	end64 := bytes.LastIndex(z[:end], []byte("PK\x06\x06"))
	if end64 < 0 || len(z) < end64+56 {
		t.Fatal("no zip64 end of central directory record")
	}
	return int(binary.LittleEndian.Uint64(z[end64+48:]))
}

// AgePayload returns the offset at which an age file's payload starts:
// after the header's MAC line. Damage before it (in a recipient stanza)
// reads as a wrong key, not as a damaged file.
func AgePayload(t testing.TB, sealed []byte) int {
	t.Helper()
	mac := bytes.Index(sealed, []byte("\n--- "))
	if mac < 0 {
		t.Fatal("no age header MAC line")
	}
	eol := bytes.IndexByte(sealed[mac+1:], '\n')
	if eol < 0 {
		t.Fatal("age header MAC line without its end")
	}
	return mac + 1 + eol + 1
}

// Flip returns a copy of b with one bit of the byte at off inverted.
func Flip(b []byte, off int) []byte {
	b = bytes.Clone(b)
	b[off] ^= 0x20
	return b
}
