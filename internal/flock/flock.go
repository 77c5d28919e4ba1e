// Package flock takes advisory locks on open files, shared between xfer's
// processes: the spool of a transfer, the audit log. A lock is released
// when its process dies, so a crash never leaves a stale lock. It locks
// nothing on platforms without file locks (see Supported).
package flock

import (
	"context"
	"errors"
	"os"
	"time"
)

// ErrLocked means another process holds a conflicting lock.
var ErrLocked = errors.New("file locked by another process")

// TryLock takes an exclusive lock on f without waiting: it fails with
// ErrLocked when another process holds any lock on f.
func TryLock(f *os.File) (unlock func(), err error) { return tryLock(f, true) }

// Lock waits for an exclusive lock on f until ctx ends.
func Lock(ctx context.Context, f *os.File) (unlock func(), err error) {
	return wait(ctx, f, true)
}

// RLock waits for a shared lock on f until ctx ends: several processes can
// hold one at once, and none while another holds the exclusive lock.
func RLock(ctx context.Context, f *os.File) (unlock func(), err error) {
	return wait(ctx, f, false)
}

// wait polls rather than blocks, so that a cancelled context (a signal)
// ends the wait even while a stopped process holds the lock.
func wait(ctx context.Context, f *os.File, exclusive bool) (func(), error) {
	delay := time.Millisecond
	for {
		unlock, err := tryLock(f, exclusive)
		if !errors.Is(err, ErrLocked) {
			return unlock, err
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, context.Cause(ctx)
		case <-t.C:
		}
		delay = min(2*delay, 50*time.Millisecond)
	}
}
