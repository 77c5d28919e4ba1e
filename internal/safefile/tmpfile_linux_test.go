package safefile

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A child of TestKilledWriterLeavesNothing: writes part of a file, says so,
// and waits to be killed.
func init() {
	dir := os.Getenv("SAFEFILE_KILL_CHILD")
	if dir == "" {
		return
	}
	f, err := Create(filepath.Join(dir, "out.csv"))
	if err != nil {
		os.Exit(2)
	}
	f.Write(make([]byte, 1<<20))
	os.Stdout.WriteString("writing\n")
	// Killed before stdin ends; should the test die first, its end of
	// the pipe closes and this ends too.
	io.Copy(io.Discard, os.Stdin)
	os.Exit(3)
}

// TestKilledWriterLeavesNothing: on Linux a writer killed with SIGKILL in
// the middle of its output leaves no file at all, named or temporary.
func TestKilledWriterLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "SAFEFILE_KILL_CHILD="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe() // held open: the child waits on it
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "writing\n" {
		cmd.Process.Kill()
		t.Fatalf("child: %q, %v", line, err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 0 {
		t.Errorf("a name is visible while writing: %v", ents)
	}
	cmd.Process.Kill()
	cmd.Wait()
	assertOnly(t, dir)
}
