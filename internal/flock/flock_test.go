package flock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func open(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// Two open file descriptions conflict like two processes do.
func TestLockConflicts(t *testing.T) {
	if !Supported {
		t.Skip("no file locks on this platform")
	}
	path := filepath.Join(t.TempDir(), "lock")
	a, b := open(t, path), open(t, path)
	unlock, err := TryLock(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := TryLock(b); !errors.Is(err, ErrLocked) {
		t.Fatalf("second TryLock: %v, want ErrLocked", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := RLock(ctx, b); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RLock while locked: %v, want the context's error", err)
	}
	released := make(chan struct{})
	go func() { time.Sleep(20 * time.Millisecond); unlock(); close(released) }()
	unlockB, err := Lock(context.Background(), b)
	<-released // the kernel's ordering is invisible to the race detector
	if err != nil {
		t.Fatal(err)
	}
	unlockB()

	r1, err := RLock(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := RLock(context.Background(), b)
	if err != nil {
		t.Fatalf("two shared locks: %v", err)
	}
	r1()
	r2()
}
