package zipenc

import (
	"archive/zip"
	"bytes"
	"errors"
	"hash/crc32"
	"io"
	"math"
	"strings"
	"testing"
	"testing/cryptotest"
	"time"

	yeka "github.com/yeka/zip"
)

// countingWriter records how much was written to it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// layout returns the parsed single entry of archive and the offset of its
// central directory header.
func layout(t *testing.T, archive []byte) (*File, int) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	central := bytes.LastIndex(archive, []byte("PK\x01\x02"))
	return r.Files()[0], central
}

// open runs NewReader, Verify and Extract on archive, checks that nothing
// reached dst when any of them failed before the content, and returns the
// first error.
func open(t *testing.T, archive, password []byte) (written int64, err error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		return 0, err
	}
	f := r.Files()[0]
	verr := f.Verify(password)
	var dst countingWriter
	n, err := f.Extract(&dst, password)
	if n != dst.n {
		t.Errorf("Extract returned %d, wrote %d", n, dst.n)
	}
	if (verr == nil) != (err == nil) && verr != nil {
		t.Errorf("Verify: %v, but Extract: %v", verr, err)
	}
	if verr != nil && dst.n != 0 {
		t.Errorf("Verify failed (%v) but Extract wrote %d bytes", verr, dst.n)
	}
	checkOnce(t, f, password, err)
	return dst.n, err
}

// checkOnce runs ExtractOnce on f and checks that it ends as Extract did
// (err): the same class of failure, or the same bytes. What it writes
// before a failure is unauthenticated and not looked at.
func checkOnce(t *testing.T, f *File, password []byte, err error) {
	t.Helper()
	var want, got bytes.Buffer
	if err == nil {
		if _, err := f.Extract(&want, password); err != nil {
			t.Fatalf("Extract again: %v", err)
		}
	}
	n, oerr := f.ExtractOnce(&got, password)
	if n != int64(got.Len()) {
		t.Errorf("ExtractOnce returned %d, wrote %d", n, got.Len())
	}
	for _, class := range []error{ErrIntegrity, ErrPassword, ErrUnsupported} {
		if errors.Is(err, class) != errors.Is(oerr, class) {
			t.Errorf("Extract: %v, but ExtractOnce: %v", err, oerr)
		}
	}
	if (err == nil) != (oerr == nil) {
		t.Errorf("Extract: %v, but ExtractOnce: %v", err, oerr)
	}
	if err == nil && !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("ExtractOnce wrote %d bytes that differ from Extract's %d", got.Len(), want.Len())
	}
}

func TestTampering(t *testing.T) {
	cryptotest.SetGlobalRandom(t, 1) // fixed salt: no 1-in-65536 verifier collisions
	data := addrData(t, 2*blockSize+5)
	archive := build(t, Options{}, entry{"a.csv", time.Unix(1e9, 0), data})
	f, central := layout(t, archive)
	ctOff, ctLen := f.ciphertext()
	macOff := int(ctOff + ctLen)

	flip := func(off int) func([]byte) []byte {
		return func(a []byte) []byte { a[off] ^= 0x40; return a }
	}
	tests := []struct {
		name   string
		mutate func([]byte) []byte
		pw     []byte
		want   error
	}{
		{"first ciphertext byte", flip(int(ctOff)), nil, ErrIntegrity},
		{"middle ciphertext byte", flip(int(ctOff + ctLen/2)), nil, ErrIntegrity},
		{"last ciphertext byte", flip(macOff - 1), nil, ErrIntegrity},
		{"first MAC byte", flip(macOff), nil, ErrIntegrity},
		{"last MAC byte", flip(macOff + macLen - 1), nil, ErrIntegrity},
		{"verifier", flip(int(ctOff) - 1), nil, ErrPassword},
		{"wrong password", nil, []byte("Correct-Horse-43"), ErrPassword},
		{"empty password", nil, []byte{}, ErrPassword},
		{"local name", func(a []byte) []byte { a[localHeaderLen] = 'b'; return a }, nil, ErrIntegrity},
		{"local method", func(a []byte) []byte { a[8] = 8; return a }, nil, ErrIntegrity},
		{"local AES strength", func(a []byte) []byte {
			i := bytes.Index(a, []byte("AE\x03"))
			a[i+2] = 1
			return a
		}, nil, ErrIntegrity},
		{"central AES extra missing", func(a []byte) []byte {
			i := bytes.LastIndex(a, []byte{0x01, 0x99, 0x07, 0x00})
			a[i] = 0x02
			return a
		}, nil, ErrIntegrity},
		{"central AES extra short", func(a []byte) []byte {
			i := bytes.LastIndex(a, []byte{0x01, 0x99, 0x07, 0x00})
			a[i+2] = 6
			return a
		}, nil, ErrIntegrity},
		{"extra field overrun", func(a []byte) []byte {
			i := bytes.LastIndex(a, []byte{0x55, 0x54, 0x05, 0x00})
			a[i+2] = 0xff
			return a
		}, nil, ErrIntegrity},
		{"central method", func(a []byte) []byte { a[central+10] = 0; return a }, nil, ErrIntegrity},
		{"header offset", func(a []byte) []byte { a[central+42] = 1; return a }, nil, ErrIntegrity},
		{"compressed size too large", func(a []byte) []byte { a[central+22]++; return a }, nil, ErrIntegrity},
		{"entry count", func(a []byte) []byte { a[len(a)-14]++; a[len(a)-12]++; return a }, nil, ErrIntegrity},
		{"directory offset", func(a []byte) []byte { a[len(a)-6]--; return a }, nil, ErrIntegrity},
		{"directory size", func(a []byte) []byte { a[len(a)-10]++; return a }, nil, ErrIntegrity},
		{"end signature", func(a []byte) []byte { a[len(a)-22] = 'X'; return a }, nil, ErrIntegrity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := bytes.Clone(archive)
			if tt.mutate != nil {
				a = tt.mutate(a)
			}
			pw := tt.pw
			if pw == nil {
				pw = testPassword
			}
			n, err := open(t, a, pw)
			t.Log(err)
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if n != 0 {
				t.Errorf("%d bytes reached dst", n)
			}
			if tt.want == ErrPassword && errors.Is(err, ErrIntegrity) {
				t.Errorf("wrong password reported as integrity error: %v", err)
			}
		})
	}
}

