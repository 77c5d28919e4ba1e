package cmd

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/zipenc"
)

// The hostile input corpus (issue 6): inputs built to crash, exhaust or
// fool xfer. Each runs through the real binary and must end with the
// documented exit code, within hostileMaxRSS and hostileMaxTime, leaving no
// output file. Small inputs are kept in testdata/hostile (rewrite them with
// XFER_WRITE_HOSTILE=1); large ones are made at test time.
const (
	hostileMaxRSS  = 200 << 20
	hostileMaxTime = 60 * time.Second
	// hostileZipPassword is the zip password of every sealed hostile input.
	hostileZipPassword = "Corr3ct-Horse-Battery"
	// hostilePassphrase opens the passphrase-sealed ones.
	hostilePassphrase = "hostile-passphrase"
	hostileDir        = "testdata/hostile"
)

type hostileCase struct {
	name string
	// decrypt runs `xfer decrypt` on the input; otherwise `xfer encrypt`.
	decrypt bool
	want    int
	// small makes an input kept in testdata/hostile/name; big writes one
	// at test time to path.
	small func(t *testing.T, k hostileKeys) []byte
	big   func(t *testing.T, k hostileKeys, path string)
}

// hostileKeys are the fixed test identities in testdata/hostile/identity.txt.
type hostileKeys struct {
	age *age.X25519Identity
	aes *crypt.AESKey
}

