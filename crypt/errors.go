package crypt

import (
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// sourceError marks an error that came from the caller's reader, so that it
// can be told apart from a problem with the file after age or the aes256
// reader has wrapped it: a dropped network connection is not tampering.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// sourceReader marks every error of r except io.EOF as a sourceError.
type sourceReader struct{ r io.Reader }

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = &sourceError{err}
	}
	return n, err
}

// sourceReaderAt marks every error of r except io.EOF as a sourceError.
type sourceReaderAt struct{ r io.ReaderAt }

func (s *sourceReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.r.ReadAt(p, off)
	if err != nil && err != io.EOF {
		err = &sourceError{err}
	}
	return n, err
}

// readFullAt reads exactly len(p) bytes at off. A source that ends early
// yields io.ErrUnexpectedEOF: the file is shorter than its stated size.
func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	switch {
	case n == len(p):
		// io.ReaderAt may return io.EOF with a full read at the end.
		return nil
	case err == nil || err == io.EOF:
		return io.ErrUnexpectedEOF
	}
	return err
}

// classify puts an error from reading or opening a file into its category:
// errors of the caller's reader are returned as they are (with context),
// age's no-match error becomes ErrNoIdentity, and everything else is
// ErrIntegrity, since the only remaining cause is the file itself.
func classify(err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if errors.Is(err, ErrIntegrity) || errors.Is(err, ErrNoIdentity) {
		return err
	}
	var se *sourceError
	if errors.As(err, &se) {
		return fmt.Errorf("reading input: %w", se.err)
	}
	var nm *age.NoIdentityMatchError
	if errors.As(err, &nm) {
		return fmt.Errorf("%w: %w", ErrNoIdentity, err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return integrityErr("file is truncated: %w", err)
	}
	return fmt.Errorf("%w: %w", ErrIntegrity, err)
}

// classifyingReader passes every error of r through classify.
type classifyingReader struct{ r io.Reader }

func (c *classifyingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	return n, classify(err)
}
