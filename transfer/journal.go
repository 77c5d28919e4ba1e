package transfer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/xfer-dev/xfer/internal/fileperm"
)

// journalVersion is the format of the resume journal. A journal of another
// version is never resumed from: the upload starts afresh.
const journalVersion = 1

// journal is the resume state of one spool, kept next to it as JSON. It
// records what cannot be recovered from the server: which upload belongs to
// this spool, and whether the spool was sealed completely. The parts list
// is a hint: a resume trusts only parts the server still lists whose
// checksum matches the spool's bytes.
type journal struct {
	Version     int    `json:"version"`
	Fingerprint string `json:"fingerprint"`
	// Sealed is set once the spool holds all of the ciphertext; SpoolSize
	// is then its final size. A spool that was not sealed is never resumed.
	Sealed    bool  `json:"sealed"`
	SpoolSize int64 `json:"spool_size,omitempty"`

	Bucket   string `json:"bucket,omitempty"`
	Key      string `json:"key,omitempty"`
	UploadID string `json:"upload_id,omitempty"`
	PartSize int64  `json:"part_size,omitempty"`
	// Token is stored in the object's metadata, so that an object found in
	// place of an upload that vanished can be recognised as ours (the
	// reply to a completion got lost).
	Token   string    `json:"token,omitempty"`
	Started time.Time `json:"started,omitzero"`
	Parts   []Part    `json:"parts,omitempty"`

	// Stale lists uploads of earlier runs that must be aborted.
	Stale []uploadRef `json:"stale,omitempty"`
	// Pending records a CreateUpload whose reply never came: the server
	// may have started an upload that no journal names.
	Pending *pendingCreate `json:"pending,omitempty"`
	// Recheck is the earliest such create whose uploads were aborted
	// already: a request still on its way then (a run killed while its
	// CreateUpload was in flight) may start an upload after that, so the
	// run that completes looks again.
	Recheck *pendingCreate `json:"recheck,omitempty"`
}

type pendingCreate struct {
	Bucket string    `json:"bucket"`
	Key    string    `json:"key"`
	At     time.Time `json:"at"`
}

type uploadRef struct {
	Bucket   string `json:"bucket"`
	Key      string `json:"key"`
	UploadID string `json:"upload_id"`
}

// loadJournal reads a journal. A missing file is fs.ErrNotExist; a
// malformed or foreign-version one is an error the caller treats as no
// journal.
func loadJournal(path string) (*journal, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var j journal
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if j.Version != journalVersion {
		return nil, fmt.Errorf("journal %s: format version %d, this xfer reads %d", path, j.Version, journalVersion)
	}
	return &j, nil
}

// save writes the journal atomically: a temporary file in the same
// directory, synced, then renamed over the old one. Mode 0600: it names
// the bucket and key.
func (j *journal) save(path string) error { return j.write(path, true) }

// write is save, with the sync optional: a journal that only lists more
// parts need not survive a power cut, since the server's part list is the
// truth on resume. The rename keeps it whole either way.
func (j *journal) write(path string, sync bool) error { return writeJSONAtomic(path, j, sync) }

// writeJSONAtomic writes v as JSON to path through a temporary file in the
// same directory (mode 0600), renamed into place: a reader sees the old
// file or the new one, never half of one.
func writeJSONAtomic(path string, v any, sync bool) error {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return err
	}
	f, err := fileperm.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}

// removeJournalTemps removes the temporary files writeJSONAtomic made for
// path in runs that died before renaming them. The caller must be the only
// writer of path.
func removeJournalTemps(path string) {
	dir, prefix := filepath.Dir(path), "."+filepath.Base(path)+"."
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, prefix) && strings.HasSuffix(n, ".tmp") {
			_ = os.Remove(filepath.Join(dir, n))
		}
	}
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// upload returns the journal's upload as a reference, or false.
func (j *journal) upload() (uploadRef, bool) {
	return uploadRef{Bucket: j.Bucket, Key: j.Key, UploadID: j.UploadID}, j.UploadID != ""
}

// forgetUpload moves the journal's upload to the stale list.
func (j *journal) forgetUpload() {
	if u, ok := j.upload(); ok {
		j.Stale = append(j.Stale, u)
	}
	j.Bucket, j.Key, j.UploadID, j.PartSize, j.Token, j.Parts = "", "", "", 0, "", nil
	j.Started = time.Time{}
}
