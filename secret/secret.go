// Package secret owns the secrets people handle by hand: the zip password,
// the passphrase and the key files they save, copy and read out over the
// phone. It promises four things about them:
//
//   - a secret or key file means what its author typed, whichever editor
//     saved it: a UTF-8 byte order mark is dropped, UTF-16 with a byte order
//     mark is decoded, CRLF line ends are LF (see [DecodeText], [Parse]);
//   - a password is one line of visible characters, and the zip password
//     policy is judged on exactly the bytes that will be used
//     ([CheckZipPassword]), including a strength estimate (zxcvbn);
//   - new zip passwords are random, at least 80 bits, and easy to read
//     aloud ([GenerateZipPassword]);
//   - short check codes let two people compare a recipient or a zip
//     password by phone without saying it ([RecipientCheckCode],
//     [ZipPasswordCheckCode]).
//
// It never puts a secret, or any part of one, into an error message.
package secret

import (
	"errors"
)

// ErrPolicy is matched by every error that rejects a password or
// passphrase: its shape (control characters, surrounding spaces, not UTF-8)
// or, for a zip password being chosen, the policy. The CLI maps it to exit
// code 6.
var ErrPolicy = errors.New("zip password rejected by policy")

// PolicyError says why a secret was rejected. It never holds the secret.
type PolicyError struct {
	What string // "zip password", "passphrase"
	Why  string // what is wrong, e.g. "it begins or ends with a space"
}

func (e *PolicyError) Error() string { return e.What + " rejected: " + e.Why }

// Is makes a PolicyError match ErrPolicy.
func (e *PolicyError) Is(target error) bool { return target == ErrPolicy }
