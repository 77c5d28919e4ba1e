// Package crypt is xfer's outer encryption layer. It seals a byte stream
// (the inner zip) either as an age file or as an xfer-aes256 file, and opens
// both, telling them apart from their first bytes.
//
// It promises:
//   - streaming in both directions with bounded memory: one 64 KiB chunk,
//     never the whole file, and never a single AEAD call over the whole file;
//   - no plaintext byte is returned before the header and the chunk that
//     carries it have been authenticated, and a truncated, extended,
//     reordered or altered file always ends in an error, never in io.EOF;
//   - errors carry their category: [ErrNoIdentity] when none of the given
//     identities, keys or passphrases opens the file, [ErrIntegrity] when the
//     file is damaged, tampered with or not a sealed file at all. Errors from
//     the underlying reader are returned as they are, in neither category;
//   - passphrase key derivation is capped at scrypt work factor 2^18 when
//     decrypting, so a hostile header cannot demand unbounded memory or time;
//   - errors never contain key material.
//
// It never writes files, reads the environment or prompts: keys, identities
// and passphrases are passed in by the caller.
//
// The xfer-aes256 format is specified in docs/format-aes256.md.
package crypt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"unicode"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// Cipher names the outer layer used when encrypting.
type Cipher string

const (
	CipherAge    Cipher = "age"
	CipherAES256 Cipher = "aes256"
)

// ParseCipher returns the Cipher named by s ("age" or "aes256"). The empty
// string means age.
func ParseCipher(s string) (Cipher, error) {
	switch Cipher(s) {
	case "", CipherAge:
		return CipherAge, nil
	case CipherAES256:
		return CipherAES256, nil
	}
	return "", fmt.Errorf("unknown cipher %q (want %q or %q)", s, CipherAge, CipherAES256)
}

// Format is the kind of sealed file, as recognised by [Detect].
type Format int

const (
	FormatUnknown    Format = iota
	FormatAge               // binary age v1
	FormatAgeArmored        // age v1 in its PEM-like ASCII armor
	FormatAES256            // xfer-aes256, see docs/format-aes256.md
)

func (f Format) String() string {
	switch f {
	case FormatAge:
		return "age"
	case FormatAgeArmored:
		return "age (armored)"
	case FormatAES256:
		return "aes256"
	}
	return "unknown"
}

// Cipher returns the cipher that produces files of this format, or "" for
// FormatUnknown.
func (f Format) Cipher() Cipher {
	switch f {
	case FormatAge, FormatAgeArmored:
		return CipherAge
	case FormatAES256:
		return CipherAES256
	}
	return ""
}

// DetectSize is the number of leading bytes [Detect] needs to recognise every
// format: armored age files may start with up to 1 KiB of whitespace.
const DetectSize = maxArmorWhitespace + len(armor.Header)

// maxArmorWhitespace is the leading whitespace age's armor reader tolerates.
const maxArmorWhitespace = 1024

const (
	ageMagicPrefix    = "age-encryption.org/"
	aes256MagicPrefix = "xfer-aes256/"
)

// Detect reports the format of a file from its first bytes; pass up to
// [DetectSize] of them (fewer only when the file is shorter). Detect looks at
// the format name only, not its version: a file from a newer version of a
// format is reported as that format and then fails to open with a clear
// error, rather than being called unknown.
func Detect(prefix []byte) Format {
	switch {
	case bytes.HasPrefix(prefix, []byte(ageMagicPrefix)):
		return FormatAge
	case bytes.HasPrefix(prefix, []byte(aes256MagicPrefix)):
		return FormatAES256
	}
	if len(prefix) > DetectSize {
		prefix = prefix[:DetectSize]
	}
	if bytes.HasPrefix(bytes.TrimLeftFunc(prefix, unicode.IsSpace), []byte(armor.Header)) {
		return FormatAgeArmored
	}
	return FormatUnknown
}

