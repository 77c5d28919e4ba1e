package secret

import (
	"crypto/sha256"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Check codes are short strings two people read to each other to confirm
// they hold the same recipient or zip password, without saying it. They
// are written in Crockford's base32 alphabet, lower case (no i, l, o, u),
// which reads unambiguously over the phone.
const codeAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

const (
	recipientCodeDomain = "xfer recipient check code v1"
	passwordCodeDomain  = "xfer zip password check code v1"
)

// Argon2id parameters of the zip password check code (RFC 9106's second
// recommended set): 3 passes over 64 MiB per code, so that each guess
// tested against a code costs as much.
const (
	codeTime    = 3
	codeMemory  = 64 << 10 // KiB
	codeThreads = 4
)

// PasswordCodeChars is the length of a zip password check code: 4
// characters, 20 bits. Two different passwords share a code with
// probability 2^-20, which is enough to catch a typo, a stray byte order
// mark or the wrong file; and the code tells someone who guesses passwords
// no more than those 20 bits (see docs/threat-model.md).
const PasswordCodeChars = 4

// RecipientCodeChars is the length of a recipient check code: 12
// characters, 60 bits, shown in groups of four. A recipient is public, so
// the code reveals nothing; it is long because someone who wants their own
// key accepted would search for a key whose code matches.
const RecipientCodeChars = 12

// ZipPasswordCheckCode returns the check code of a zip password: Argon2id
// of the password under a fixed domain string as salt (both sides must get
// the same code without sharing anything else), cut to
// PasswordCodeChars characters.
func ZipPasswordCheckCode(pw []byte) string {
	k := argon2.IDKey(pw, []byte(passwordCodeDomain), codeTime, codeMemory, codeThreads, 16)
	return encode(k, PasswordCodeChars)
}

// RecipientCheckCode returns the check code of an age recipient (age1…,
// age1pq1…) or SSH public key (type and key; the comment is left out), in
// groups of four characters: SHA-256 of a domain string and the
// recipient's canonical text.
func RecipientCheckCode(recipient string) string {
	h := sha256.Sum256([]byte(recipientCodeDomain + "\n" + CanonicalRecipient(recipient)))
	c := encode(h[:], RecipientCodeChars)
	return c[0:4] + "-" + c[4:8] + "-" + c[8:12]
}

// CanonicalRecipient is the text a recipient's check code is computed
// over: age recipients in lower case (bech32 ignores case), SSH keys as
// their type and base64 key without the comment.
func CanonicalRecipient(r string) string {
	r = strings.TrimSpace(r)
	if strings.HasPrefix(strings.ToLower(r), "age1") {
		return strings.ToLower(r)
	}
	if f := strings.Fields(r); len(f) >= 2 && strings.HasPrefix(f[0], "ssh-") {
		return f[0] + " " + f[1]
	}
	return r
}

// encode writes the first n×5 bits of b in codeAlphabet.
func encode(b []byte, n int) string {
	out := make([]byte, n)
	var acc uint64
	bits, j := 0, 0
	for i := range out {
		for bits < 5 {
			acc = acc<<8 | uint64(b[j])
			j++
			bits += 8
		}
		bits -= 5
		out[i] = codeAlphabet[(acc>>bits)&31]
	}
	return string(out)
}
