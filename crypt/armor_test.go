package crypt

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"filippo.io/age/armor"
)

// TestArmoredReaderAt reads the armored form of binary data at random
// offsets and lengths, with LF, CRLF and mixed line ends, and compares
// every read with the binary data.
func TestArmoredReaderAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, 47, 48, 49, 96, 1000, 48*100 + 17} {
		bin := make([]byte, size)
		for i := range bin {
			bin[i] = byte(rng.Uint32())
		}
		var buf bytes.Buffer
		aw := armor.NewWriter(&buf)
		aw.Write(bin)
		aw.Close()
		lf := buf.Bytes()
		for name, file := range map[string][]byte{
			"lf":    lf,
			"crlf":  bytes.ReplaceAll(lf, []byte("\n"), []byte("\r\n")),
			"mixed": mixEnds(lf, rng),
		} {
			ar, n, err := newArmoredReaderAt(bytes.NewReader(file), int64(len(file)))
			if err != nil {
				t.Fatalf("size %d %s: %v", size, name, err)
			}
			if n != int64(size) {
				t.Fatalf("size %d %s: decoded size %d", size, name, n)
			}
			whole, err := io.ReadAll(io.NewSectionReader(ar, 0, n))
			if err != nil || !bytes.Equal(whole, bin) {
				t.Fatalf("size %d %s: whole read differs (%v)", size, name, err)
			}
			for range 200 {
				if size == 0 {
					break
				}
				off := rng.IntN(size)
				p := make([]byte, rng.IntN(size-off+10))
				got, err := ar.ReadAt(p, int64(off))
				want := min(len(p), size-off)
				if got != want || !bytes.Equal(p[:got], bin[off:off+got]) {
					t.Fatalf("size %d %s: ReadAt(%d bytes at %d) = %d, %v", size, name, len(p), off, got, err)
				}
				if (got < len(p)) != (err == io.EOF) {
					t.Fatalf("size %d %s: ReadAt short read %d of %d with error %v", size, name, got, len(p), err)
				}
			}
		}
	}
}

// mixEnds turns some of the LF line ends into CRLF.
func mixEnds(lf []byte, rng *rand.Rand) []byte {
	var out []byte
	for _, line := range bytes.SplitAfter(lf, []byte("\n")) {
		if bytes.HasSuffix(line, []byte("\n")) && rng.IntN(3) == 0 {
			line = append(bytes.TrimSuffix(line, []byte("\n")), '\r', '\n')
		}
		out = append(out, line...)
	}
	return out
}

// TestArmorDamage: armor that age's reader refuses is an integrity error;
// so is armor changed after it was checked.
func TestArmorDamage(t *testing.T) {
	var buf bytes.Buffer
	aw := armor.NewWriter(&buf)
	aw.Write(bytes.Repeat([]byte("x"), 500))
	aw.Close()
	good := buf.Bytes()
	for name, bad := range map[string][]byte{
		"long line":  bytes.Replace(good, []byte("\n"), []byte("AAAA\n"), 2),
		"no footer":  good[:len(good)-len(armor.Footer)-1],
		"bad base64": bytes.Replace(good, []byte("eH"), []byte("e!"), 1),
		"garbage":    append(append([]byte(nil), good...), "junk"...),
	} {
		if _, _, err := newArmoredReaderAt(bytes.NewReader(bad), int64(len(bad))); !errors.Is(err, ErrIntegrity) {
			t.Errorf("%s: %v, want ErrIntegrity", name, err)
		}
	}
	file := append([]byte(nil), good...)
	ar, n, err := newArmoredReaderAt(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	file[len(armor.Header)+5] = '!' // changed after the check
	if _, err := io.ReadAll(io.NewSectionReader(ar, 0, n)); !errors.Is(err, ErrIntegrity) {
		t.Errorf("armor changed after the check: %v, want ErrIntegrity", err)
	}
}
