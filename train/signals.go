package train

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// SignalError is the cause (context.Cause) of a context cancelled by SignalContext.
type SignalError struct{ Signal os.Signal }

func (e *SignalError) Error() string { return "received " + e.Signal.String() }

// SignalContext returns a context that the first SIGINT or SIGTERM cancels, with a *SignalError as its cause: Fit
// then finishes the step in progress, a Run writes a checkpoint, and the *InterruptedError returned says how to
// resume. After that first signal the default handling is restored, so a second one kills the process at once.
// log (nil: none) gets a message when the signal arrives. stop releases the handler and cancels the context.
func SignalContext(parent context.Context, log *slog.Logger) (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancelCause(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		defer signal.Stop(sigs)
		select {
		case sig := <-sigs:
			if log != nil {
				log.Warn("finishing the current step and writing a checkpoint; signal again to kill at once", "signal", sig.String())
			}
			cancel(&SignalError{Signal: sig})
		case <-done:
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		select {
		case <-done:
		default:
			close(done)
		}
		cancel(context.Canceled)
	}
}

// InterruptedError reports a run stopped by its context after writing a checkpoint of where it stood. It unwraps
// to the context's error (context.Canceled, context.DeadlineExceeded) and to its cause (a *SignalError for
// SignalContext).
type InterruptedError struct {
	// Dir is the run directory to resume from (Resume, or examples/train -resume Dir).
	Dir string
	// Checkpoint is the checkpoint holding the interrupted state ("" when nothing had been trained yet).
	Checkpoint string
	Position   Position
	GlobalStep int
	Cause      error
	// Resume, when set, replaces "resume the run from <Dir>" at the end of the message: how the program that ran
	// the run continues it (a scheduler task resubmits its index, say).
	Resume string
	ctxErr error
}

func (e *InterruptedError) Error() string {
	why := ""
	if e.Cause != nil {
		why = " (" + e.Cause.Error() + ")"
	}
	resume := e.Resume
	if resume == "" {
		resume = "resume the run from " + e.Dir
	}
	if e.Checkpoint == "" {
		return fmt.Sprintf("interrupted%s before the first step; %s", why, resume)
	}
	return fmt.Sprintf("interrupted%s after step %d (epoch %d, %d steps into it); checkpoint %s; %s",
		why, e.GlobalStep, e.Position.Epoch+1, e.Position.Step, e.Checkpoint, resume)
}

// Unwrap returns the context's error and its cause.
func (e *InterruptedError) Unwrap() []error {
	var out []error
	for _, err := range []error{e.ctxErr, e.Cause} {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}