var (
	// ErrNoIdentity means none of the given identities, keys or passphrases
	// opens the file: wrong key, wrong passphrase, or none of the right kind
	// given. The CLI maps it to exit code 3.
	ErrNoIdentity = errors.New("no identity matches the file")

	// ErrIntegrity means the file is not a well-formed sealed file: it was
	// tampered with, truncated or extended, its header is malformed, a MAC or
	// chunk failed authentication, or its format is unknown. The CLI maps it
	// to exit code 4. The detail is wrapped with it.
	ErrIntegrity = errors.New("integrity check failed")
)

func integrityErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrIntegrity}, args...)...)
}

func noIdentityErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrNoIdentity}, args...)...)
}

// EncryptOptions says how [NewWriter] seals a file.
type EncryptOptions struct {
	// Cipher selects the outer layer; "" means age.
	Cipher Cipher

	// Recipients are age recipients (X25519 "age1…", hybrid post-quantum
	// "age1pq1…", SSH "ssh-ed25519 …"/"ssh-rsa …", see [ParseRecipient]).
	// Only for age, and not together with Passphrase.
	Recipients []age.Recipient

	// Passphrase seals with a passphrase: for age an scrypt recipient at
	// age's default work factor (2^18), for aes256 the scrypt KEK of
	// docs/format-aes256.md, also at 2^18. The bytes are used as given.
	Passphrase []byte

	// AESKey seals an aes256 file under a key file's key. Only for aes256,
	// and not together with Passphrase.
	AESKey *AESKey
}

// writerConfig holds what tests inject: the randomness of the aes256 header
// and a lower scrypt work factor than production uses.
type writerConfig struct {
	rand       io.Reader
	scryptLogN int // 0 means defaultScryptLogN
}

// defaultScryptLogN is the work factor used when encrypting with a
// passphrase and the cap when decrypting, for both formats: 2^18 is age's
// default, about a second and 256 MiB.
const defaultScryptLogN = 18

// NewWriter starts a sealed file on dst and returns a WriteCloser that
// encrypts what is written to it. The header is written before NewWriter
// returns. Close flushes the last chunk. It does not close the underlying
// Writer. Without a successful Close the file is incomplete and will not
// open.
func NewWriter(dst io.Writer, opts EncryptOptions) (io.WriteCloser, error) {
	return newWriter(dst, opts, writerConfig{})
}

func newWriter(dst io.Writer, opts EncryptOptions, cfg writerConfig) (io.WriteCloser, error) {
	c, err := ParseCipher(string(opts.Cipher))
	if err != nil {
		return nil, err
	}
	if cfg.scryptLogN == 0 {
		cfg.scryptLogN = defaultScryptLogN
	}
	switch c {
	case CipherAES256:
		if len(opts.Recipients) > 0 {
			return nil, errors.New("age recipients can't be used with the aes256 cipher, use a key file or a passphrase")
		}
		switch {
		case opts.AESKey != nil && len(opts.Passphrase) > 0:
			return nil, errors.New("give the aes256 cipher a key file or a passphrase, not both")
		case opts.AESKey != nil:
			return newAESWriter(dst, aesKeyKEK(opts.AESKey), cfg)
		case len(opts.Passphrase) > 0:
			return newAESWriter(dst, aesPassphraseKEK(opts.Passphrase, cfg.scryptLogN), cfg)
		}
		return nil, errors.New("the aes256 cipher needs a key file or a passphrase")
	default:
		if opts.AESKey != nil {
			return nil, errors.New("an AES key file can only be used with the aes256 cipher")
		}
		return newAgeWriter(dst, opts, cfg)
	}
}

// Identities is everything that may open a sealed file. All of them are
// tried; the file's header says which kind can apply.
type Identities struct {
	// Age identities: X25519, hybrid post-quantum, SSH. An
	// *age.ScryptIdentity given here is used as is, without xfer's work
	// factor cap: pass passphrases in Passphrase instead.
	Age []age.Identity
	// AES are xfer-aes256 key-file keys.
	AES []AESKey
	// Passphrase opens passphrase-sealed files of both formats, with the
	// scrypt work factor capped at 2^18.
	Passphrase []byte
}

