package cmd

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/internal/testkit/testutil"
	"github.com/xfer-dev/xfer/transfer"
)

// TestPullWhileDownloadingDamaged: pull opens a sealed file while its
// ranges arrive (three of them here, the last fetched second); one damaged
// at its start, middle or end, or in the zip's central directory (sealed
// again, so that only the zip's own checks can tell), still ends with exit
// 4, nothing in the output directory and no spool kept.
func TestPullWhileDownloadingDamaged(t *testing.T) {
	for name, start := range servers {
		t.Run(name, func(t *testing.T) {
			srv := start(t)
			dir := t.TempDir()
			env := sendEnv(dir, srv.Endpoint, srv)
			prefix := filepath.Base(dir) + "/"
			csvPath := filepath.Join(dir, "a.csv")
			// Base64 fields deflate to about 3/4: three download ranges of 8 MiB.
			if err := os.WriteFile(csvPath, testutil.IncompressibleCSV(26<<20), 0o600); err != nil {
				t.Fatal(err)
			}
			idPath := filepath.Join(dir, "k.txt")
			rcpt := keygen(t, env, idPath)
			if out, err := xferCmd(env, "send", csvPath, "-r", rcpt).CombinedOutput(); err != nil {
				t.Fatalf("send: %v\n%s", err, out)
			}
			store := xferTestStore(t, srv)
			key := prefix + "a.csv.zip.age"
			sealedPath := filepath.Join(dir, "sealed")
			n := xferTestGet(t, srv, key, sealedPath)
			good, err := os.ReadFile(sealedPath)
			if err != nil {
				t.Fatal(err)
			}
			if n <= 2*transfer.DefaultChunkSize {
				t.Fatalf("sealed file of %d bytes: fewer than three ranges", n)
			}
			idFile, err := os.ReadFile(idPath)
			if err != nil {
				t.Fatal(err)
			}
			ids, err := crypt.ParseIdentityFile(idFile)
			if err != nil {
				t.Fatal(err)
			}
			plain, _, err := crypt.NewReader(bytes.NewReader(good), ids)
			if err != nil {
				t.Fatal(err)
			}
			zip, err := io.ReadAll(plain)
			if err != nil {
				t.Fatal(err)
			}
			r, err := crypt.ParseRecipient(rcpt)
			if err != nil {
				t.Fatal(err)
			}
			var resealed bytes.Buffer
			w, err := crypt.NewWriter(&resealed, crypt.EncryptOptions{Recipients: []age.Recipient{r}})
			if err != nil {
				t.Fatal(err)
			}
			w.Write(testutil.Flip(zip, testutil.ZipCentralDirectory(t, zip)+46))
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			payload := testutil.AgePayload(t, good)
			in := filepath.Join(dir, "in")
			for _, tc := range []struct {
				name string
				obj  []byte
			}{
				{"start", testutil.Flip(good, payload+20)},
				{"middle", testutil.Flip(good, len(good)/2)},
				{"end", testutil.Flip(good, len(good)-3)},
				{"central directory", resealed.Bytes()},
				{"undamaged", good},
			} {
				if _, err := store.Put(t.Context(), key, bytes.NewReader(tc.obj), int64(len(tc.obj)), transfer.PutOptions{Overwrite: true}); err != nil {
					t.Fatal(err)
				}
				out, err := xferCmd(env, "pull", "a.csv.zip.age", "-i", idPath, "-d", in).CombinedOutput()
				if tc.name == "undamaged" {
					if err != nil {
						t.Fatalf("pull: %v\n%s", err, out)
					}
					want, _ := os.ReadFile(csvPath)
					if got, _ := os.ReadFile(filepath.Join(in, "a.csv")); !bytes.Equal(got, want) {
						t.Error("pulled CSV differs from the original")
					}
					continue
				}
				if code := exitCodeOf(err); code != 4 {
					t.Fatalf("%s: pull of a damaged object: exit %d, want 4\n%s", tc.name, code, out)
				}
				if ents, _ := os.ReadDir(in); len(ents) != 0 {
					t.Errorf("%s: pull of a damaged object left %v", tc.name, ents)
				}
				if spools, _ := filepath.Glob(filepath.Join(dir, "cache", "xfer", "spool", "*")); len(spools) != 0 {
					t.Errorf("%s: damaged download kept: %v", tc.name, spools)
				}
			}
		})
	}
}
