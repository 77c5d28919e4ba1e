package transfer

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLockRemovesJournalTemps: a temporary journal left by a run killed
// while writing it is removed by the next run that locks the spool, and
// nothing of another spool's is touched.
func TestLockRemovesJournalTemps(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.spool")
	left := filepath.Join(dir, ".a.spool.journal.123456.tmp")
	other := filepath.Join(dir, ".b.spool.journal.123456.tmp")
	for _, f := range []string{left, other} {
		if err := os.WriteFile(f, []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sp, err := CreateSpool(path, "fp")
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Release()
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("the temporary journal of a killed run is still there: %v", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("another spool's temporary journal was removed: %v", err)
	}
}
