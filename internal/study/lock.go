package study

import (
	"errors"
	"fmt"

	"github.com/bnzoo/bnzoo/internal/runlock"
)

// lockPoint takes an exclusive advisory lock on the point's lock file (<runs>/<id>.lock) so that two processes
// sharing a runs directory (two experiments run at once, or a task resubmitted while the old one still runs)
// never train the same run directory together. It fails at once, naming the file, when another process holds it.
// The lock is internal/runlock's, on every platform.
func lockPoint(runDir string) (unlock func(), err error) {
	path := runDir + ".lock"
	l, err := runlock.Acquire(path)
	if errors.Is(err, runlock.ErrLocked) {
		return nil, fmt.Errorf("%s is locked: another process is running this point", path)
	}
	if err != nil {
		return nil, err
	}
	return func() { l.Unlock() }, nil
}
