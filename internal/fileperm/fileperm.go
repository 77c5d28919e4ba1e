// Package fileperm keeps files that hold secrets or plaintext private to
// the user who runs xfer: it creates them owner-only, and it tells when an
// existing file is open to others.
//
// On Unix, private means mode 0600 and a file is open to others when any
// group or other permission bit is set. On Windows a mode only sets the
// read-only attribute, so there private means a protected DACL (no
// inherited entries) that grants full control to the current user and
// SYSTEM alone, and a file is open to others when its DACL allows anyone
// but its owner, the current user, SYSTEM or Administrators to read, write
// or re-permission it. Administrators are accepted because they can take
// any file anyway; xfer never grants them access itself.
//
// It changes nothing about files that already exist, except through
// Restrict, and never weakens a file's protection.
package fileperm

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// OpenPrivate is os.OpenFile for a file that must be private: a file it
// creates is owner-only from the start (mode 0600 on Unix, the owner-only
// DACL on Windows, set atomically by CreateFile so no other user can open
// it in between). An existing file keeps its permissions.
func OpenPrivate(name string, flag int) (*os.File, error) {
	return openPrivate(name, flag)
}

// CreateTemp is os.CreateTemp for a private file: a new file in dir whose
// name is pattern with its last "*" replaced by a random string (or the
// string appended, without a "*"), created as OpenPrivate creates files
// and opened for reading and writing.
func CreateTemp(dir, pattern string) (*os.File, error) {
	prefix, suffix, err := splitPattern(pattern)
	if err != nil {
		return nil, err
	}
	if dir == "" {
		dir = os.TempDir()
	}
	for try := 0; ; try++ {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36)+suffix)
		f, err := openPrivate(name, os.O_RDWR|os.O_CREATE|os.O_EXCL)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, err
	}
}

// MkdirAll is os.MkdirAll for a directory that must be private: each
// directory it creates is mode 0700 on Unix, and on Windows gets the
// owner-only DACL, which what is later created inside it inherits.
// Directories that exist are left as they are.
func MkdirAll(path string) error { return mkdirAll(path) }

// Restrict makes the existing file at path private (chmod 0600 on Unix;
// on Windows it replaces the DACL with the owner-only one and cuts
// inheritance).
func Restrict(path string) error { return restrict(path) }

// An Exposure says who besides the owner can reach a file.
type Exposure struct {
	// Detail names who else can reach it: "mode 0644" on Unix, the
	// accounts on Windows ("BUILTIN\Users, Everyone").
	Detail string
	// Fix is a command that makes the file private, for a hint:
	// `chmod 600 PATH` or `icacls "PATH" /inheritance:r /grant:r "USER:F"`.
	Fix string
}

// Check returns nil when path (followed through symlinks) is private, and
// otherwise who else can read or change it. An error means the
// permissions could not be read at all.
func Check(path string) (*Exposure, error) { return check(path) }

// splitPattern splits a CreateTemp pattern at its last "*", refusing path
// separators as os.CreateTemp does.
func splitPattern(pattern string) (prefix, suffix string, err error) {
	for i := 0; i < len(pattern); i++ {
		if os.IsPathSeparator(pattern[i]) {
			return "", "", &os.PathError{Op: "createtemp", Path: pattern, Err: errors.New("pattern contains path separator")}
		}
	}
	if i := strings.LastIndex(pattern, "*"); i >= 0 {
		return pattern[:i], pattern[i+1:], nil
	}
	return pattern, "", nil
}
