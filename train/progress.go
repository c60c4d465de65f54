package train

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// ProgressWriter returns where progress bars should go for a command writing to f (usually os.Stderr): f itself
// when it is a terminal and quiet is false, nil (no bars) otherwise — bars redrawn with carriage returns are noise
// in CI logs and redirected files.
func ProgressWriter(f *os.File, quiet bool) io.Writer {
	if quiet || f == nil || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return f
}

// newBar returns a progress bar of n steps on w, with the elapsed time and an ETA (nil when w is nil or there is
// nothing to do: no output at all).
func newBar(w io.Writer, n int, description string) *progressbar.ProgressBar {
	if w == nil || n <= 0 {
		return nil
	}
	return progressbar.NewOptions(n,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionSetWidth(24),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}

func barStep(bar *progressbar.ProgressBar, description string) {
	if bar == nil {
		return
	}
	bar.Describe(description)
	_ = bar.Add(1)
}

// barFinish ends a bar whose work is done.
func barFinish(bar *progressbar.ProgressBar) {
	if bar != nil {
		_ = bar.Finish()
	}
}

// barEnd ends a bar where it stands: full when its work is done, as it is otherwise (interruption, error).
func barEnd(bar *progressbar.ProgressBar) {
	if bar == nil {
		return
	}
	if bar.IsFinished() {
		return
	}
	if bar.State().CurrentNum >= bar.GetMax64() {
		_ = bar.Finish()
		return
	}
	_ = bar.Exit()
}
