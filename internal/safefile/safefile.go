// Package safefile writes output files so that a reader never sees half of
// one: the data goes to a private temporary file (mode 0600; on Windows an
// owner-only DACL, see internal/fileperm) beside the target, which
// is moved into place only when the writer commits. An aborted or crashed
// write never leaves a partial target, and a committed write never replaces
// a file that already exists.
//
// Replace is the one exception: for files rewritten whole, such as a cache,
// its Commit swaps the new file for the old one atomically.
//
// On Linux the temporary file has no name at all (O_TMPFILE) and is linked
// to its target on commit, so a process killed while writing leaves
// nothing behind: the kernel frees the file. Elsewhere, or on a file system
// without O_TMPFILE, it is a named file starting with TempPrefix, which a
// crash can leave behind.
package safefile

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
)

// ErrExists is returned by Commit when the target appeared meanwhile, and
// by Create when it already exists.
var ErrExists = fs.ErrExist

// TempPrefix starts the name of every temporary file, so that cleanup tools
// and tests can recognise them.
const TempPrefix = ".xfer-tmp-"

// File is an output file being written.
type File struct {
	*os.File
	target  string
	done    bool
	anon    bool // an O_TMPFILE: nameless until Commit links it
	replace bool // Commit replaces an existing target

	wb     Writeback
	direct *directBuffer // non-nil: writes bypass the page cache (Direct)
}

// Write writes p at the end of the file, starting the kernel's writeback
// as it goes (see Writeback), so that Commit's flush finds little left to
// do instead of the whole file.
func (f *File) Write(p []byte) (int, error) {
	if f.direct != nil {
		return f.writeDirect(p)
	}
	n, err := f.File.Write(p)
	f.wb.Appended(f.File, n)
	return n, err
}

// Direct asks that f's writes bypass the operating system's page cache
// where it allows that for this file: on Linux, O_DIRECT on a local disk
// file system (ext4, XFS, btrfs); elsewhere, on a network share or in
// memory (tmpfs), nothing changes. It is for large outputs, such as a
// pulled CSV, that Commit flushes to the disk before naming them anyway:
// the data goes to the disk as it is written, instead of being copied
// into the cache first and written back later. On the project's VM,
// copying a 1 GiB CSV into the cache cost 2 to 3.5 s of system time in
// some runs (the kernel filling new page-cache folios) and 0.5 s written
// directly. Writes are gathered into aligned pieces of directChunk bytes;
// Commit writes the last, partial one through the cache. Call it before
// the first Write, and write only with Write (the embedded os.File's
// WriteString, WriteAt and ReadFrom would go around the buffer); it
// reports whether it took effect.
func (f *File) Direct() bool {
	if f.direct != nil || f.done || !localDisk(f.File) || !setDirect(f.File, true) {
		return f.direct != nil
	}
	f.direct = &directBuffer{buf: alignedBuffer(directChunk, directAlign)}
	return true
}

// directChunk is the size of Direct's writes, directAlign the alignment
// of their memory, offset and length, enough for any disk's sectors.
const (
	directChunk = 1 << 20
	directAlign = 4096
)

// directBuffer gathers a Direct file's writes into whole chunks.
type directBuffer struct {
	buf []byte
	n   int
}

func (f *File) writeDirect(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		d := f.direct
		m := copy(d.buf[d.n:], p[done:])
		d.n += m
		done += m
		if d.n == len(d.buf) {
			if err := f.flushDirect(); err != nil {
				return done, err
			}
		}
	}
	return done, nil
}

// flushDirect writes what the buffer holds. A file system that refuses an
// aligned direct write (EINVAL, before writing anything) gets it, and
// everything after it, through the cache; so does the last, partial piece
// (last: Commit's call), whose length is not aligned.
func (f *File) flushDirect() error {
	d := f.direct
	if d.n < len(d.buf) {
		setDirect(f.File, false)
		f.direct = nil
	}
	_, err := f.File.Write(d.buf[:d.n])
	if errors.Is(err, syscall.EINVAL) && f.direct != nil && setDirect(f.File, false) {
		f.direct = nil
		_, err = f.File.Write(d.buf[:d.n])
	}
	d.n = 0
	return err
}

// writebackEvery is how much a Writeback lets accumulate before it asks
// the kernel to start writing it out.
const writebackEvery = 8 << 20

// Writeback gives the kernel a head start on a file that grows by
// appends and will be flushed (fsync) later: every few megabytes it asks
// for what came before to be written out, without waiting (Linux's
// sync_file_range; nothing elsewhere). The final flush then has little
// left to do, instead of the whole file at once. It promises nothing about
// durability: that is still the fsync's job. The zero value is ready.
type Writeback struct{ written, started int64 }

// Appended records that n more bytes were appended to f.
func (w *Writeback) Appended(f *os.File, n int) {
	w.written += int64(n)
	if w.written-w.started >= writebackEvery {
		StartWriteback(f, w.started, w.written-w.started)
		w.started = w.written
	}
}

// Create starts writing target. It fails with an error wrapping ErrExists
// when target exists, so that nothing is computed for an output that could
// not be kept.
func Create(target string) (*File, error) {
	if _, err := os.Lstat(target); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, target)
	}
	return create(&File{target: target})
}

// Replace starts writing target, which Commit replaces if it exists,
// atomically: a reader opens the old file or the new one, never a mix, and
// of two writers the last to commit wins.
func Replace(target string) (*File, error) {
	return create(&File{target: target, replace: true})
}

func create(sf *File) (*File, error) {
	var err error
	if sf.File, sf.anon, err = createTemp(filepath.Dir(sf.target)); err != nil {
		return nil, err
	}
	if err := sf.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		sf.Abort()
		return nil, err
	}
	return sf, nil
}

// Commit flushes the data to stable storage, closes the file and moves it to
// its target without replacing anything that exists there, unless the file
// was started by Replace.
func (f *File) Commit() error {
	if f.done {
		return errors.New("already committed or aborted")
	}
	f.done = true
	tmp := f.Name()
	var err error
	if f.direct != nil {
		err = f.flushDirect()
	}
	if err == nil {
		err = f.Sync()
	}
	switch {
	case err != nil:
	case f.anon && f.replace:
		// A link cannot replace: give the file a temporary name to rename.
		tmp = filepath.Join(filepath.Dir(f.target), TempPrefix+strconv.FormatUint(rand.Uint64(), 36))
		if err = linkAnon(f.File, tmp); err == nil {
			f.anon = false
		}
	case f.anon:
		err = linkAnon(f.File, f.target)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	switch {
	case err != nil || f.anon:
	case f.replace:
		err = os.Rename(tmp, f.target)
	default:
		err = renameNoReplace(tmp, f.target)
	}
	if err != nil {
		if !f.anon {
			os.Remove(tmp)
		}
		return err
	}
	syncDir(filepath.Dir(f.target))
	return nil
}

// Abort discards the data. It is safe to call after Commit, which makes it
// a good defer.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.Close()
	if !f.anon {
		os.Remove(f.Name())
	}
}

// renameNoReplace moves tmp to target unless target exists. A hard link is
// atomic and fails on an existing target; where the file system has no hard
// links, a check and a rename is the best that remains.
func renameNoReplace(tmp, target string) error {
	err := os.Link(tmp, target)
	if err == nil {
		return os.Remove(tmp)
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%w: %s", ErrExists, target)
	}
	if _, serr := os.Lstat(target); serr == nil {
		return fmt.Errorf("%w: %s", ErrExists, target)
	}
	return os.Rename(tmp, target)
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync() // best effort: not every platform can sync a directory
		d.Close()
	}
}