func TestTruncated(t *testing.T) {
	data := addrData(t, blockSize+5)
	archive := build(t, Options{}, entry{"a.csv", time.Now(), data})
	f, _ := layout(t, archive)
	for _, cut := range []int{0, 1, 21, 22, 100, int(f.dataOffset) + 20, len(archive) / 2, len(archive) - 100, len(archive) - 23, len(archive) - 22, len(archive) - 1} {
		a := archive[:cut]
		n, err := open(t, a, testPassword)
		t.Logf("cut at %d: %v", cut, err)
		if !errors.Is(err, ErrIntegrity) {
			t.Errorf("cut at %d: got %v, want ErrIntegrity", cut, err)
		}
		if n != 0 {
			t.Errorf("cut at %d: %d bytes reached dst", cut, n)
		}
	}
	// A source shorter than the size it claims.
	r, err := NewReader(bytes.NewReader(archive), int64(len(archive))+1000)
	if !errors.Is(err, ErrIntegrity) {
		t.Errorf("short source: NewReader = %v, want ErrIntegrity", err)
	}
	_ = r
}

// TestSizeMismatch covers a central directory that lies about the content
// size: the HMAC does not cover it, so Extract must enforce it.
func TestSizeMismatch(t *testing.T) {
	data := addrData(t, 3*blockSize)
	archive := build(t, Options{}, entry{"a.csv", time.Now(), data})
	_, central := layout(t, archive)
	for _, size := range []uint32{0, 1, 1000, uint32(len(data)) - 1, uint32(len(data)) + 1, 1 << 31} {
		a := bytes.Clone(archive)
		le.PutUint32(a[central+24:], size)
		n, err := open(t, a, testPassword)
		t.Logf("declared %d: %v", size, err)
		if !errors.Is(err, ErrIntegrity) {
			t.Errorf("declared %d: got %v, want ErrIntegrity", size, err)
		}
		if n > int64(size) {
			t.Errorf("declared %d: %d bytes reached dst", size, n)
		}
	}
}

func TestHugeDeclaredSize(t *testing.T) {
	archive := build(t, Options{}, entry{"a.csv", time.Now(), addrData(t, 5000)})
	f, _ := layout(t, archive)
	f.Size = math.MaxInt64 // as a ZIP64 extra field could declare
	n, err := f.Extract(io.Discard, testPassword)
	if !errors.Is(err, ErrIntegrity) || n != 5000 {
		t.Fatalf("got %d bytes, %v; want 5000 and ErrIntegrity", n, err)
	}
}

// TestAE1 turns one of our archives into AE-1 (vendor version 1 plus the
// real CRC-32, outside what the HMAC covers) and checks that the CRC is
// verified.
func TestAE1(t *testing.T) {
	data := addrData(t, blockSize+77)
	archive := build(t, Options{}, entry{"a.csv", time.Now(), data})
	_, central := layout(t, archive)
	ae1 := bytes.ReplaceAll(archive, []byte{0x01, 0x99, 0x07, 0x00, 0x02, 0x00, 'A', 'E'}, []byte{0x01, 0x99, 0x07, 0x00, 0x01, 0x00, 'A', 'E'})
	le.PutUint32(ae1[central+16:], crc32.ChecksumIEEE(data))
	f, _ := layout(t, ae1)
	if f.AESVersion != 1 {
		t.Fatalf("AE-%d, want AE-1", f.AESVersion)
	}
	var out bytes.Buffer
	if _, err := f.Extract(&out, testPassword); err != nil || !bytes.Equal(out.Bytes(), data) {
		t.Fatalf("AE-1 extract: %v", err)
	}
	ae1[central+16]++
	f, _ = layout(t, ae1)
	if _, err := f.Extract(io.Discard, testPassword); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("AE-1 with a wrong CRC: got %v, want ErrIntegrity", err)
	}
}

