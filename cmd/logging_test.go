package cmd

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestLogFile: lines are time-stamped as they complete, a progress bar's
// carriage returns leave only its last drawing, a line cut off at the end
// is kept, and an endless line is bounded.
func TestLogFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.log")
	l, err := openLogFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l.now = func() time.Time { return time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) }
	for _, s := range []string{"xfer: warn", "ing: one\nxfer: two\n", "10%\r20%\r", "30% done\n", "cut off"} {
		l.Write([]byte(s))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	want := "2026-12-02T10:00:00.000Z xfer: warning: one\n2026-12-02T10:00:00.000Z xfer: two\n" +
		"2026-12-02T10:00:00.000Z 30% done\n2026-12-02T10:00:00.000Z cut off\n"
	if string(got) != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}

	l, _ = openLogFile(path)
	l.Write(make([]byte, 3*maxLogLine))
	if len(l.part) > maxLogLine {
		t.Errorf("a line without end holds %d bytes", len(l.part))
	}
	l.Close()
}
