package exchange

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/crypto/scrypt"

	"github.com/xfer-dev/xfer/internal/safefile"
)

// A spool is bound to the secrets it was sealed under, so that a re-run
// with another zip password or passphrase seals again instead of uploading
// what the old one sealed. The secrets themselves are never stored: the
// spool's fingerprint (in its journal, and hashed into the object's
// xfer-source metadata) holds a slow, salted verifier of them, scrypt
// under a random salt kept in the state directory (SecretsSaltFile).
//
// The salt is one per state directory, not one per spool: the "already
// sent" check of a run killed after its upload completed must compute the
// same source tag after the journal (and with it a per-spool salt) is
// gone. Someone who reads the object's metadata has no salt, so the tag
// lets nobody test a guessed password offline; someone who also has this
// machine's state directory pays one scrypt per guess (and must know the
// file's path, size and modification time to the nanosecond as well).

// SecretsSaltFile is the name of the verifier's salt in StateDir (in
// SpoolDir when there is none): 32 random bytes, not secret on their own.
const SecretsSaltFile = "secrets.salt"

const (
	saltSize = 32
	// scrypt at 2^14 × 8 (16 MiB): tens of milliseconds per send on an
	// idle machine, paid once per file.
	verifierLogN = 14
	verifierR    = 8
	verifierP    = 1
)

// secretsVerifier is the slow verifier of the secrets a send seals under:
// the zip password and the outer passphrase (the AES key is bound by its
// id, which is not secret).
func (x *Exchange) secretsVerifier(zipPassword, passphrase []byte) ([]byte, error) {
	dir := x.StateDir
	if dir == "" {
		dir = x.SpoolDir
	}
	salt, err := loadSalt(filepath.Join(dir, SecretsSaltFile))
	if err != nil {
		return nil, fmt.Errorf("the salt of the spool fingerprint: %w", err)
	}
	// Length-prefixed, so no two pairs of secrets give the same input.
	in := []byte("xfer spool secrets v1\x00")
	in = binary.BigEndian.AppendUint32(in, uint32(len(zipPassword)))
	in = append(in, zipPassword...)
	in = binary.BigEndian.AppendUint32(in, uint32(len(passphrase)))
	in = append(in, passphrase...)
	defer clear(in)
	// A send of many files pays the scrypt once, not once a file (nor
	// once a file at once: its 16 MiB each would add up).
	verifiers.Lock()
	defer verifiers.Unlock()
	memo := sha256.Sum256(append(append([]byte(nil), salt...), in...))
	if v, ok := verifiers.m[memo]; ok {
		return v, nil
	}
	v, err := scrypt.Key(in, salt, 1<<verifierLogN, verifierR, verifierP, 32)
	if err != nil {
		return nil, err
	}
	if verifiers.m == nil || len(verifiers.m) >= maxVerifiers {
		verifiers.m = map[[sha256.Size]byte][]byte{}
	}
	verifiers.m[memo] = v
	return v, nil
}

// verifiers are the verifiers this process computed, by a hash of their
// salt and input (the secrets, hashed: never kept themselves).
var verifiers struct {
	sync.Mutex
	m map[[sha256.Size]byte][]byte
}

// maxVerifiers bounds the verifiers kept (a process sees one set of
// secrets, a test many).
const maxVerifiers = 16

// loadSalt reads the salt at path, creating it on first use. Two runs
// creating it at once agree: the file is linked into place whole, and the
// one that finds it there reads it.
func loadSalt(path string) ([]byte, error) {
	for range 2 {
		b, err := os.ReadFile(path)
		if err == nil && len(b) == saltSize {
			return b, nil
		}
		switch {
		case err == nil:
			// Not what xfer writes (it links the whole file into
			// place): replace it. Spools bound to it only seal again.
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
		salt := make([]byte, saltSize)
		if _, err := io.ReadFull(rand.Reader, salt); err != nil {
			return nil, err
		}
		f, err := safefile.Create(path)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(salt); err != nil {
			f.Abort()
			return nil, err
		}
		err = f.Commit()
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return salt, nil
	}
	return nil, fmt.Errorf("%s keeps changing", path)
}
