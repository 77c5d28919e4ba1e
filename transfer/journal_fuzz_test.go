package transfer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"
)

// Seeds for the journal fuzzers: journals as this version writes them, one
// of another version, and broken JSON.
var (
	uploadJournalSeeds = []string{
		`{"version":1,"fingerprint":"fp","sealed":false}`,
		`{"version":1,"fingerprint":"size=10 mtime=1","sealed":true,"spool_size":1048576,"bucket":"b","key":"k/a.csv.zip.age",` +
			`"upload_id":"u-1","part_size":5242880,"token":"t0k","started":"2026-01-02T03:04:05Z",` +
			`"parts":[{"n":1,"size":5242880,"etag":"\"e1\"","sha256":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}],` +
			`"stale":[{"bucket":"b","key":"k","upload_id":"old"}],"pending":{"bucket":"b","key":"k","at":"2026-01-02T03:04:05+01:00"}}`,
		`{"version":2,"fingerprint":"fp"}`,
		`{"version":1,"parts":[{"n":-1,"size":-5}],"spool_size":-1,"part_size":0}`,
		`{"version":1,"started":"0001-01-01T01:00:00+01:00"}`,
		`{"version":1`,
		`null`,
		``,
	}
	downloadJournalSeeds = []string{
		`{"version":1,"kind":"download","bucket":"b","key":"k","etag":"\"e\"","size":10485760,"chunk_size":4194304,` +
			`"started":"2026-01-02T03:04:05Z","done":[[0,1]],"partial":{"2":1000}}`,
		`{"version":1,"kind":"download","done":[[5,3],[-1,2],[0,9223372036854775807]],"partial":{"-1":-1}}`,
		`{"version":1,"kind":"upload"}`,
		`{"version":2,"kind":"download"}`,
		`{"version":1,"kind":"download","done":[[1]],"chunk_size":0,"size":-1}`,
		`{"version":1,"kind":"download"} trailing`,
		`[]`,
	}
)

// writeFuzzFile writes data to a fresh file in t's temp directory.
func writeFuzzFile(t *testing.T, data []byte) string {
	path := filepath.Join(t.TempDir(), "spool.journal")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// sameTime reports whether two times are the same instant: a journal's
// times survive a save as instants, not as *time.Location pointers.
func sameTime(a, b time.Time) bool { return a.Equal(b) }

// FuzzLoadJournal feeds arbitrary bytes to the upload journal loader. It
// never panics; it either fails or returns a journal of the current
// version, which saves and loads again to the same journal.
func FuzzLoadJournal(f *testing.F) {
	for _, s := range uploadJournalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := writeFuzzFile(t, data)
		j, err := loadJournal(path)
		if err != nil {
			if j != nil {
				t.Fatalf("loadJournal returned a journal and an error: %v", err)
			}
			return
		}
		if j.Version != journalVersion {
			t.Fatalf("loaded a journal of version %d", j.Version)
		}
		if _, err := json.Marshal(j); err != nil {
			return // a time outside what JSON can hold: not writable, not ours
		}
		if err := j.save(path); err != nil {
			t.Fatalf("re-saving a loaded journal: %v", err)
		}
		again, err := loadJournal(path)
		if err != nil {
			t.Fatalf("reloading a re-saved journal: %v", err)
		}
		if !sameJournal(j, again) {
			t.Fatalf("journal changed across save and load:\n%+v\n%+v", j, again)
		}
	})
}

func sameJournal(a, b *journal) bool {
	if !sameTime(a.Started, b.Started) || (a.Pending == nil) != (b.Pending == nil) {
		return false
	}
	if a.Pending != nil && (!sameTime(a.Pending.At, b.Pending.At) || a.Pending.Bucket != b.Pending.Bucket || a.Pending.Key != b.Pending.Key) {
		return false
	}
	ca, cb := *a, *b
	ca.Started, cb.Started, ca.Pending, cb.Pending = time.Time{}, time.Time{}, nil, nil
	// omitempty turns an empty list into an absent one.
	if len(ca.Parts) == 0 && len(cb.Parts) == 0 {
		ca.Parts, cb.Parts = nil, nil
	}
	if len(ca.Stale) == 0 && len(cb.Stale) == 0 {
		ca.Stale, cb.Stale = nil, nil
	}
	return reflect.DeepEqual(ca, cb)
}

// FuzzLoadDownloadJournal does the same for the download journal loader,
// which also promises its done ranges in order of their first chunk.
func FuzzLoadDownloadJournal(f *testing.F) {
	for _, s := range downloadJournalSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := writeFuzzFile(t, data)
		j, err := loadDownloadJournal(path)
		if err != nil {
			if j != nil {
				t.Fatalf("loadDownloadJournal returned a journal and an error: %v", err)
			}
			return
		}
		if j.Version != downloadJournalVersion || j.Kind != downloadKind {
			t.Fatalf("loaded a journal of version %d, kind %q", j.Version, j.Kind)
		}
		if !slices.IsSortedFunc(j.Done, func(a, b [2]int) int { return a[0] - b[0] }) {
			t.Fatalf("done ranges out of order: %v", j.Done)
		}
		if _, err := json.Marshal(j); err != nil {
			return
		}
		if err := writeJSONAtomic(path, j, false); err != nil {
			t.Fatalf("re-saving a loaded journal: %v", err)
		}
		again, err := loadDownloadJournal(path)
		if err != nil {
			t.Fatalf("reloading a re-saved journal: %v", err)
		}
		ca, cb := *j, *again
		if !sameTime(ca.Started, cb.Started) {
			t.Fatalf("started changed: %v, %v", ca.Started, cb.Started)
		}
		ca.Started, cb.Started = time.Time{}, time.Time{}
		if len(ca.Done) == 0 && len(cb.Done) == 0 {
			ca.Done, cb.Done = nil, nil
		}
		if len(ca.Partial) == 0 && len(cb.Partial) == 0 {
			ca.Partial, cb.Partial = nil, nil
		}
		if !reflect.DeepEqual(ca, cb) {
			t.Fatalf("journal changed across save and load:\n%+v\n%+v", ca, cb)
		}
	})
}
