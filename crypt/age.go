package crypt

import (
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

func newAgeWriter(dst io.Writer, opts EncryptOptions, cfg writerConfig) (io.WriteCloser, error) {
	recipients := opts.Recipients
	if len(opts.Passphrase) > 0 {
		if len(recipients) > 0 {
			// age only allows an scrypt stanza on its own: a passphrase
			// file must not be openable by anyone else.
			return nil, errors.New("age can't seal to a passphrase and to recipients at the same time")
		}
		r, err := age.NewScryptRecipient(string(opts.Passphrase))
		if err != nil {
			return nil, err
		}
		r.SetWorkFactor(cfg.scryptLogN)
		recipients = []age.Recipient{r}
	}
	if len(recipients) == 0 {
		return nil, errors.New("the age cipher needs at least one recipient or a passphrase")
	}
	w, err := age.Encrypt(dst, recipients...)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// ageIdentities returns the age identities to try: ids.Age, plus an scrypt
// identity for ids.Passphrase with the work factor capped.
func ageIdentities(ids Identities, cfg readerConfig) ([]age.Identity, error) {
	list := ids.Age
	if len(ids.Passphrase) > 0 {
		s, err := age.NewScryptIdentity(string(ids.Passphrase))
		if err != nil {
			return nil, err
		}
		s.SetMaxWorkFactor(cfg.maxLogN())
		list = append(list[:len(list):len(list)], s)
	}
	if len(list) == 0 {
		// Let age parse the header anyway, so a malformed file is reported
		// as such whatever identities were given.
		list = []age.Identity{noAgeIdentity{}}
	}
	return list, nil
}

// noAgeIdentity stands in when no age identity was given; it matches nothing.
type noAgeIdentity struct{}

func (noAgeIdentity) Unwrap([]*age.Stanza) ([]byte, error) {
	return nil, fmt.Errorf("%w: the file is sealed with age, but no age identity or passphrase was given", age.ErrIncorrectIdentity)
}

func newAgeReader(src io.Reader, ids Identities, cfg readerConfig) (io.Reader, error) {
	list, err := ageIdentities(ids, cfg)
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(src, list...)
	if err != nil {
		return nil, classify(err)
	}
	return &classifyingReader{r}, nil
}

func newAgeReaderAt(src io.ReaderAt, size int64, ids Identities, cfg readerConfig) (io.ReaderAt, int64, error) {
	list, err := ageIdentities(ids, cfg)
	if err != nil {
		return nil, 0, err
	}
	r, n, err := age.DecryptReaderAt(src, size, list...)
	if err != nil {
		return nil, 0, classify(err)
	}
	return &ageReaderAt{r: r, size: n}, n, nil
}

// ageReaderAt classifies the errors of age's ReaderAt and answers reads
// outside the plaintext itself, as age treats them as errors.
type ageReaderAt struct {
	r    io.ReaderAt
	size int64
}

func (a *ageReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= a.size {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := a.r.ReadAt(p, off)
	return n, classify(err)
}
