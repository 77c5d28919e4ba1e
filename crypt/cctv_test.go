package crypt

import (
	"bytes"
	"compress/zlib"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"filippo.io/age/armor"

	agetest "c2sp.org/CCTV/age"
)

// cctvVector is one file of the age project's test vectors.
type cctvVector struct {
	name        string
	expect      string
	payloadHash []byte
	ids         Identities
	armored     bool
	file        []byte
}

func parseCCTVVector(t *testing.T, name string, data []byte) *cctvVector {
	t.Helper()
	v := &cctvVector{name: name}
	var identityLines []string
	compressed := false
	for {
		line, rest, ok := bytes.Cut(data, []byte("\n"))
		if !ok {
			t.Fatalf("%s: no payload", name)
		}
		data = rest
		if len(line) == 0 {
			break
		}
		key, value, _ := strings.Cut(string(line), ": ")
		switch key {
		case "expect":
			v.expect = value
		case "payload":
			h, err := hex.DecodeString(value)
			if err != nil {
				t.Fatal(err)
			}
			v.payloadHash = h
		case "identity":
			identityLines = append(identityLines, value)
		case "passphrase":
			v.ids.Passphrase = []byte(value)
		case "armored":
			v.armored = true
		case "compressed":
			if value != "zlib" {
				t.Fatalf("%s: unknown compression %q", name, value)
			}
			compressed = true
		case "file key", "comment":
		default:
			t.Fatalf("%s: unknown header %q", name, key)
		}
	}
	if len(identityLines) > 0 {
		// Through xfer's own identity file parser.
		ids, err := ParseIdentityFile([]byte("# CCTV\n" + strings.Join(identityLines, "\n") + "\n"))
		if err != nil {
			t.Fatalf("%s: ParseIdentityFile: %v", name, err)
		}
		v.ids.Age = ids.Age
	}
	if compressed {
		zr, err := zlib.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	v.file = data
	return v
}

// cctvWant is the error category xfer returns for each CCTV expectation.
var cctvWant = map[string]string{
	"success":         "success",
	"no match":        "no identity",
	"header failure":  "integrity",
	"HMAC failure":    "integrity",
	"armor failure":   "integrity",
	"payload failure": "integrity",
}

// TestCCTV runs every age test vector through NewReader and, for binary
// files, NewReaderAt, and checks the outcome and its error category.
func TestCCTV(t *testing.T) {
	entries, err := fs.ReadDir(agetest.Vectors, ".")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		counts = map[string]map[string]int{} // expect → "reader:category" → n
	)
	record := func(expect, what string) {
		mu.Lock()
		defer mu.Unlock()
		if counts[expect] == nil {
			counts[expect] = map[string]int{}
		}
		counts[expect][what]++
	}
	t.Run("vectors", func(t *testing.T) {
		for _, e := range entries {
			data, err := fs.ReadFile(agetest.Vectors, e.Name())
			if err != nil {
				t.Fatal(err)
			}
			t.Run(e.Name(), func(t *testing.T) {
				t.Parallel()
				v := parseCCTVVector(t, e.Name(), data)
				want, ok := cctvWant[v.expect]
				if !ok {
					t.Fatalf("unknown expectation %q", v.expect)
				}
				record(v.expect, "total")
				got, cat := testCCTVStream(t, v)
				record(v.expect, "NewReader: "+cat)
				if cat != want {
					t.Errorf("NewReader: got %s, want %s (%s)", cat, want, v.expect)
				}
				if v.armored {
					return
				}
				cat = testCCTVReaderAt(t, v, got)
				record(v.expect, "NewReaderAt: "+cat)
				if cat != want {
					t.Errorf("NewReaderAt: got %s, want %s (%s)", cat, want, v.expect)
				}
			})
		}
	})
	var lines []string
	for expect, m := range counts {
		var parts []string
		for what, n := range m {
			parts = append(parts, what+"="+strconv.Itoa(n))
		}
		slices.Sort(parts)
		lines = append(lines, expect+": "+strings.Join(parts, ", "))
	}
	slices.Sort(lines)
	t.Logf("CCTV results:\n%s", strings.Join(lines, "\n"))
}

func testCCTVStream(t *testing.T, v *cctvVector) ([]byte, string) {
	r, f, err := NewReader(bytes.NewReader(v.file), v.ids)
	if err == nil {
		wantF := FormatAge
		if v.armored {
			wantF = FormatAgeArmored
		}
		if f != wantF {
			t.Errorf("format = %v, want %v", f, wantF)
		}
	}
	var out []byte
	if err == nil {
		out, err = io.ReadAll(r)
	}
	if err != nil {
		t.Log(err)
		var ae *armor.Error
		if v.expect == "armor failure" && f == FormatAgeArmored && !errors.As(err, &ae) {
			t.Errorf("armor failure does not carry armor.Error: %v", err)
		}
		return out, category(err)
	}
	if v.payloadHash == nil {
		t.Fatal("success without a payload hash in the vector")
	}
	if h := sha256.Sum256(out); !bytes.Equal(h[:], v.payloadHash) {
		t.Error("payload hash mismatch")
	}
	return out, "success"
}

func testCCTVReaderAt(t *testing.T, v *cctvVector, streamed []byte) string {
	ra, n, _, err := NewReaderAt(bytes.NewReader(v.file), int64(len(v.file)), v.ids)
	if err != nil {
		t.Log(err)
		return category(err)
	}
	out, err := io.ReadAll(io.NewSectionReader(ra, 0, n))
	if err != nil {
		t.Log(err)
		// The ReaderAt may notice a failure earlier than the stream, never
		// later, and what it released is then a prefix of the stream's.
		if !bytes.HasPrefix(streamed, out) {
			t.Errorf("partial ReaderAt payload (%d bytes) is not a prefix of the streamed one (%d bytes)", len(out), len(streamed))
		}
		return category(err)
	}
	if v.payloadHash == nil {
		t.Fatal("success without a payload hash in the vector")
	}
	if h := sha256.Sum256(out); !bytes.Equal(h[:], v.payloadHash) {
		t.Error("payload hash mismatch")
	}
	return "success"
}
