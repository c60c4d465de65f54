package study

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
)

// Summary aggregates the finished runs of a study directory: one Row per configuration (arch, activation,
// placement) over its seeds, in the grid's order, and the relations between accuracy and the layer metrics across
// all runs.
type Summary struct {
	Grid    *Grid     // nil when the directory has no grid.json
	Results []*Result // every finished run, in grid order (by point index, then ID)
	Rows    []Row
	// Relations: Pearson correlation over runs of the final test accuracy with each layer-averaged metric.
	Relations []Relation
	// Missing counts the grid's points without a result (0 without a grid).
	Missing int
}

// Stat is the mean and sample standard deviation (n−1; 0 for one value) of N values; N = 0 means no value.
type Stat struct {
	Mean, Std float64
	N         int
}

// Row is one configuration's runs.
type Row struct {
	Arch, Activation, Placement string
	Runs, Diverged              int
	Seeds                       []int64
	BestAcc, FinalAcc           Stat
	Saturation, Asymmetric      Stat // layer-averaged; N = 0 for unbounded activations
	Skewness, Sparsity          Stat
	TrainSeconds                Stat
}

// Relation is the correlation of accuracy with one metric over the runs that report it.
type Relation struct {
	Metric string
	R      float64 // Pearson's r; NaN with fewer than 3 runs or a constant series
	N      int
}

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
		for _, p := range s.Grid.Points() {
			rd := s.Grid.RunDir(dir, p)
			res, err := ReadResult(rd)
			if errors.Is(err, fs.ErrNotExist) {
				s.Missing++ // not finished
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("collect: %w", err)
			}
			if res.Point.ID() != p.ID() {
				return nil, fmt.Errorf("collect: %s holds the result of %s, not of %s", filepath.Join(rd, ResultFile), res.Point.ID(), p.ID())
			}
			res.Point.Index = p.Index // the index in this grid (a shared run may have been started by another)
			s.Results = append(s.Results, res)
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

// configKey orders configurations as the grid does: by arch, activation and placement order of first appearance
// in the sorted results (which follow point indices).
func (s *Summary) aggregate() {
	index := map[string]int{}
	for _, r := range s.Results {
		key := r.Point.Config()
		i, ok := index[key]
		if !ok {
			i = len(s.Rows)
			index[key] = i
			s.Rows = append(s.Rows, Row{Arch: r.Point.Arch, Activation: r.Point.Activation, Placement: r.Point.Placement})
		}
		s.Rows[i].Runs++
		s.Rows[i].Seeds = append(s.Rows[i].Seeds, r.Point.Seed)
		if r.Status == StatusDiverged {
			s.Rows[i].Diverged++
		}
	}
	if s.Grid != nil { // the grid's order, which a seed-outer enumeration would not give by index alone
		order := map[string]int{}
		for _, p := range s.Grid.Points() {
			if _, ok := order[p.Config()]; !ok {
				order[p.Config()] = len(order)
			}
		}
		sort.SliceStable(s.Rows, func(i, j int) bool {
			return order[s.Rows[i].Arch+" "+s.Rows[i].Activation+" "+s.Rows[i].Placement] <
				order[s.Rows[j].Arch+" "+s.Rows[j].Activation+" "+s.Rows[j].Placement]
		})
	}
	for i := range s.Rows {
		row := &s.Rows[i]
		var best, final, secs []float64
		metrics := make([][]float64, len(metricNames))
		for _, r := range s.Results {
			if r.Point.Config() != row.Arch+" "+row.Activation+" "+row.Placement || r.Status != StatusDone {
				continue
			}
			best, final, secs = append(best, r.BestTestAcc), append(final, r.FinalTestAcc), append(secs, r.TrainSeconds)
			for k, m := range metricNames {
				if v := m.get(r.Mean); v != nil {
					metrics[k] = append(metrics[k], *v)
				}
			}
		}
		row.BestAcc, row.FinalAcc, row.TrainSeconds = stat(best), stat(final), stat(secs)
		row.Saturation, row.Asymmetric, row.Skewness, row.Sparsity = stat(metrics[0]), stat(metrics[1]), stat(metrics[2]), stat(metrics[3])
	}
	for _, m := range metricNames {
		var xs, ys []float64
		for _, r := range s.Results {
			if v := m.get(r.Mean); v != nil && r.Status == StatusDone {
				xs, ys = append(xs, *v), append(ys, r.FinalTestAcc)
			}
		}
		s.Relations = append(s.Relations, Relation{Metric: m.name, R: pearson(xs, ys), N: len(xs)})
	}
}

// stat is the mean and the sample standard deviation of xs.
func stat(xs []float64) Stat {
	s := Stat{N: len(xs)}
	if s.N == 0 {
		return s
	}
	for _, x := range xs {
		s.Mean += x
	}
	s.Mean /= float64(s.N)
	if s.N > 1 {
		var ss float64
		for _, x := range xs {
			ss += (x - s.Mean) * (x - s.Mean)
		}
		s.Std = math.Sqrt(ss / float64(s.N-1))
	}
	return s
}

// pearson is Pearson's correlation coefficient of xs and ys; NaN with fewer than 3 pairs or a constant series.
func pearson(xs, ys []float64) float64 {
	n := len(xs)
	if n < 3 || n != len(ys) {
		return math.NaN()
	}
	mx, my := stat(xs).Mean, stat(ys).Mean
	var sxy, sxx, syy float64
	for i := range xs {
		dx, dy := xs[i]-mx, ys[i]-my
		sxy, sxx, syy = sxy+dx*dy, sxx+dx*dx, syy+dy*dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}
