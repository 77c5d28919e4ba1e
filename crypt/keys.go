package crypt

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"

	"filippo.io/age"
	"filippo.io/age/agessh"
	"golang.org/x/crypto/ssh"
)

// ParseRecipient parses one age recipient: X25519 ("age1…"), hybrid
// post-quantum ("age1pq1…") or an SSH public key in authorized_keys form
// ("ssh-ed25519 AAAA… comment", "ssh-rsa AAAA… comment").
func ParseRecipient(s string) (age.Recipient, error) {
	r, err := parseRecipient(s)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func parseRecipient(s string) (age.Recipient, error) {
	s = strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(s, "age1pq1"):
		r, err := age.ParseHybridRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("invalid post-quantum age recipient: %w", err)
		}
		return r, nil
	case strings.HasPrefix(s, "age1"):
		r, err := age.ParseX25519Recipient(s)
		if err != nil {
			return nil, fmt.Errorf("invalid age recipient: %w", err)
		}
		return r, nil
	case strings.HasPrefix(s, "ssh-"):
		r, err := agessh.ParseRecipient(s)
		if err != nil {
			return nil, fmt.Errorf("invalid SSH recipient: %w", err)
		}
		return r, nil
	case strings.HasPrefix(strings.ToUpper(s), "AGE-SECRET-KEY-"), strings.HasPrefix(s, aesKeyPrefix):
		// Don't echo it: it is a secret key given where a public one belongs.
		return nil, errors.New("this is a secret key, not a recipient (give its public key; age-keygen -y prints it)")
	}
	return nil, errors.New("unknown recipient type (want age1…, age1pq1…, ssh-ed25519 … or ssh-rsa …)")
}

// maxKeyFileSize bounds recipient and identity files, as age does.
const maxKeyFileSize = 1 << 24

// ParseRecipientsFile parses a recipients file: one recipient per line (see
// [ParseRecipient]), blank lines and lines starting with "#" ignored.
func ParseRecipientsFile(r io.Reader) ([]age.Recipient, error) {
	lr := &io.LimitedReader{R: r, N: maxKeyFileSize + 1}
	sc := bufio.NewScanner(lr)
	sc.Buffer(nil, 1<<20) // SSH RSA keys make long lines
	var recs []age.Recipient
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if !utf8.ValidString(line) {
			return nil, fmt.Errorf("line %d: not valid UTF-8", n)
		}
		rec, err := parseRecipient(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		recs = append(recs, rec)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading recipients file: %w", err)
	}
	if lr.N == 0 {
		return nil, errors.New("recipients file is too large")
	}
	if len(recs) == 0 {
		return nil, errors.New("no recipients in recipients file")
	}
	return recs, nil
}

// AESKey is an xfer-aes256 key-file key. Its String and GoString methods
// print only its key id, so that it can't end up in a log by accident.
type AESKey [32]byte

const aesKeyPrefix = "XFER-AES256-KEY-"

// GenerateAESKey returns a new random key.
func GenerateAESKey() (*AESKey, error) {
	k := new(AESKey)
	if _, err := rand.Read(k[:]); err != nil {
		return nil, err
	}
	return k, nil
}

// MarshalText returns the key's text form: "XFER-AES256-KEY-" followed by
// 64 lowercase hexadecimal digits.
func (k *AESKey) MarshalText() ([]byte, error) {
	b := make([]byte, 0, len(aesKeyPrefix)+hex.EncodedLen(len(k)))
	b = append(b, aesKeyPrefix...)
	return hex.AppendEncode(b, k[:]), nil
}

// UnmarshalText parses the text form written by MarshalText.
func (k *AESKey) UnmarshalText(text []byte) error {
	if err := k.unmarshalText(text); err != nil {
		return err
	}
	return nil
}

// errMalformedAESKey never echoes the text: it may be a key with a typo.
var errMalformedAESKey = errors.New("malformed AES key (want XFER-AES256-KEY- and 64 lowercase hex digits)")

