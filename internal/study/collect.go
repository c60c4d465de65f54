package study

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gonum.org/v1/gonum/stat"
)

// Summary aggregates the finished runs of a study directory: the learning-rate choice of every configuration
// (on validation accuracy), one Row per configuration at its chosen rate over its seeds, the paired verdicts of
// swapped against conventional, and the relations between accuracy and the layer metrics across runs.
type Summary struct {
	Grid    *Grid     // nil when the directory has no grid.json
	Results []*Result // every finished run, in grid order (by point index, then ID)
	// Choices are the learning-rate sweeps and choices, one per configuration (nil without a grid).
	Choices []LRChoice
	// Rows are the configurations at their chosen rates (at every rate without a grid).
	Rows []Row
	// Verdicts compare swapped with conventional per (arch, activation), for the test accuracy and each
	// layer-averaged metric, each placement at its chosen rate, paired by seed.
	Verdicts []Verdict
	// Relations: Pearson correlation over the runs of the rows of the final test accuracy with each
	// layer-averaged metric.
	Relations []Relation
	// Missing counts the grid's points without a result (0 without a grid); MissingIndices are their indices.
	Missing        int
	MissingIndices []int
}

// ErrIncomplete is wrapped by Summary.Complete's error when grid points have no result.
var ErrIncomplete = errors.New("grid points without a result")

// Complete returns nil when every grid point has a result, and otherwise an error wrapping ErrIncomplete that
// names the missing indices, in the form Slurm's --array takes, so that they can be resubmitted.
func (s *Summary) Complete() error {
	if s.Missing == 0 {
		return nil
	}
	return fmt.Errorf("%w: %d of %d grid points have none (indices %s): resubmit them (docs/cluster.md), and see the "+
		"tasks' logs for why they did not finish", ErrIncomplete, s.Missing, len(s.Grid.Points()), IndexRanges(s.MissingIndices))
}

