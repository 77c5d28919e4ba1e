package transfer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"

	"github.com/xfer-dev/xfer/internal/fileperm"
	"github.com/xfer-dev/xfer/internal/safefile"
)

// ErrNoSpool is returned by OpenSpool when there is no sealed spool to
// resume from: none at all, one whose sealing never finished, or one made
// from another source.
var ErrNoSpool = errors.New("no resumable spool")

// ErrSpoolBusy means another process holds the spool: two runs sending the
// same file at once.
var ErrSpoolBusy = errors.New("spool in use by another process")

// A Spool is a file of ciphertext on its way to the exchange, with its
// resume journal beside it (path + ".journal"). It can be uploaded while it
// is still being written: the sealer writes to it and closes it, and Upload
// sends each part as soon as the bytes are there.
//
// Spools are created 0600 and locked against other processes for as long as
// the Spool is held; Release lets go. Write and Close may be called from
// another goroutine than Upload.
type Spool struct {
	path        string
	journalPath string
	f           *os.File
	unlock      func()
	wb          safefile.Writeback // written by the one writer only

	mu       sync.Mutex
	changed  chan struct{} // closed and replaced whenever size or state changes
	size     int64
	final    bool
	err      error // from CloseWithError
	released bool
	j        *journal
}

// CreateSpool creates (or truncates) the spool at path for a source
// identified by fingerprint, an opaque string that must change whenever the
// ciphertext would: input file, recipients, cipher, settings. The upload of
// an earlier run recorded in a journal at the same place is marked stale and
// aborted by the next Upload.
func CreateSpool(path, fingerprint string) (*Spool, error) {
	s, err := lockSpool(path, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return nil, err
	}
	j := &journal{Version: journalVersion, Fingerprint: fingerprint}
	if old, err := loadJournal(s.journalPath); err == nil {
		j.Stale, j.Pending, j.Recheck = old.Stale, old.Pending, old.Recheck
		if u, ok := old.upload(); ok {
			j.Stale = append(j.Stale, u)
		}
	}
	if err := s.f.Truncate(0); err != nil {
		s.Release()
		return nil, err
	}
	s.j = j
	if err := j.save(s.journalPath); err != nil {
		s.Release()
		return nil, fmt.Errorf("writing journal: %w", err)
	}
	return s, nil
}

// OpenSpool opens the spool an earlier run left at path, for resuming its
// upload without sealing again. It fails with ErrNoSpool unless the journal
// says the spool was sealed completely from the same fingerprint and the
// file still has the recorded size; the caller then calls CreateSpool.
func OpenSpool(path, fingerprint string) (*Spool, error) {
	j, err := loadJournal(path + ".journal")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: no journal at %s", ErrNoSpool, path+".journal")
		}
		return nil, fmt.Errorf("%w: %v", ErrNoSpool, err)
	}
	switch {
	case j.Fingerprint != fingerprint:
		return nil, fmt.Errorf("%w: %s was made from another source", ErrNoSpool, path)
	case !j.Sealed:
		return nil, fmt.Errorf("%w: sealing %s did not finish", ErrNoSpool, path)
	}
	s, err := lockSpool(path, os.O_RDWR)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: %v", ErrNoSpool, err)
		}
		return nil, err
	}
	// Read the journal again under the lock: another run may have just
	// finished with it.
	if j, err = loadJournal(s.journalPath); err != nil || j.Fingerprint != fingerprint || !j.Sealed {
		s.Release()
		return nil, fmt.Errorf("%w: %s changed while opening it", ErrNoSpool, path)
	}
	fi, err := s.f.Stat()
	if err != nil {
		s.Release()
		return nil, err
	}
	if fi.Size() != j.SpoolSize {
		s.Release()
		return nil, fmt.Errorf("%w: %s is %d bytes, the journal says %d", ErrNoSpool, path, fi.Size(), j.SpoolSize)
	}
	s.j, s.size, s.final = j, j.SpoolSize, true
	return s, nil
}

// RemoveSpool deletes a spool and its journal, if they exist, waiting for
// no one: it fails with ErrSpoolBusy when another process holds the spool.
// It does not abort the upload the journal records (shred does that).
func RemoveSpool(path string) error {
	s, err := lockSpool(path, os.O_RDWR)
	if errors.Is(err, fs.ErrNotExist) {
		return removeIfExists(path + ".journal")
	}
	if err != nil {
		return err
	}
	defer s.Release()
	return s.remove()
}

