package study

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Confidence is the level of every interval a study reports.
const Confidence = 0.95

// Verdict texts: which placement the paired differences (swapped − conventional) favour at 95%.
const (
	VerdictSwapped      = "swapped better"
	VerdictConventional = "conventional better"
	VerdictSwappedHi    = "swapped higher"
	VerdictConvHi       = "conventional higher"
	VerdictNone         = "no significant difference at 95%"
	VerdictTooFew       = "too few paired seeds"
)

// Interval is the mean of paired differences with its two-sided Student-t confidence interval over the pairs.
type Interval struct {
	N         int     // pairs
	Mean, Std float64 // mean and sample standard deviation (n−1) of the differences
	Low, High float64 // the Confidence interval of the mean; NaN with fewer than 2 pairs
	HalfWidth float64 // t_{1−α/2, n−1} · Std / √n
	TQuantile float64 // t_{1−α/2, n−1}
	SE        float64 // standard error of the mean, Std / √n
}

// PairedInterval is the Confidence interval of the mean of diffs, the per-seed differences of two configurations
// trained from the same seeds: mean ± t_{0.975, n−1} · s/√n (gonum's stat and Student's t quantile).
func PairedInterval(diffs []float64) Interval {
	iv := Interval{N: len(diffs), Low: math.NaN(), High: math.NaN(), HalfWidth: math.NaN(), TQuantile: math.NaN(),
		SE: math.NaN()}
	if iv.N == 0 {
		iv.Mean, iv.Std = math.NaN(), math.NaN()
		return iv
	}
	if iv.N == 1 {
		iv.Mean, iv.Std = diffs[0], math.NaN()
		return iv
	}
	iv.Mean, iv.Std = stat.MeanStdDev(diffs, nil)
	iv.TQuantile = distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(iv.N - 1)}.Quantile(1 - (1-Confidence)/2)
	iv.SE = iv.Std / math.Sqrt(float64(iv.N))
	iv.HalfWidth = iv.TQuantile * iv.SE
	iv.Low, iv.High = iv.Mean-iv.HalfWidth, iv.Mean+iv.HalfWidth
	return iv
}

// verdictOf names what an interval of swapped − conventional says: for accuracy "swapped better" / "conventional
// better", for a metric "swapped higher" / "conventional higher", and "no significant difference at 95%" when
// the interval holds 0.
func verdictOf(iv Interval, accuracy bool) string {
	switch {
	case iv.N < 2:
		return VerdictTooFew
	case iv.Low > 0 && accuracy:
		return VerdictSwapped
	case iv.High < 0 && accuracy:
		return VerdictConventional
	case iv.Low > 0:
		return VerdictSwappedHi
	case iv.High < 0:
		return VerdictConvHi
	}
	return VerdictNone
}

// Verdict is the paired comparison of swapped against conventional for one (arch, activation) and one quantity,
// each placement at its own chosen learning rate.
type Verdict struct {
	Arch, Activation string
	Metric           string // "test_accuracy" or a layer-averaged metric name
	// ConvLR and SwapLR are the placements' chosen learning rates.
	ConvLR, SwapLR float64
	Seeds          []int64   // the seeds with a finished run in both placements
	Diffs          []float64 // swapped − conventional per seed, in Seeds order
	Interval
	Verdict string
}

// String is a one-line description, as the note and the tests quote it.
func (v Verdict) String() string {
	scale, unit := 1.0, ""
	if v.Metric == MetricTestAccuracy {
		scale, unit = 100, " pp"
	}
	return fmt.Sprintf("%s %s %s: %+.3g%s [%+.3g, %+.3g] over %d seeds: %s", v.Arch, v.Activation, v.Metric,
		scale*v.Mean, unit, scale*v.Low, scale*v.High, v.N, v.Verdict)
}