// IndexRanges writes sorted indices as comma-separated ranges, "0,2-4,7".
func IndexRanges(indices []int) string {
	var parts []string
	for i := 0; i < len(indices); {
		j := i
		for j+1 < len(indices) && indices[j+1] == indices[j]+1 {
			j++
		}
		part := fmt.Sprint(indices[i])
		if j > i {
			part += fmt.Sprintf("-%d", indices[j])
		}
		parts = append(parts, part)
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// Stat is the mean and sample standard deviation (n−1; 0 for one value) of N values; N = 0 means no value.
type Stat struct {
	Mean, Std float64
	N         int
}

// Row is one configuration's runs at one learning rate.
type Row struct {
	Arch, Activation, Placement string
	LR                          float64
	Runs, Diverged              int
	Seeds                       []int64
	// ValAcc is the final validation accuracy, TestAcc the final model's test accuracy, BestValTestAcc the test
	// accuracy of the best validation epoch's checkpoint.
	ValAcc, TestAcc, BestValTestAcc Stat
	Saturation, Asymmetric          Stat // layer-averaged; N = 0 for unbounded activations
	Skewness, Sparsity              Stat
	TrainSeconds                    Stat
}

// Config names the row's configuration as Point.Config does.
func (r Row) Config() string { return r.Arch + " " + r.Activation + " " + r.Placement }

// Relation is the correlation of accuracy with one metric over the runs that report it.
type Relation struct {
	Metric string
	R      float64 // Pearson's r; NaN with fewer than 3 runs or a constant series
	N      int
}

// MetricTestAccuracy names the accuracy in verdicts.
const MetricTestAccuracy = "test_accuracy"

// metricNames are the layer-averaged metrics a summary reports, with their accessors.
var metricNames = []struct {
	name string
	get  func(LayerSummary) *float64
}{
	{"saturation", func(l LayerSummary) *float64 { return l.Saturation }},
	{"asymmetric_saturation", func(l LayerSummary) *float64 { return l.AsymmetricSaturation }},
	{"skewness_abs_mean", func(l LayerSummary) *float64 { return l.SkewnessAbsMean }},
	{"sparsity", func(l LayerSummary) *float64 { v := l.Sparsity; return &v }},
}

// verdictMetrics are the quantities compared between placements: the accuracy, then the metrics of the claim.
var verdictMetrics = []string{MetricTestAccuracy, "asymmetric_saturation", "skewness_abs_mean", "sparsity"}

// Collect reads the result.json of every finished grid point of the study in dir (whatever exists: a partial study
// is summarised as it stands, and a shared runs directory contributes only this grid's points) and aggregates
// them. Without a grid.json it takes every result under dir/runs. A corrupt result.json is an error naming it.
func Collect(dir string) (*Summary, error) {
	s := &Summary{}
	if g, err := ReadGrid(filepath.Join(dir, GridFile)); err == nil {
		s.Grid = g
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if s.Grid != nil {
		read := func(p Point) error {
			rd := s.Grid.RunDir(dir, p)
			res, err := ReadResult(rd)
			if errors.Is(err, fs.ErrNotExist) {
				s.Missing++ // not finished
				s.MissingIndices = append(s.MissingIndices, p.Index)
				return nil
			}
			if err != nil {
				return fmt.Errorf("collect: %w", err)
			}
			if res.Point.ID() != p.ID() {
				return fmt.Errorf("collect: %s holds the result of %s, not of %s", filepath.Join(rd, ResultFile), res.Point.ID(), p.ID())
			}
			res.Point.Index = p.Index // the index in this grid (a shared run may have been started by another)
			s.Results = append(s.Results, res)
			return nil
		}
		points, nSweep := s.Grid.Points(), s.Grid.SweepPoints()
		for _, p := range points[:nSweep] {
			if err := read(p); err != nil {
				return nil, err
			}
		}
		chosen := map[string]float64{}
		for _, c := range ChooseLRs(s.Grid, s.Results, false) {
			chosen[c.Config()] = c.Chosen
		}
		for _, p := range points[nSweep:] {
			if p.LR = chosen[p.Config()]; p.LR == 0 {
				s.Missing++ // its configuration's sweep has not finished, so it cannot have run
				s.MissingIndices = append(s.MissingIndices, p.Index)
				continue
			}
			if err := read(p); err != nil {
				return nil, err
			}
		}
		s.aggregate()
		return s, nil
	}
	entries, err := os.ReadDir(filepath.Join(dir, RunsDir))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("collect: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		res, err := ReadResult(filepath.Join(dir, RunsDir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // unfinished
		}
		if err != nil {
			return nil, fmt.Errorf("collect: %w", err)
		}
		s.Results = append(s.Results, res)
	}
	sort.SliceStable(s.Results, func(i, j int) bool {
		a, b := s.Results[i].Point, s.Results[j].Point
		if a.Index != b.Index {
			return a.Index < b.Index
		}
		return a.ID() < b.ID()
	})
	s.aggregate()
	return s, nil
}

// aggregate derives the choices, rows, verdicts and relations from the results.
func (s *Summary) aggregate() {
	chosen := map[string]float64{} // configuration → chosen rate; absent without a grid (every rate is a row)
	if s.Grid != nil {
		s.Choices = ChooseLRs(s.Grid, s.Results, true)
		for _, c := range s.Choices {
			chosen[c.Config()] = c.Chosen
		}
	}
	index := map[string]int{}
	for _, r := range s.Results {
		if lr, ok := chosen[r.Point.Config()]; s.Grid != nil && (!ok || lr != r.Point.LR) {
			continue // a sweep run at a rate not chosen
		}
		key := r.Point.Config() + " " + fmt.Sprint(r.Point.LR)
		i, ok := index[key]
		if !ok {
			i = len(s.Rows)
			index[key] = i
			s.Rows = append(s.Rows, Row{Arch: r.Point.Arch, Activation: r.Point.Activation, Placement: r.Point.Placement, LR: r.Point.LR})
		}
		row := &s.Rows[i]
		row.Runs++
		row.Seeds = append(row.Seeds, r.Point.Seed)
		if r.Status == StatusDiverged {
			row.Diverged++
		}
	}
	if s.Grid != nil { // the grid's order, which a seed-outer enumeration would not give by index alone
		order := map[string]int{}
		for _, p := range s.Grid.Points() {
			if _, ok := order[p.Config()]; !ok {
				order[p.Config()] = len(order)
			}
		}
		sort.SliceStable(s.Rows, func(i, j int) bool { return order[s.Rows[i].Config()] < order[s.Rows[j].Config()] })
	}
	for i := range s.Rows {
		row := &s.Rows[i]
		var val, test, bestVal, secs []float64
		metrics := make([][]float64, len(metricNames))
		for _, r := range s.rowResults(*row) {
			val, test = append(val, r.FinalValAcc), append(test, r.FinalTestAcc)
			bestVal, secs = append(bestVal, r.BestValTestAcc), append(secs, r.TrainSeconds)
			for k, m := range metricNames {
				if v := m.get(r.Mean); v != nil {
					metrics[k] = append(metrics[k], *v)
				}
			}
		}
		row.ValAcc, row.TestAcc, row.BestValTestAcc, row.TrainSeconds = stats(val), stats(test), stats(bestVal), stats(secs)
		row.Saturation, row.Asymmetric, row.Skewness, row.Sparsity = stats(metrics[0]), stats(metrics[1]), stats(metrics[2]), stats(metrics[3])
	}
	s.Verdicts = s.verdicts()
	for _, m := range metricNames {
		var xs, ys []float64
		for _, row := range s.Rows {
			for _, r := range s.rowResults(row) {
				if v := m.get(r.Mean); v != nil {
					xs, ys = append(xs, *v), append(ys, r.FinalTestAcc)
				}
			}
		}
		s.Relations = append(s.Relations, Relation{Metric: m.name, R: pearson(xs, ys), N: len(xs)})
	}
}

// rowResults are the finished (not diverged) runs of a row, in result order.
func (s *Summary) rowResults(row Row) []*Result {
	var out []*Result
	for _, r := range s.Results {
		if r.Point.Config() == row.Config() && r.Point.LR == row.LR && r.Status == StatusDone {
			out = append(out, r)
		}
	}
	return out
}

// verdicts pairs, for every (arch, activation), the runs of equal seed of two placements and compares each verdict
// metric: every placement against conventional (swapped − conventional first), and every placement other than
// conventional and swapped against swapped as well (the depth experiment's partly swapped models).
func (s *Summary) verdicts() []Verdict {
	var out []Verdict
	for _, baseline := range []string{"conventional", "swapped"} {
		for _, base := range s.Rows {
			if base.Placement != baseline {
				continue
			}
			for _, row := range s.Rows {
				if row.Arch != base.Arch || row.Activation != base.Activation || row.Placement == baseline ||
					(baseline == "swapped" && row.Placement == "conventional") {
					continue
				}
				out = append(out, s.pairedVerdicts(base, row)...)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return comparisonRank(out[i]) < comparisonRank(out[j]) })
	return out
}

// comparisonRank orders verdicts: swapped − conventional, then the other placements against conventional, then
// against swapped.
func comparisonRank(v Verdict) int {
	switch {
	case v.Placement == "swapped" && v.Baseline == "conventional":
		return 0
	case v.Baseline == "conventional":
		return 1
	}
	return 2
}

// pairedVerdicts compares row against base, seed by seed, in every verdict metric.
func (s *Summary) pairedVerdicts(base, row Row) []Verdict {
	bySeed := map[int64]*Result{}
	for _, r := range s.rowResults(base) {
		bySeed[r.Point.Seed] = r
	}
	var pairs [][2]*Result
	for _, r := range s.rowResults(row) {
		if b, ok := bySeed[r.Point.Seed]; ok {
			pairs = append(pairs, [2]*Result{b, r})
		}
	}
	var out []Verdict
	for _, m := range verdictMetrics {
		v := Verdict{Arch: base.Arch, Activation: base.Activation, Placement: row.Placement, Baseline: base.Placement,
			Metric: m, LR: row.LR, BaselineLR: base.LR}
		for _, p := range pairs {
			a, b := metricOf(p[0], m), metricOf(p[1], m)
			if a == nil || b == nil {
				continue
			}
			v.Seeds = append(v.Seeds, p[0].Point.Seed)
			v.Diffs = append(v.Diffs, *b-*a)
		}
		if len(v.Diffs) == 0 {
			continue // an unbounded activation has no saturation
		}
		v.Interval = PairedInterval(v.Diffs)
		v.Verdict = verdictOf(v.Interval, m == MetricTestAccuracy, v.Placement, v.Baseline)
		out = append(out, v)
	}
	return out
}

// metricOf is a run's value of a verdict metric (nil when the run does not report it).
func metricOf(r *Result, metric string) *float64 {
	if metric == MetricTestAccuracy {
		v := r.FinalTestAcc
		return &v
	}
	for _, m := range metricNames {
		if m.name == metric {
			return m.get(r.Mean)
		}
	}
	return nil
}

// stats is the mean and the sample standard deviation of xs (gonum's stat).
func stats(xs []float64) Stat {
	s := Stat{N: len(xs)}
	switch s.N {
	case 0:
	case 1:
		s.Mean = xs[0]
	default:
		s.Mean, s.Std = stat.MeanStdDev(xs, nil)
	}
	return s
}

// pearson is Pearson's correlation coefficient of xs and ys (gonum's stat.Correlation); NaN with fewer than 3
// pairs or a constant series.
func pearson(xs, ys []float64) float64 {
	if len(xs) < 3 || len(xs) != len(ys) {
		return math.NaN()
	}
	if sx, sy := stat.StdDev(xs, nil), stat.StdDev(ys, nil); sx == 0 || sy == 0 {
		return math.NaN()
	}
	return stat.Correlation(xs, ys, nil)
}
