//go:build unix

package study

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockPoint takes an exclusive advisory lock on the point's lock file (<runs>/<id>.lock) so that two processes
// sharing a runs directory (two experiments run at once, or a task resubmitted while the old one still runs)
// never train the same run directory together. It fails at once, naming the file, when another process holds it.
func lockPoint(runDir string) (unlock func(), err error) {
	path := runDir + ".lock"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is locked: another process is running this point", path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }, nil
}