func loadHostileKeys(t *testing.T) hostileKeys {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(hostileDir, "identity.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := crypt.ParseIdentityFile(b)
	if err != nil || len(ids.Age) != 1 || len(ids.AES) != 1 {
		t.Fatalf("identity.txt: %v", err)
	}
	return hostileKeys{age: ids.Age[0].(*age.X25519Identity), aes: &ids.AES[0]}
}

// sealOuter wraps plain in the outer age layer for k.
func sealOuter(t testing.TB, k hostileKeys, plain []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := crypt.NewWriter(&b, crypt.EncryptOptions{Recipients: []age.Recipient{k.age.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type zipEntry struct {
	name string
	data []byte
}

// buildZip writes a WinZip AES zip with the hostile zip password.
func buildZip(t testing.TB, level int, entries ...zipEntry) []byte {
	t.Helper()
	var b bytes.Buffer
	w := zipenc.NewWriter(&b, []byte(hostileZipPassword), zipenc.Options{Level: level, Concurrency: 2})
	for _, e := range entries {
		ew, err := w.Create(e.name, time.Unix(1.7e9, 0))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ew.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

var le32 = binary.LittleEndian

// zipLayout finds the last central directory header and the end record.
func zipLayout(t testing.TB, z []byte) (central, end int) {
	t.Helper()
	central = bytes.LastIndex(z, []byte("PK\x01\x02"))
	end = bytes.LastIndex(z, []byte("PK\x05\x06"))
	if central < 0 || end < central {
		t.Fatal("not one of our zips")
	}
	return central, end
}

// sealedZip is a small case: a zip made by mk and mutated, sealed with age.
func sealedZip(mk func(t testing.TB) []byte) func(*testing.T, hostileKeys) []byte {
	return func(t *testing.T, k hostileKeys) []byte { return sealOuter(t, k, mk(t)) }
}

var addrCSV = []byte("name,street,city\r\nZoë Example,1 Main St,Springfield\r\n")

// renamed is a one-entry zip whose name (in both headers) became name,
// which zipenc's writer would refuse to write.
func renamed(name string) func(testing.TB) []byte {
	return func(t testing.TB) []byte {
		placeholder := strings.Repeat("z", len(name))
		z := buildZip(t, 1, zipEntry{placeholder, addrCSV})
		return bytes.ReplaceAll(z, []byte(placeholder), []byte(name))
	}
}

// aesExtraLen is a one-entry zip whose central AES extra field claims n
// bytes of data.
func aesExtraLen(n uint16) func(testing.TB) []byte {
	return func(t testing.TB) []byte {
		z := buildZip(t, 1, zipEntry{"a.csv", addrCSV})
		central, _ := zipLayout(t, z)
		i := bytes.Index(z[central:], []byte{0x01, 0x99})
		binary.LittleEndian.PutUint16(z[central+i+2:], n)
		return z
	}
}

// ageScryptHeader is an age file with one scrypt stanza of work factor logN
// and a bogus body and MAC: only the work factor matters.
func ageScryptHeader(logN int) []byte {
	salt := base64.RawStdEncoding.EncodeToString(make([]byte, 16))
	body := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	mac := base64.RawStdEncoding.EncodeToString(make([]byte, 32))
	return fmt.Appendf(nil, "age-encryption.org/v1\n-> scrypt %s %d\n%s\n--- %s\n%s", salt, logN, body, mac, make([]byte, 64))
}

// aesHeaderPassphrase is an xfer-aes256 passphrase header with work factor
// logN and zero key material.
func aesHeaderPassphrase(logN byte) []byte {
	h := append([]byte("xfer-aes256/v1\n\x02"), logN)
	return append(h, make([]byte, 16+12+48+16+32+100)...)
}

// sparse writes head at the start of a file of the given size, the rest a
// hole that costs no disk.
func sparse(head []byte, size int64) func(*testing.T, hostileKeys, string) {
	return func(t *testing.T, _ hostileKeys, path string) {
		if err := os.WriteFile(path, head, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
	}
}

// bigCSV writes head, then n bytes of fill, then tail.
func bigCSV(head string, fill byte, n int, tail string) func(*testing.T, hostileKeys, string) {
	return func(t *testing.T, _ hostileKeys, path string) {
		b := make([]byte, 0, len(head)+n+len(tail))
		b = append(b, head...)
		b = append(b, bytes.Repeat([]byte{fill}, n)...)
		b = append(b, tail...)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func hostileCases() []hostileCase {
	text := func(s string) func(*testing.T, hostileKeys) []byte {
		return func(*testing.T, hostileKeys) []byte { return []byte(s) }
	}
	return []hostileCase{
		// CSV: rejected before anything is sealed (6), or accepted (BOM).
		{name: "csv-nul.csv", want: exitInput, small: text("name,city\r\nA\x00B,C\r\n")},
		{name: "csv-invalid-utf8.csv", want: exitInput, small: text("name,city\r\nZo\xeb,Paris\r\n")},
		{name: "csv-overlong-utf8.csv", want: exitInput, small: text("name,city\r\n\xc0\xaf,Paris\r\n")},
		{name: "csv-bom.csv", want: exitOK, small: text("\xef\xbb\xbfname,city\r\nZoë,Paris\r\n")},
		{name: "csv-bom-only.csv", want: exitInput, small: text("\xef\xbb\xbf")},
		{name: "csv-50mib-field.csv", want: exitInput, big: bigCSV("name,city\r\nA,", 'x', 50<<20, "\r\n")},
		{name: "csv-50mib-quoted-field.csv", want: exitInput, big: bigCSV("name,city\r\nA,\"", '\n', 50<<20, "\"\r\n")},
		{name: "csv-50mib-header-field.csv", want: exitInput, big: bigCSV("", 'h', 50<<20, "\r\n1\r\n")},
		{name: "csv-200k-header-columns.csv", want: exitInput, big: func(t *testing.T, _ hostileKeys, path string) {
			// 200,000 distinct column names, then a short row.
			var b []byte
			for i := range 200_000 {
				b = append(strconv.AppendInt(append(b, 'c'), int64(i), 10), ',')
			}
			if err := os.WriteFile(path, append(b, "last\r\n1\r\n"...), 0o600); err != nil {
				t.Fatal(err)
			}
		}},

		// Zip layer, inside a valid age layer: integrity (4).
		{name: "zip-bomb-lying-size.zip.age", decrypt: true, want: exitIntegrity, big: func(t *testing.T, k hostileKeys, path string) {
			z := buildZip(t, 1, zipEntry{"bomb.csv", make([]byte, 64<<20)})
			central, _ := zipLayout(t, z)
			le32.PutUint32(z[central+24:], 100) // declares 100 bytes, inflates to 64 MiB
			if err := os.WriteFile(path, sealOuter(t, k, z), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "zip-overlapping-entries.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(func(t testing.TB) []byte {
			z := buildZip(t, 1, zipEntry{"aaaa.csv", addrCSV}, zipEntry{"bbbb.csv", addrCSV})
			central, _ := zipLayout(t, z)
			le32.PutUint32(z[central+42:], 0) // the second entry points at the first one's data (a Fifield-style bomb)
			return z
		})},
		{name: "zip-nested.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(func(t testing.TB) []byte {
			inner := buildZip(t, 1, zipEntry{"inner.csv", make([]byte, 1<<20)})
			return buildZip(t, 1, zipEntry{"a.csv", addrCSV}, zipEntry{"inner.zip", inner})
		})},
		{name: "zip-two-entries.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(func(t testing.TB) []byte {
			return buildZip(t, 1, zipEntry{"a.csv", addrCSV}, zipEntry{"b.csv", addrCSV})
		})},
		{name: "zip-no-entries.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(func(t testing.TB) []byte { return buildZip(t, 1) })},
		{name: "zip-name-dotdot.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(renamed("../evil.csv"))},
		{name: "zip-name-absolute.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(renamed("/tmp/evil.csv"))},
		{name: "zip-name-backslash.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(renamed("..\\evil.csv"))},
		{name: "zip-name-drive.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(renamed("C:evil.csv"))},
		{name: "zip-no-aes-extra.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(func(t testing.TB) []byte {
			z := buildZip(t, 1, zipEntry{"a.csv", addrCSV})
			central, _ := zipLayout(t, z)
			// Rename the AES extra field in both headers and claim 4 GiB
			// sizes: the reader that allocates the claimed size dies here.
			z = bytes.ReplaceAll(z, []byte{0x01, 0x99, 0x07, 0x00}, []byte{0x02, 0x99, 0x07, 0x00})
			le32.PutUint32(z[central+20:], 0xfffffffe)
			le32.PutUint32(z[central+24:], 0xfffffffe)
			return z
		})},
		{name: "zip-extra-length-overrun.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(aesExtraLen(0xfff0))},
		{name: "zip-extra-length-short.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(aesExtraLen(1))},
		{name: "zip-central-truncated.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(func(t testing.TB) []byte {
			z := buildZip(t, 1, zipEntry{"a.csv", addrCSV})
			central, end := zipLayout(t, z)
			// Half a central header, the end record unchanged.
			return append(bytes.Clone(z[:central+23]), z[end:]...)
		})},
		{name: "zip-central-cut.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(func(t testing.TB) []byte {
			z := buildZip(t, 1, zipEntry{"a.csv", addrCSV})
			central, _ := zipLayout(t, z)
			return z[:central+30]
		})},
		{name: "zip-entry-count-huge.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(func(t testing.TB) []byte {
			z := buildZip(t, 1, zipEntry{"a.csv", addrCSV})
			_, end := zipLayout(t, z)
			binary.LittleEndian.PutUint16(z[end+8:], 0xffff)
			binary.LittleEndian.PutUint16(z[end+10:], 0xffff)
			le32.PutUint32(z[end+12:], 0xfffffff0)
			return z
		})},
		{name: "zip-not-a-zip.zip.age", decrypt: true, want: exitIntegrity, small: sealedZip(func(testing.TB) []byte { return addrCSV })},

		// Outer layer headers.
		{name: "age-scrypt-logn-22.age", decrypt: true, want: exitIntegrity, small: func(*testing.T, hostileKeys) []byte { return ageScryptHeader(22) }},
		{name: "age-scrypt-logn-64.age", decrypt: true, want: exitIntegrity, small: func(*testing.T, hostileKeys) []byte { return ageScryptHeader(64) }},
		{name: "age-header-3mib-line.age", decrypt: true, want: exitIntegrity, big: func(t *testing.T, _ hostileKeys, path string) {
			b := append([]byte("age-encryption.org/v1\n-> X25519 "), bytes.Repeat([]byte("A"), 3<<20)...)
			if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "age-2000-stanzas.age", decrypt: true, want: exitIntegrity, big: func(t *testing.T, _ hostileKeys, path string) {
			b := []byte("age-encryption.org/v1\n")
			for range 2000 {
				b = append(b, "-> X25519 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"...)
			}
			if err := os.WriteFile(path, append(b, "--- AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"...), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "age-1tib-sparse.zip.age", decrypt: true, want: exitIntegrity, big: func(t *testing.T, k hostileKeys, path string) {
			sparse(sealOuter(t, k, buildZip(t, 1, zipEntry{"a.csv", addrCSV})), 1<<40)(t, k, path)
		}},
		{name: "aes-logn-19.aes", decrypt: true, want: exitIntegrity, small: func(*testing.T, hostileKeys) []byte { return aesHeaderPassphrase(19) }},
		{name: "aes-logn-255.aes", decrypt: true, want: exitIntegrity, small: func(*testing.T, hostileKeys) []byte { return aesHeaderPassphrase(255) }},
		{name: "aes-unknown-kek.aes", decrypt: true, want: exitIntegrity, small: text("xfer-aes256/v1\n\xff" + strings.Repeat("\xff", 200))},
		{name: "aes-header-truncated.aes", decrypt: true, want: exitIntegrity, small: text("xfer-aes256/v1\n\x01\x00\x00")},
		{name: "aes-1tib-sparse.aes", decrypt: true, want: exitIntegrity, big: func(t *testing.T, k hostileKeys, path string) {
			var b bytes.Buffer
			w, err := crypt.NewWriter(&b, crypt.EncryptOptions{Cipher: crypt.CipherAES256, AESKey: k.aes})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(buildZip(t, 1, zipEntry{"a.csv", addrCSV}))
			w.Close()
			sparse(b.Bytes(), 1<<40)(t, k, path)
		}},
		{name: "aes-payload-one-byte.aes", decrypt: true, want: exitIntegrity, small: func(t *testing.T, k hostileKeys) []byte {
			var b bytes.Buffer
			w, err := crypt.NewWriter(&b, crypt.EncryptOptions{Cipher: crypt.CipherAES256, AESKey: k.aes})
			if err != nil {
				t.Fatal(err)
			}
			w.Close()
			return append(b.Bytes()[:132], 0) // the 132-byte key-file header, then one byte
		}},
	}
}

// TestWriteHostileCorpus rewrites testdata/hostile from the generators
// when XFER_WRITE_HOSTILE is set.
func TestWriteHostileCorpus(t *testing.T) {
	if os.Getenv("XFER_WRITE_HOSTILE") == "" {
		t.Skip("set XFER_WRITE_HOSTILE=1 to rewrite testdata/hostile")
	}
	k := loadHostileKeys(t)
	for _, c := range hostileCases() {
		if c.small == nil {
			continue
		}
		if err := os.WriteFile(filepath.Join(hostileDir, c.name), c.small(t, k), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestHostileInputs runs every hostile input through the xfer binary (this
// test binary re-executed, see TestMain).
func TestHostileInputs(t *testing.T) {
	k := loadHostileKeys(t)
	idFile, err := filepath.Abs(filepath.Join(hostileDir, "identity.txt"))
	if err != nil {
		t.Fatal(err)
	}
	recipient := k.age.Recipient().String()
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, c.name)
			if c.small != nil {
				b, err := os.ReadFile(filepath.Join(hostileDir, c.name))
				if err != nil {
					t.Fatalf("%v (rewrite the corpus with XFER_WRITE_HOSTILE=1)", err)
				}
				if err := os.WriteFile(in, b, 0o600); err != nil {
					t.Fatal(err)
				}
			} else {
				c.big(t, k, in)
			}
			out := filepath.Join(dir, "out")
			if err := os.Mkdir(out, 0o700); err != nil {
				t.Fatal(err)
			}
			args := []string{"encrypt", in, "-r", recipient, "-o", filepath.Join(out, "sealed.zip.age")}
			if c.decrypt {
				// No -o: the output name comes from the archive.
				args = []string{"decrypt", in, "-i", idFile}
			}
			code, rss, took, stderr := runHostile(t, out, args)
			t.Logf("exit %d, peak RSS %d MiB, %v: %s", code, rss>>20, took.Round(time.Millisecond), firstLine(stderr))
			if code != c.want {
				t.Errorf("exit code %d, want %d\n%s", code, c.want, stderr)
			}
			if rss > hostileMaxRSS {
				t.Errorf("peak RSS %d MiB, want under %d MiB", rss>>20, hostileMaxRSS>>20)
			}
			if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") {
				t.Errorf("crashed:\n%s", stderr)
			}
			ents, err := os.ReadDir(out)
			if err != nil {
				t.Fatal(err)
			}
			if c.want != exitOK && len(ents) > 0 {
				t.Errorf("failed run left %s in the output directory", ents[0].Name())
			}
			if c.want == exitOK && len(ents) != 1 {
				t.Errorf("successful run left %d files, want 1", len(ents))
			}
			// Nothing escaped the output directory either.
			if ents, _ := os.ReadDir(dir); len(ents) != 2 {
				t.Errorf("the run left %d entries beside its input, want 2 (input and out/)", len(ents))
			}
		})
	}
}

// runHostile runs xfer with args in dir and returns its exit code, peak
// RSS (-1 where unknown), wall time and stderr. A run over hostileMaxTime
// is killed and fails the test.
//
// xfer runs as a grandchild, under TestHostileWrapper in a fresh copy of
// this binary: on Linux a process's peak RSS starts at its parent's peak at
// the moment of exec, and this test process has held far more than the
// limit while building inputs.
func runHostile(t *testing.T, dir string, args []string) (code int, rss int64, took time.Duration, stderr string) {
	t.Helper()
	argsJSON, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(t.TempDir(), "result.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHostileWrapper$")
	cmd.Env = append(os.Environ(),
		"XFER_HOSTILE_ARGS="+string(argsJSON), "XFER_HOSTILE_RESULT="+result,
		"XDG_CONFIG_HOME="+dir, "XDG_CACHE_HOME="+dir, "HOME="+dir,
		"XFER_ZIP_PASSWORD="+hostileZipPassword, "XFER_PASSPHRASE="+hostilePassphrase,
	)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("wrapper: %v\n%s", err, out)
	}
	b, err := os.ReadFile(result)
	if err != nil {
		t.Fatal(err)
	}
	var res hostileResult
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.TimedOut {
		t.Fatalf("still running after %v; killed", hostileMaxTime)
	}
	return res.Code, res.RSS, res.Took, res.Stderr
}

type hostileResult struct {
	Code     int
	RSS      int64
	Took     time.Duration
	Stderr   string
	TimedOut bool
}

// TestHostileWrapper is not a test: runHostile runs it in a fresh process
// to start xfer with the arguments in XFER_HOSTILE_ARGS and record how it
// ended in the file XFER_HOSTILE_RESULT.
func TestHostileWrapper(t *testing.T) {
	argsJSON, result := os.Getenv("XFER_HOSTILE_ARGS"), os.Getenv("XFER_HOSTILE_RESULT")
	if argsJSON == "" || result == "" {
		t.Skip("run by TestHostileInputs")
	}
	var args []string
	if err := json.Unmarshal([]byte(argsJSON), &args); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hostileMaxTime)
	defer cancel()
	cmd := xferCmd(nil, args...)
	cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, "XFER_HOSTILE_") })
	var errBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errBuf
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var res hostileResult
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		cmd.Process.Kill()
		err = <-done
		res.TimedOut = true
	}
	res.Took = time.Since(start)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	res.Code, res.RSS, res.Stderr = cmd.ProcessState.ExitCode(), peakRSS(cmd.ProcessState), errBuf.String()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(result, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}
