package exchange

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/xfer-dev/xfer/crypt"
	"github.com/xfer-dev/xfer/transfer"
	"github.com/xfer-dev/xfer/transfer/memstore"
	"github.com/xfer-dev/xfer/zipenc"
)

// TestSendResumeRebindsSecrets: a send interrupted after sealing and run
// again with another zip password or another AES key seals again under
// the new secret, and aborts the old upload; what is in the exchange
// then opens with the new secret only. (Issue 15, item 1: the old
// fingerprint held none of this, and the re-run uploaded the spool sealed
// under the old secret.)
func TestSendResumeRebindsSecrets(t *testing.T) {
	aesKey := func(t *testing.T) *crypt.AESKey {
		k, err := crypt.GenerateAESKey()
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	path := csvFile(t, t.TempDir(), "c.csv", 100)
	for _, tc := range []struct {
		name   string
		before func(t *testing.T) (SendOptions, PullOptions)
		change func(t *testing.T, s *SendOptions, p *PullOptions)
		// wrong is the error opening with the old secret gives.
		wrong error
	}{
		{"zip password", func(t *testing.T) (SendOptions, PullOptions) { k := newKeys(t); return k.send, k.pull },
			func(t *testing.T, s *SendOptions, p *PullOptions) {
				s.ZipPassword, p.ZipPassword = []byte("Another-Horse-7"), []byte("Another-Horse-7")
			}, zipenc.ErrPassword},
		{"AES key", func(t *testing.T) (SendOptions, PullOptions) {
			k := newKeys(t)
			key := aesKey(t)
			s, p := k.send, k.pull
			s.Outer = crypt.EncryptOptions{Cipher: crypt.CipherAES256, AESKey: key}
			p.Identities = crypt.Identities{AES: []crypt.AESKey{*key}}
			return s, p
		}, func(t *testing.T, s *SendOptions, p *PullOptions) {
			key := aesKey(t)
			s.Outer.AESKey, p.Identities = key, crypt.Identities{AES: []crypt.AESKey{*key}}
		}, crypt.ErrNoIdentity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memstore.New(memstore.Options{})
			client, house := side(t, st, "client@test"), side(t, st, "house@test")
			so, po := tc.before(t)
			st.Inject(memstore.Fault{Method: memstore.CompleteUpload})
			if _, err := send(t, client, path, so); !errors.Is(err, transfer.ErrInterrupted) {
				t.Fatalf("send with a failing CompleteUpload: %v, want ErrInterrupted", err)
			}
			st.ClearFaults()
			oldPull := po
			tc.change(t, &so, &po)
			res := mustSend(t, client, path, so)
			if res.Seal == nil || res.Resumed != 0 {
				t.Errorf("re-run under a new secret: Seal %v, Resumed %d; want sealed anew, nothing resumed", res.Seal, res.Resumed)
			}
			if up := st.UploadIDs(); len(up) != 0 {
				t.Errorf("the upload sealed under the old secret was left behind: %v", up)
			}
			oldPull.Dir = t.TempDir()
			if _, err := house.Pull(t.Context(), res.Name, oldPull, nil); !errors.Is(err, tc.wrong) {
				t.Errorf("pull with the old secret: %v, want %v", err, tc.wrong)
			}
			po.Dir = t.TempDir()
			pr, err := house.Pull(t.Context(), res.Name, po, nil)
			if err != nil {
				t.Fatalf("pull with the new secret: %v", err)
			}
			got, err := os.ReadFile(pr.Output)
			want, _ := os.ReadFile(path)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("pulled CSV differs from the source (%v)", err)
			}
		})
	}
}

// TestFingerprintSecrets: the fingerprint changes with each secret and
// the AES key, never holds a secret, and the verifier is salted per state
// directory: the same secrets give another verifier elsewhere.
func TestFingerprintSecrets(t *testing.T) {
	st := memstore.New(memstore.Options{})
	x, y := side(t, st, "a"), side(t, st, "b")
	src := Source{Path: "/data/a.csv", Size: 10}
	k1, _ := crypt.GenerateAESKey()
	k2, _ := crypt.GenerateAESKey()
	fp := func(x *Exchange, pw, pass string, key *crypt.AESKey) string {
		v, err := x.secretsVerifier([]byte(pw), []byte(pass))
		if err != nil {
			t.Fatal(err)
		}
		o := SendOptions{Name: "a.csv", Outer: crypt.EncryptOptions{Cipher: crypt.CipherAES256, AESKey: key, Passphrase: []byte(pass)}, ZipPassword: []byte(pw)}
		return fingerprint(src, o, v)
	}
	base := fp(x, "Zip-Password-1", "", k1)
	if again := fp(x, "Zip-Password-1", "", k1); again != base {
		t.Errorf("the same settings give another fingerprint: %s, %s", base, again)
	}
	seen := map[string]string{base: "base"}
	for what, f := range map[string]string{
		"zip password": fp(x, "Zip-Password-2", "", k1),
		"passphrase":   fp(x, "Zip-Password-1", "a passphrase", k1),
		"AES key":      fp(x, "Zip-Password-1", "", k2),
		"no AES key":   fp(x, "Zip-Password-1", "", nil),
		"other salt":   fp(y, "Zip-Password-1", "", k1),
		// Length-prefixed: moving bytes from one secret to the other is a change.
		"split": fp(x, "Zip-Password-", "1", k1),
	} {
		if prev, dup := seen[f]; dup {
			t.Errorf("%s gives the fingerprint of %s", what, prev)
		}
		seen[f] = what
	}
	salt, err := os.ReadFile(filepath.Join(x.StateDir, SecretsSaltFile))
	if err != nil || len(salt) != saltSize {
		t.Fatalf("salt: %d bytes, %v", len(salt), err)
	}
	if fi, err := os.Stat(filepath.Join(x.StateDir, SecretsSaltFile)); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("salt file mode: %v %v", fi.Mode(), err)
	}
	// A damaged salt file is replaced, not trusted.
	if err := os.WriteFile(filepath.Join(x.StateDir, SecretsSaltFile), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if f := fp(x, "Zip-Password-1", "", k1); f == base {
		t.Error("a replaced salt gives the old fingerprint")
	}
}
