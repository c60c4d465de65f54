package study

import (
	"errors"
	"fmt"

	"github.com/bnzoo/bnzoo/internal/runlock"
)

// lockPoint takes an exclusive advisory lock on the point's lock file (<runs>/<id>.lock) so that two processes
// sharing a runs directory (two experiments run at once, or a task resubmitted while the old one still runs)
// never train the same run directory together. It fails at once, naming the file, when another process holds it.
// The lock is internal/runlock's, on every platform. unlock(true) also deletes the lock file: RunPoint calls it so
// once the point's result.json is written, so that a finished grid leaves no lock files beside its run directories
// (safe, since every process re-reads result.json after taking the lock).
func lockPoint(runDir string) (unlock func(finished bool), err error) {
	path := runDir + ".lock"
	l, err := runlock.Acquire(path)
	if errors.Is(err, runlock.ErrLocked) {
		return nil, fmt.Errorf("%s is locked: another process is running this point", path)
	}
	if err != nil {
		return nil, err
	}
	return func(finished bool) {
		if finished {
			l.UnlockAndRemove()
			return
		}
		l.Unlock()
	}, nil
}
