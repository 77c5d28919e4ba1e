package secret

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/xfer-dev/xfer/internal/fileperm"
)

const (
	// maxSecretFileSize bounds a zip password or passphrase file: a
	// longer one is a wrong path, not a password.
	maxSecretFileSize = 64 << 10
	// maxKeyFileSize bounds recipient, identity and key files, as age does.
	maxKeyFileSize = 16 << 20
	// rawKeySize is the size of a raw AES-256 or SSE-C key file.
	rawKeySize = 32
)

// ErrTooLarge is wrapped when a secret or key file is larger than any such
// file can be.
var ErrTooLarge = errors.New("file too large")

// ReadSecretFile reads a zip password or passphrase file and returns the
// secret it holds (see Parse). File system errors are returned as they
// are; a rejected content matches ErrPolicy.
func ReadSecretFile(what, path string) ([]byte, error) {
	b, err := readBounded(path, maxSecretFileSize)
	if err != nil {
		return nil, err
	}
	return Parse(what, b)
}

// ReadKeyFile reads a recipients, identity or AES key file. Exactly 32
// bytes are a raw key and are returned untouched (a random key may well
// begin like a byte order mark); anything else is text and is decoded
// (see DecodeText).
func ReadKeyFile(path string) ([]byte, error) {
	b, err := readBounded(path, maxKeyFileSize)
	if err != nil {
		return nil, err
	}
	if len(b) == rawKeySize {
		return b, nil
	}
	t, err := DecodeText(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: %w (more than %d bytes)", path, ErrTooLarge, limit)
	}
	return b, nil
}

// Exposed says whether users other than the file's owner may read the
// secret or key file at path: "" when they may not (or when it cannot
// tell), else how, for a warning ("mode 0644", or on Windows the accounts
// its DACL lets in), and the command that fixes it. It is the one place
// that judges a secret file's permissions, so every command and doctor
// warn alike.
func Exposed(path string) (how, fix string) {
	e, err := fileperm.Check(path)
	if err != nil || e == nil {
		return "", ""
	}
	return e.Detail, e.Fix
}
