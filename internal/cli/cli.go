// Package cli holds what the example programs share about bad flags and exit statuses: one error that names the
// flag, exit status 2 for it, 128+signal for an interruption by a signal, 1 for any other failure.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"syscall"

	"github.com/bnzoo/bnzoo/train"
)

// ErrUsage marks errors in the flags (exit status 2): errors.Is(err, ErrUsage).
var ErrUsage = errors.New("bad flag")

// flagError is a bad flag; its message names the flag.
type flagError struct{ msg string }

func (e *flagError) Error() string        { return e.msg }
func (e *flagError) Is(target error) bool { return target == ErrUsage }

// FlagError is a usage error with the message msg as it stands.
func FlagError(msg string) error { return &flagError{msg: msg} }

// UsageError is a usage error about the flag -flagName: "-flagName: <message>".
func UsageError(flagName string, format string, args ...any) error {
	return &flagError{msg: "-" + flagName + ": " + fmt.Sprintf(format, args...)}
}

// ExitCode is the process's exit status for a program's error: 0 for none or -h, 2 for a usage error, 128+signal
// when a signal interrupted it (train.SignalError), 1 otherwise.
func ExitCode(err error) int {
	var sig *train.SignalError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, ErrUsage):
		return 2
	case errors.As(err, &sig):
		if s, ok := sig.Signal.(syscall.Signal); ok {
			return 128 + int(s)
		}
	}
	return 1
}