func TestUnsupported(t *testing.T) {
	var plain bytes.Buffer
	zw := zip.NewWriter(&plain)
	w, _ := zw.Create("plain.csv")
	w.Write([]byte("a,b\r\n"))
	zw.Close()

	var zipCrypto bytes.Buffer
	yw := yeka.NewWriter(&zipCrypto)
	w, err := yw.Encrypt("legacy.csv", string(testPassword), yeka.StandardEncryption)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("a,b\r\n"))
	yw.Close()

	// An AES entry whose content is compressed with BZip2 (as 7-Zip can
	// write with -mm=BZip2): the AES extra field's method in both headers.
	bzip2 := bytes.ReplaceAll(build(t, Options{}, entry{"bz.csv", time.Now(), []byte("a,b\r\n")}), []byte("AE\x03\x08\x00"), []byte("AE\x03\x0c\x00"))

	for _, tt := range []struct {
		name    string
		archive []byte
		says    string
	}{
		{"unencrypted", plain.Bytes(), "not encrypted"},
		{"ZipCrypto", zipCrypto.Bytes(), "ZipCrypto"},
		{"BZip2", bzip2, "BZip2"},
	} {
		n, err := open(t, tt.archive, testPassword)
		t.Logf("%s: %v", tt.name, err)
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), tt.says) {
			t.Errorf("%s: got %v, want ErrUnsupported saying %q", tt.name, err, tt.says)
		}
		// Not a damaged archive: a method xfer does not read.
		if errors.Is(err, ErrIntegrity) || strings.Contains(err.Error(), "integrity") {
			t.Errorf("%s: %v reads as an integrity failure", tt.name, err)
		}
		if n != 0 {
			t.Errorf("%s: %d bytes reached dst", tt.name, n)
		}
	}
}

// TestZipBomb declares a small size for a large, highly compressible entry:
// inflation must stop right after the declared size.
func TestZipBomb(t *testing.T) {
	big := make([]byte, 64<<20)
	// With a segment table, the declared size must agree with the table.
	archive := build(t, Options{Level: 1}, entry{"bomb.csv", time.Now(), big})
	_, central := layout(t, archive)
	le.PutUint32(archive[central+24:], 10)
	if _, err := NewReader(bytes.NewReader(archive), int64(len(archive))); !errors.Is(err, ErrIntegrity) {
		t.Fatalf("declared size below the segment table's: got %v, want ErrIntegrity", err)
	}
	// Without one, as another tool writes it, inflate stops.
	defer setSegmentBlocks(1 << 30)()
	archive = build(t, Options{Level: 1}, entry{"bomb.csv", time.Now(), big})
	_, central = layout(t, archive)
	le.PutUint32(archive[central+24:], 10)
	r, err := NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	var dst countingWriter
	_, err = r.Files()[0].Extract(&dst, testPassword)
	if !errors.Is(err, ErrIntegrity) || dst.n > 10 {
		t.Fatalf("got %v after %d bytes, want ErrIntegrity after at most 10", err, dst.n)
	}
}

func TestDuplicateAndOverlap(t *testing.T) {
	archive := build(t, Options{}, entry{"aaaa.csv", time.Now(), []byte("one")}, entry{"bbbb.csv", time.Now(), []byte("two")})
	dup := bytes.ReplaceAll(bytes.Clone(archive), []byte("bbbb.csv"), []byte("aaaa.csv"))
	if _, err := NewReader(bytes.NewReader(dup), int64(len(dup))); !errors.Is(err, ErrIntegrity) {
		t.Errorf("duplicate names: got %v, want ErrIntegrity", err)
	}
	// Point the second central entry at the first local header (with the
	// first name, so that only the overlap is wrong).
	over := bytes.Clone(archive)
	second := bytes.LastIndex(over, []byte("PK\x01\x02"))
	le.PutUint32(over[second+42:], 0)
	copy(over[second+centralHeaderLen:], "aaaa.csv")
	if _, err := NewReader(bytes.NewReader(over), int64(len(over))); !errors.Is(err, ErrIntegrity) {
		t.Errorf("overlapping entries: got %v, want ErrIntegrity", err)
	}
}
