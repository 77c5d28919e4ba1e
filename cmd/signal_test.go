package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/xfer-dev/xfer/internal/testkit/addrgen"
)

// TestDecryptStopsAtFirstSignal: a SIGINT while decrypt is writing the CSV
// stops it at once with exit 130, and neither the CSV nor its temporary
// file is left (a second Ctrl-C, which kills, is never needed).
func TestDecryptStopsAtFirstSignal(t *testing.T) {
	dir := t.TempDir()
	csvPath := filepath.Join(dir, "a.csv")
	f, err := os.Create(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := addrgen.Write(f, 64<<20, 3); err != nil {
		t.Fatal(err)
	}
	f.Close()
	id, _ := age.GenerateX25519Identity()
	keyPath := filepath.Join(dir, "k.txt")
	if err := os.WriteFile(keyPath, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"XDG_CONFIG_HOME=" + dir, "XFER_ZIP_PASSWORD=Corr3ct-Horse-Battery"}
	sealed := filepath.Join(dir, "a.age")
	if out, err := xferCmd(env, "encrypt", csvPath, "-r", id.Recipient().String(), "-o", sealed).CombinedOutput(); err != nil {
		t.Fatalf("encrypt: %v\n%s", err, out)
	}
	outDir := filepath.Join(dir, "out")
	if err := os.Mkdir(outDir, 0o700); err != nil {
		t.Fatal(err)
	}
	dec := xferCmd(env, "decrypt", sealed, "-i", keyPath, "-o", filepath.Join(outDir, "a.csv"))
	var errOut bytes.Buffer
	dec.Stderr = &errOut
	if err := dec.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until the CSV is being written.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if writingInto(dec.Process.Pid, outDir) {
			break
		}
		if time.Now().After(deadline) {
			dec.Process.Kill()
			dec.Wait()
			t.Fatalf("decrypt never started writing:\n%s", errOut.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
	dec.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- dec.Wait() }()
	var werr error
	select {
	case werr = <-done:
	case <-time.After(30 * time.Second):
		dec.Process.Kill()
		t.Fatal("decrypt did not stop within 30 s of SIGINT")
	}
	code := exitCodeOf(werr)
	if code != 130 {
		t.Errorf("exit %d after SIGINT, want 130\n%s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "interrupted") {
		t.Errorf("no word of the interruption:\n%s", errOut.String())
	}
	if left, _ := os.ReadDir(outDir); len(left) != 0 {
		t.Errorf("left in the output directory: %v", left)
	}
}