// readerConfig holds what tests inject.
type readerConfig struct {
	maxScryptLogN int // 0 means defaultScryptLogN
}

func (c readerConfig) maxLogN() int {
	if c.maxScryptLogN == 0 {
		return defaultScryptLogN
	}
	return c.maxScryptLogN
}

// NewReader detects the format of src and returns a Reader of its plaintext.
// It reads and authenticates the header before returning; the payload is
// decrypted and authenticated chunk by chunk as it is read, so the plaintext
// must be treated as provisional until Read returns io.EOF. Any other error
// from Read means the file is not intact. The detected format is returned
// even with an error, when known.
func NewReader(src io.Reader, ids Identities) (io.Reader, Format, error) {
	return newReader(src, ids, readerConfig{})
}

func newReader(src io.Reader, ids Identities, cfg readerConfig) (io.Reader, Format, error) {
	in := bufio.NewReaderSize(&sourceReader{r: src}, DetectSize)
	prefix, err := in.Peek(DetectSize)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return nil, FormatUnknown, classify(err)
	}
	f := Detect(prefix)
	var r io.Reader
	switch f {
	case FormatAge:
		r, err = newAgeReader(in, ids, cfg)
	case FormatAgeArmored:
		r, err = newAgeReader(armor.NewReader(in), ids, cfg)
	case FormatAES256:
		r, err = newAESReader(in, ids, cfg)
	default:
		err = unknownFormatErr(prefix)
	}
	if err != nil {
		return nil, f, err
	}
	return r, f, nil
}

func unknownFormatErr(prefix []byte) error {
	if len(prefix) == 0 {
		return integrityErr("empty input, not a sealed file")
	}
	return integrityErr("not a sealed file (neither age nor xfer-aes256)")
}

// NewReaderAt opens the sealed file of the given size in src for random
// access, for example to hand the plaintext to archive/zip. It returns the
// plaintext as a ReaderAt and its size. It authenticates the header and the
// final chunk (and with it the plaintext size) before returning; every other
// chunk is authenticated when read. The ReadAt method of the result may be
// called concurrently; it caches the most recently decrypted chunk.
//
// Armored age files (age -a) are read in place: their armor is checked
// and indexed first, in one pass, and decoded as the plaintext is read.
func NewReaderAt(src io.ReaderAt, size int64, ids Identities) (io.ReaderAt, int64, Format, error) {
	return newReaderAt(src, size, ids, readerConfig{})
}

func newReaderAt(src io.ReaderAt, size int64, ids Identities, cfg readerConfig) (io.ReaderAt, int64, Format, error) {
	if size < 0 {
		return nil, 0, FormatUnknown, fmt.Errorf("negative size %d", size)
	}
	in := &sourceReaderAt{r: src}
	prefix := make([]byte, min(size, int64(DetectSize)))
	if err := readFullAt(in, prefix, 0); err != nil {
		return nil, 0, FormatUnknown, classify(err)
	}
	f := Detect(prefix)
	var (
		r   io.ReaderAt
		n   int64
		err error
	)
	switch f {
	case FormatAge:
		r, n, err = newAgeReaderAt(in, size, ids, cfg)
	case FormatAgeArmored:
		var ar *armoredReaderAt
		if ar, n, err = newArmoredReaderAt(in, size); err == nil {
			r, n, err = newAgeReaderAt(ar, n, ids, cfg)
		}
	case FormatAES256:
		r, n, err = newAESReaderAt(in, size, ids, cfg)
	default:
		err = unknownFormatErr(prefix)
	}
	if err != nil {
		return nil, 0, f, err
	}
	return r, n, f, nil
}
