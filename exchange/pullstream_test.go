package exchange

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/internal/testkit/testutil"
	"github.com/xfer-dev/xfer/seal"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
)

// streamChunk is the download range of these tests: small, so that a
// sealed file of a megabyte or two arrives in many ranges and is opened
// while the later ones are still on their way.
const streamChunk = 128 << 10

// incompressibleCSV writes testutil.IncompressibleCSV of about size
// bytes to a file and returns its path.
func incompressibleCSV(t *testing.T, dir, name string, size int) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, testutil.IncompressibleCSV(size), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func getObject(t *testing.T, st transfer.Store, key string) ([]byte, transfer.ObjectInfo) {
	t.Helper()
	info, err := st.Head(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := st.Get(t.Context(), key, 0, info.Size)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b, info
}

// TestPullWhileDownloadingDamaged: a sealed file damaged anywhere, in its
// outer layer or in the zip inside (then sealed again, so that only the
// zip's own checks can tell), fails the pull as damaged when it is opened
// while it downloads, with nothing in the output directory and the
// download dropped.
func TestPullWhileDownloadingDamaged(t *testing.T) {
	st := memstore.New(memstore.Options{})
	client, house := side(t, st, "client@test"), side(t, st, "house@test")
	house.chunkSize = streamChunk
	k := newKeys(t)
	k.send.Level = 1
	src := incompressibleCSV(t, t.TempDir(), "a.csv", 1<<20)
	res := mustSend(t, client, src, k.send)
	key := client.Key(res.Name)
	good, info := getObject(t, st, key)
	if len(good) < 6*streamChunk {
		t.Fatalf("sealed file of %d bytes: too few ranges to open while downloading", len(good))
	}
	plain, _, err := crypt.NewReader(bytes.NewReader(good), k.pull.Identities)
	if err != nil {
		t.Fatal(err)
	}
	zip, err := io.ReadAll(plain)
	if err != nil {
		t.Fatal(err)
	}
	cd := testutil.ZipCentralDirectory(t, zip)
	payload := testutil.AgePayload(t, good)
	// reseal encrypts a damaged zip again, so that the outer layer opens.
	reseal := func(z []byte) []byte {
		var b bytes.Buffer
		w, err := crypt.NewWriter(&b, k.send.Outer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(z); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	for _, tc := range []struct {
		name string
		obj  []byte
	}{
		{"outer layer, header MAC", testutil.Flip(good, payload-10)},
		{"outer layer, first chunk", testutil.Flip(good, payload+20)},
		{"outer layer, middle", testutil.Flip(good, len(good)/2)},
		{"outer layer, end", testutil.Flip(good, len(good)-3)},
		{"zip, first local header", reseal(testutil.Flip(zip, 30))},
		{"zip, middle of the CSV's data", reseal(testutil.Flip(zip, len(zip)/2))},
		{"zip, central directory", reseal(testutil.Flip(zip, cd+46))},
		{"zip, end record", reseal(testutil.Flip(zip, len(zip)-10))},
		{"zip, truncated", reseal(zip[:len(zip)-200])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := st.Put(t.Context(), key, bytes.NewReader(tc.obj), int64(len(tc.obj)), transfer.PutOptions{
				CreateOptions: transfer.CreateOptions{Metadata: info.Metadata}, Overwrite: true}); err != nil {
				t.Fatal(err)
			}
			o := k.pull
			o.Dir = t.TempDir()
			_, err := house.Pull(t.Context(), res.Name, o, nil)
			if !seal.IsDamaged(err) {
				t.Fatalf("pull of a damaged file: %v, want it damaged (exit 4)", err)
			}
			if ents, _ := os.ReadDir(o.Dir); len(ents) != 0 {
				t.Errorf("output directory holds %v", ents)
			}
			if ents, _ := os.ReadDir(house.SpoolDir); len(ents) != 0 {
				t.Errorf("damaged download kept: %v", ents)
			}
		})
	}
	// The same file undamaged still pulls, to the byte.
	if _, err := st.Put(t.Context(), key, bytes.NewReader(good), int64(len(good)), transfer.PutOptions{
		CreateOptions: transfer.CreateOptions{Metadata: info.Metadata}, Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	o := k.pull
	o.Dir = t.TempDir()
	pr, err := house.Pull(t.Context(), res.Name, o, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameFile(t, pr.Output, src)
}

func sameFile(t *testing.T, got, want string) {
	t.Helper()
	g, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(g, w) {
		t.Errorf("%s (%d bytes) differs from %s (%d bytes)", got, len(g), want, len(w))
	}
}

// TestPullResumesHalfway: a pull interrupted half-way through its
// download writes nothing, and its re-run fetches only the ranges it
// lacks, opens the file from the start of its spool and writes the same
// bytes as a pull never interrupted.
func TestPullResumesHalfway(t *testing.T) {
	for _, cipher := range []crypt.Cipher{crypt.CipherAge, crypt.CipherAES256} {
		t.Run(string(cipher), func(t *testing.T) {
			st := memstore.New(memstore.Options{})
			client, house, other := side(t, st, "client@test"), side(t, st, "house@test"), side(t, st, "other@test")
			house.chunkSize, other.chunkSize = streamChunk, streamChunk
			k := newKeys(t)
			if cipher == crypt.CipherAES256 {
				key, err := crypt.GenerateAESKey()
				if err != nil {
					t.Fatal(err)
				}
				k.send.Outer = crypt.EncryptOptions{Cipher: crypt.CipherAES256, AESKey: key}
				k.pull.Identities = crypt.Identities{AES: []crypt.AESKey{*key}}
			}
			src := incompressibleCSV(t, t.TempDir(), "b.csv", 1<<20)
			res := mustSend(t, client, src, k.send)
			chunks := int((res.Size + streamChunk - 1) / streamChunk)
			if chunks < 6 {
				t.Fatalf("%d ranges: too few to interrupt half-way", chunks)
			}
			// One range at a time: the first, the last, then in order.
			// Cancel (as Ctrl-C does) when the range after half of them
			// is asked for.
			done := chunks / 2
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			st.Inject(memstore.Fault{Method: memstore.Get, Call: st.Calls(memstore.Get) + done + 1, Hook: cancel})
			o := k.pull
			o.Dir, o.Concurrency = t.TempDir(), 1
			if _, err := house.Pull(ctx, res.Name, o, nil); !errors.Is(err, transfer.ErrInterrupted) {
				t.Fatalf("pull cancelled half-way: %v, want ErrInterrupted", err)
			}
			st.ClearFaults()
			if ents, _ := os.ReadDir(o.Dir); len(ents) != 0 {
				t.Errorf("interrupted pull left %v", ents)
			}
			gets := st.Calls(memstore.Get)
			pr, err := house.Pull(t.Context(), res.Name, o, nil)
			if err != nil {
				t.Fatalf("re-run: %v", err)
			}
			if n := st.Calls(memstore.Get) - gets; n != chunks-done {
				t.Errorf("re-run made %d GETs, want %d (the missing ranges)", n, chunks-done)
			}
			if pr.Resumed <= 0 || pr.Resumed >= pr.ObjectBytes {
				t.Errorf("re-run resumed %d of %d bytes", pr.Resumed, pr.ObjectBytes)
			}
			sameFile(t, pr.Output, src)
			// A pull never interrupted writes the same bytes.
			o.Dir = t.TempDir()
			whole, err := other.Pull(t.Context(), res.Name, o, nil)
			if err != nil {
				t.Fatal(err)
			}
			sameFile(t, whole.Output, pr.Output)
			if !strings.HasSuffix(pr.Output, "b.csv") {
				t.Errorf("output %s", pr.Output)
			}
		})
	}
}
