package analysis

import (
	"fmt"
	"math"
)

// Options are the thresholds of the metrics. The zero value is invalid; start
// from DefaultOptions.
type Options struct {
	// Delta is the width of the saturated band at each end of [−1, 1]:
	// upper_fraction counts z > 1 − Delta, lower_fraction z < −1 + Delta.
	// It must lie in (0, 1).
	Delta float64 `json:"delta"`
	// Tau is the sparsity threshold: sparsity counts |t| ≤ Tau. It must be
	// finite and non-negative.
	Tau float64 `json:"tau"`
	// Bins is the number of equal bins over [−1, 1] of the saturation
	// measure; at least 1.
	Bins int `json:"bins"`
}

// DefaultOptions returns Delta 0.1, Tau 0.1 and Bins 10.
func DefaultOptions() Options {
	return Options{Delta: 0.1, Tau: 0.1, Bins: 10}
}

// Validate returns an error naming the first invalid field, or nil.
func (o Options) Validate() error {
	if !(o.Delta > 0 && o.Delta < 1) {
		return fmt.Errorf("analysis: Options.Delta must lie in (0, 1), got %v", o.Delta)
	}
	if !(o.Tau >= 0) || math.IsInf(o.Tau, 1) {
		return fmt.Errorf("analysis: Options.Tau must be finite and >= 0, got %v", o.Tau)
	}
	if o.Bins < 1 {
		return fmt.Errorf("analysis: Options.Bins must be at least 1, got %d", o.Bins)
	}
	return nil
}
