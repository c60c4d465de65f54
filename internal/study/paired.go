package study

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/stat"
	"gonum.org/v1/gonum/stat/distuv"
)

// Confidence is the level of every interval a study reports.
const Confidence = 0.95

// Verdict texts of the order experiment's comparison, swapped − conventional, at 95%. Other comparisons (the
// depth experiment's) read the same with their placements' names: "<placement> better", "<baseline> higher".
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

// verdictOf names what an interval of placement − baseline says: for accuracy "<placement> better" / "<baseline>
// better", for a metric "<placement> higher" / "<baseline> higher", and "no significant difference at 95%" when the
// interval holds 0.
func verdictOf(iv Interval, accuracy bool, placement, baseline string) string {
	word := " higher"
	if accuracy {
		word = " better"
	}
	switch {
	case iv.N < 2:
		return VerdictTooFew
	case iv.Low > 0:
		return placement + word
	case iv.High < 0:
		return baseline + word
	}
	return VerdictNone
}

// Verdict is the paired comparison of two placements of one (arch, activation) in one quantity, each placement at
// its own chosen learning rate: swapped against conventional in the order experiment, and in the depth experiment
// each partly swapped model against conventional and against swapped.
type Verdict struct {
	Arch, Activation string
	// Placement and Baseline are the compared placements (specs as the grid names them); differences are
	// Placement − Baseline.
	Placement, Baseline string
	Metric              string // "test_accuracy" or a layer-averaged metric name
	// LR and BaselineLR are the placements' chosen learning rates.
	LR, BaselineLR float64
	Seeds          []int64   // the seeds with a finished run in both placements
	Diffs          []float64 // Placement − Baseline per seed, in Seeds order
	Interval
	Verdict string
}

// Comparison is "placement − baseline".
func (v Verdict) Comparison() string { return v.Placement + " − " + v.Baseline }

// favours is +1 when the interval lies above 0 (Placement better or higher), −1 below (Baseline), 0 otherwise.
func (v Verdict) favours() int {
	switch {
	case v.N < 2 || math.IsNaN(v.Low):
		return 0
	case v.Low > 0:
		return 1
	case v.High < 0:
		return -1
	}
	return 0
}

// String is a one-line description, as the note and the tests quote it.
func (v Verdict) String() string {
	scale, unit := 1.0, ""
	if v.Metric == MetricTestAccuracy {
		scale, unit = 100, " pp"
	}
	return fmt.Sprintf("%s %s %s, %s: %+.3g%s [%+.3g, %+.3g] over %d seeds: %s", v.Arch, v.Activation, v.Metric,
		v.Comparison(), scale*v.Mean, unit, scale*v.Low, scale*v.High, v.N, v.Verdict)
}
