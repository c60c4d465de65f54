package train

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// newBar returns a progress bar of n steps on w (nil when w is nil: no output at all).
func newBar(w io.Writer, n int, description string) *progressbar.ProgressBar {
	if w == nil {
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

func barFinish(bar *progressbar.ProgressBar) {
	if bar != nil {
		_ = bar.Finish()
	}
}