func (k *AESKey) unmarshalText(text []byte) error {
	s, ok := bytes.CutPrefix(text, []byte(aesKeyPrefix))
	if !ok || len(s) != hex.EncodedLen(len(k)) || !isLowerHex(s) {
		return errMalformedAESKey
	}
	if _, err := hex.Decode(k[:], s); err != nil {
		return errMalformedAESKey
	}
	return nil
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// keyID is the key's identifier in xfer-aes256 headers.
func (k *AESKey) keyID() [keyIDSize]byte {
	h := sha256.New()
	h.Write([]byte(keyIDLabel))
	h.Write(k[:])
	return [keyIDSize]byte(h.Sum(nil))
}

// KeyID returns the key's id as stored in the headers of files sealed with
// it, in hex. It is not secret: it tells which key a file needs.
func (k *AESKey) KeyID() string {
	id := k.keyID()
	return hex.EncodeToString(id[:])
}

// String describes the key without revealing it.
func (k AESKey) String() string { return "AESKey(id " + k.KeyID() + ")" }

// GoString describes the key without revealing it.
func (k AESKey) GoString() string { return k.String() }

// KeyFile returns the contents of a key file for k: comment lines with the
// creation time and key id, then the key's text form.
func (k *AESKey) KeyFile(created time.Time) []byte {
	t, _ := k.MarshalText()
	return fmt.Appendf(nil, "# created: %s\n# key id: %s\n%s\n",
		created.UTC().Format(time.RFC3339), k.KeyID(), t)
}

// ParseIdentityFile parses the contents of an identity file. It accepts
//   - age identity files: "AGE-SECRET-KEY-1…" (X25519) and
//     "AGE-SECRET-KEY-PQ-1…" (hybrid) lines,
//   - xfer AES key files: "XFER-AES256-KEY-…" lines, or exactly 32 raw bytes,
//   - an unencrypted OpenSSH or PEM private key (ssh-ed25519, ssh-rsa).
//
// In text files, blank lines and lines starting with "#" are ignored, and
// age and AES lines may be mixed. Errors name the line, never its content.
func ParseIdentityFile(data []byte) (Identities, error) {
	var ids Identities
	if len(data) > maxKeyFileSize {
		return ids, errors.New("identity file is too large")
	}
	if len(data) == 32 {
		// A text key line is longer, so 32 bytes can only be a raw key.
		ids.AES = []AESKey{AESKey(data)}
		return ids, nil
	}
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte("-----BEGIN")) && bytes.Contains(trimmed, []byte("PRIVATE KEY-----")) {
		return parseSSHIdentity(trimmed)
	}
	if Detect(trimmed) != FormatUnknown {
		return ids, errors.New("the identity file is itself encrypted; decrypt it first (age -d)")
	}
	if !utf8.Valid(data) {
		return ids, errors.New("identity file is neither text nor a 32-byte AES key")
	}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		switch {
		case strings.HasPrefix(line, "AGE-SECRET-KEY-PQ-1"):
			id, err := age.ParseHybridIdentity(line)
			if err != nil {
				return Identities{}, fmt.Errorf("line %d: malformed age post-quantum secret key", n+1)
			}
			ids.Age = append(ids.Age, id)
		case strings.HasPrefix(line, "AGE-SECRET-KEY-1"):
			id, err := age.ParseX25519Identity(line)
			if err != nil {
				return Identities{}, fmt.Errorf("line %d: malformed age secret key", n+1)
			}
			ids.Age = append(ids.Age, id)
		case strings.HasPrefix(line, aesKeyPrefix):
			var k AESKey
			if err := k.unmarshalText([]byte(line)); err != nil {
				return Identities{}, fmt.Errorf("line %d: %w", n+1, err)
			}
			ids.AES = append(ids.AES, k)
		case strings.HasPrefix(line, "age1"), strings.HasPrefix(line, "ssh-"):
			return Identities{}, fmt.Errorf("line %d: this is a public key (a recipient), not an identity", n+1)
		default:
			return Identities{}, fmt.Errorf("line %d: unknown identity type", n+1)
		}
	}
	if len(ids.Age) == 0 && len(ids.AES) == 0 {
		return ids, errors.New("no identities in identity file")
	}
	return ids, nil
}

func parseSSHIdentity(pemBytes []byte) (Identities, error) {
	id, err := agessh.ParseIdentity(pemBytes)
	if err != nil {
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			return Identities{}, errors.New("the SSH private key is passphrase-protected; xfer needs an unencrypted key")
		}
		// ssh's parse errors describe the structure, not the key bytes.
		return Identities{}, fmt.Errorf("unsupported or malformed SSH private key: %w", err)
	}
	return Identities{Age: []age.Identity{id}}, nil
}

// String describes the identities without revealing any secret.
func (ids Identities) String() string {
	keyIDs := make([]string, len(ids.AES))
	for i := range ids.AES {
		keyIDs[i] = ids.AES[i].KeyID()
	}
	return fmt.Sprintf("Identities{Age: %d, AES key ids: [%s], Passphrase: %t}",
		len(ids.Age), strings.Join(keyIDs, " "), len(ids.Passphrase) > 0)
}

// GoString describes the identities without revealing any secret.
func (ids Identities) GoString() string { return ids.String() }

// String describes the options without revealing any secret.
func (o EncryptOptions) String() string {
	key := "none"
	if o.AESKey != nil {
		key = "id " + o.AESKey.KeyID()
	}
	return fmt.Sprintf("EncryptOptions{Cipher: %q, Recipients: %d, Passphrase: %t, AESKey: %s}",
		o.Cipher, len(o.Recipients), len(o.Passphrase) > 0, key)
}

// GoString describes the options without revealing any secret.
func (o EncryptOptions) GoString() string { return o.String() }
