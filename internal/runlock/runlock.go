// Package runlock takes exclusive, non-blocking locks on run directories, so that two processes never train the
// same run at once: the second one's start-up cleanup would delete the first one's half-written checkpoints, and
// both would write the same checkpoint names. The lock is an advisory file lock (flock on Unix, LockFileEx on
// Windows, through github.com/gofrs/flock); the operating system releases it when its process dies, so a killed
// run never leaves a stale lock behind. The lock file stays, unless its holder removes it with UnlockAndRemove once
// the work it guards is done for good.
package runlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/gofrs/flock"
)

// ErrLocked is wrapped by Acquire's error when another holder has the lock: errors.Is(err, ErrLocked).
var ErrLocked = errors.New("locked by another process")

// Lock is a held lock.
type Lock struct {
	fl *flock.Flock
}

// Acquire takes the lock file path (creating it and its directory if needed) without waiting. When another process
// — or another Acquire in this process — holds it, the error wraps ErrLocked and names the file.
func Acquire(path string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	fl := flock.New(path)
	ok, err := fl.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, ErrLocked)
	}
	return &Lock{fl: fl}, nil
}

// Path is the lock file's path.
func (l *Lock) Path() string { return l.fl.Path() }

// Unlock releases the lock; calling it again (or on a nil lock) does nothing.
func (l *Lock) Unlock() error {
	if l == nil || l.fl == nil {
		return nil
	}
	err := l.fl.Unlock()
	l.fl = nil
	return err
}

// UnlockAndRemove deletes the lock file and releases the lock; calling it again (or on a nil lock) does nothing.
// Use it only when what the lock guards is finished for good and every later holder checks that first: a process
// that opened the file before it was deleted can still take the lock of the deleted file, while a new one creates
// a new file, so the two do not exclude each other. (The study removes a point's lock once its result.json is
// written, and every process re-reads result.json after taking the lock.) The file is deleted while the lock is
// held where the system allows it (Unix); elsewhere just after.
func (l *Lock) UnlockAndRemove() error {
	if l == nil || l.fl == nil {
		return nil
	}
	path := l.fl.Path()
	removeErr := os.Remove(path)
	err := l.Unlock()
	if removeErr != nil && !errors.Is(removeErr, os.ErrNotExist) {
		if removeErr = os.Remove(path); removeErr != nil && !errors.Is(removeErr, os.ErrNotExist) {
			return errors.Join(err, fmt.Errorf("remove lock %s: %w", path, removeErr))
		}
	}
	return err
}
