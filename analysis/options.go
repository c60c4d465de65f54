package analysis

import (
	"fmt"
	"math"
)

// Defaults of the histogram options (see Options).
const (
	// DefaultHistBins is the default number of bins of the z histograms
	// over [−1, 1].
	DefaultHistBins = 50
	// DefaultNextBins is the default number of bins of the histograms of
	// next (t) over [−NextRange, NextRange].
	DefaultNextBins = 80
	// DefaultNextRange is the default half-width of the range of the
	// histograms of next: [−4, 4], which covers a standardised (BatchNorm)
	// output up to four standard deviations; values outside are counted
	// as underflow or overflow.
	DefaultNextRange = 4.0
	// DefaultTopChannels is the default number of most asymmetric channels
	// whose histograms a report keeps.
	DefaultTopChannels = 4

	// maxHistBins bounds HistBins and NextBins, so that a typo cannot
	// allocate gigabytes (the state holds Channels × bins counters).
	maxHistBins = 1 << 16
)

// Options are the thresholds of the metrics and the shape of the histograms.
// The zero value is invalid; start from DefaultOptions. The histogram fields
// may be left 0, which selects their defaults: a collector records the
// effective values in its reports.
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
	// HistBins is the number of equal bins over [−1, 1] of the histograms
	// of z (0: DefaultHistBins). Values of z are clamped to [−1, 1], so a
	// value rounded a hair past a bound lands in the end bin.
	HistBins int `json:"hist_bins"`
	// NextBins is the number of equal bins of the histograms of next over
	// [−NextRange, NextRange] (0: DefaultNextBins). Values outside the
	// range are counted as underflow and overflow.
	NextBins int `json:"next_bins"`
	// NextRange is the half-width of the range of the histograms of next
	// (0: DefaultNextRange). It must be finite and non-negative.
	NextRange float64 `json:"next_range"`
	// TopChannels is k, the number of most asymmetric channels (largest
	// |upper_fraction_c − lower_fraction_c|, ties broken by the lower
	// channel index) whose histograms a report keeps next to the pooled
	// ones (0: DefaultTopChannels). A layer with fewer channels keeps all.
	TopChannels int `json:"top_channels"`
}

// DefaultOptions returns Delta 0.1, Tau 0.1, Bins 10, HistBins 50, NextBins
// 80, NextRange 4 and TopChannels 4.
func DefaultOptions() Options {
	return Options{Delta: 0.1, Tau: 0.1, Bins: 10,
		HistBins: DefaultHistBins, NextBins: DefaultNextBins, NextRange: DefaultNextRange, TopChannels: DefaultTopChannels}
}

// withDefaults returns o with the zero histogram fields set to their
// defaults.
func (o Options) withDefaults() Options {
	if o.HistBins == 0 {
		o.HistBins = DefaultHistBins
	}
	if o.NextBins == 0 {
		o.NextBins = DefaultNextBins
	}
	if o.NextRange == 0 {
		o.NextRange = DefaultNextRange
	}
	if o.TopChannels == 0 {
		o.TopChannels = DefaultTopChannels
	}
	return o
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
	if o.HistBins < 0 || o.HistBins > maxHistBins {
		return fmt.Errorf("analysis: Options.HistBins must lie in [0, %d] (0: default %d), got %d", maxHistBins, DefaultHistBins, o.HistBins)
	}
	if o.NextBins < 0 || o.NextBins > maxHistBins {
		return fmt.Errorf("analysis: Options.NextBins must lie in [0, %d] (0: default %d), got %d", maxHistBins, DefaultNextBins, o.NextBins)
	}
	if !(o.NextRange >= 0) || math.IsInf(o.NextRange, 1) {
		return fmt.Errorf("analysis: Options.NextRange must be finite and >= 0 (0: default %v), got %v", DefaultNextRange, o.NextRange)
	}
	if o.TopChannels < 0 {
		return fmt.Errorf("analysis: Options.TopChannels must be >= 0 (0: default %d), got %d", DefaultTopChannels, o.TopChannels)
	}
	return nil
}