// lockSpool opens and locks the spool file. The lock is on the spool
// itself, which a successful upload removes while holding it; a run that
// opened the file just before that finds, once it has the lock, that the
// file it holds is no longer the one at path, and opens again.
func lockSpool(path string, flag int) (*Spool, error) {
	for range 3 {
		f, err := fileperm.OpenPrivate(path, flag)
		if err != nil {
			return nil, err
		}
		unlock, err := lockFile(f)
		if err != nil {
			f.Close()
			if errors.Is(err, ErrSpoolBusy) {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return nil, err
		}
		held, err1 := f.Stat()
		atPath, err2 := os.Stat(path)
		if err1 != nil || err2 != nil || !os.SameFile(held, atPath) {
			unlock()
			f.Close()
			continue
		}
		if err := f.Chmod(0o600); err != nil {
			unlock()
			f.Close()
			return nil, err
		}
		// Only the lock's holder writes the journal: a temporary journal
		// found now was left by a run killed while writing it.
		removeJournalTemps(path + ".journal")
		return &Spool{path: path, journalPath: path + ".journal", f: f, unlock: unlock, changed: make(chan struct{})}, nil
	}
	return nil, fmt.Errorf("%s: %w", path, ErrSpoolBusy)
}

// Path returns the spool's file name.
func (s *Spool) Path() string { return s.path }

// Write appends ciphertext to the spool.
func (s *Spool) Write(p []byte) (int, error) {
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return 0, err // the upload gave up: see uploader.abandon
	}
	if s.final || s.released {
		s.mu.Unlock()
		return 0, errors.New("write to a closed spool")
	}
	s.mu.Unlock()
	// Only one writer appends, so the file offset is the size; readers use
	// ReadAt below the published size and never race with this write.
	n, err := s.f.Write(p)
	s.wb.Appended(s.f, n) // Close's fsync then has little left to do
	s.mu.Lock()
	s.size += int64(n)
	s.notify()
	s.mu.Unlock()
	return n, err
}

// Close marks the spool complete: all ciphertext is written, and the
// upload can finish. It records the spool as sealed in the journal, so a
// later run can resume from it. It does not release the spool.
func (s *Spool) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.final {
		return nil
	}
	if s.released {
		return errors.New("spool already released")
	}
	if err := s.f.Sync(); err != nil {
		s.err = err
		s.final = true
		s.notify()
		return err
	}
	s.final = true
	s.j.Sealed, s.j.SpoolSize = true, s.size
	err := s.j.save(s.journalPath)
	if err != nil {
		// Not recorded as sealed, the spool is never resumed from: as
		// good as a failed sealing, which Upload does not complete.
		s.j.Sealed, s.j.SpoolSize = false, 0
		s.err = fmt.Errorf("writing journal: %w", err)
		err = s.err
	}
	s.notify()
	return err
}

// CloseWithError ends the spool unfinished: sealing failed. Upload stops
// with err and discards spool and upload (see Discard); the spool is never
// resumed from.
func (s *Spool) CloseWithError(err error) {
	if err == nil {
		err = errors.New("spool closed with a nil error")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.final {
		return
	}
	s.err, s.final = err, true
	s.notify()
}

// Release closes the file and gives up the lock, leaving spool and journal
// on disk for a later run (unless Upload succeeded and removed them). It is
// safe to call more than once.
func (s *Spool) Release() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released {
		return nil
	}
	s.released = true
	s.notify()
	s.unlock()
	return s.f.Close()
}

// notify wakes everyone waiting for a change. s.mu must be held.
func (s *Spool) notify() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait blocks until the spool holds at least need bytes or is final, and
// returns its size then and whether that is the final size.
func (s *Spool) wait(ctx context.Context, need int64) (size int64, final bool, err error) {
	for {
		s.mu.Lock()
		size, final, err, ch := s.size, s.final, s.err, s.changed
		released := s.released
		s.mu.Unlock()
		if err != nil {
			return size, final, fmt.Errorf("sealing: %w", err)
		}
		if released {
			return size, final, errors.New("spool released during upload")
		}
		if final || size >= need {
			return size, final, nil
		}
		select {
		case <-ctx.Done():
			return size, false, ctx.Err()
		case <-ch:
		}
	}
}

// state returns the size so far and whether it is final.
func (s *Spool) state() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.size, s.final
}

// saveJournal writes the journal after update has changed it.
func (s *Spool) saveJournal(update func(*journal)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if update != nil {
		update(s.j)
	}
	return s.j.save(s.journalPath)
}

// remove deletes spool and journal, holding the lock where the system
// lets an open file be removed, and releasing the spool first elsewhere.
func (s *Spool) remove() error {
	if !canRemoveOpenFile {
		s.Release()
	}
	return errors.Join(removeIfExists(s.path), removeIfExists(s.journalPath))
}
