// Package study runs grids of training runs — {architecture} × {activation} × {placement} × {learning rate} ×
// {seed} on one dataset with one shared recipe — locally with a worker pool or as a Kubernetes Indexed Job or Slurm
// job array, and aggregates whatever runs exist into a verdict: every choice (best epoch, learning rate) made on a
// validation split held out of the training data, the test split evaluated once per run, and swapped −
// conventional paired by seed with Student-t confidence intervals. It is the machinery behind examples/study.
//
// A study directory holds
//
//	grid.json        the Grid (written by Init; every runner and the scheduler exports read it)
//	runs/<point>/    one train run directory per grid point (the runs directory can be shared; see RunsDir) (run.json, logs,
//	                 metrics.jsonl, checkpoints) plus report.json (the analysis of the final model on the test split)
//	                 and result.json (written last: its presence marks the point finished)
//	summary.md, verdicts.csv, lr.csv, summary.csv, runs.csv, figures/, comparisons/   written by WriteSummaryDir
package study

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/internal/atomicfile"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/train"
	"github.com/bnzoo/bnzoo/zoo"
)

// File and directory names inside a study directory.
const (
	GridFile   = "grid.json"
	RunsDir    = "runs"
	ResultFile = "result.json"
	ReportFile = "report.json"
)

// Grid is a study: the axes whose product is the set of runs, and everything the runs share.
type Grid struct {
	// Experiment and Budget name the preset the grid came from ("" for a hand-made grid); informational.
	Experiment string `json:"experiment,omitempty"`
	Budget     string `json:"budget,omitempty"`

	Archs       []string `json:"archs"`
	Activations []string `json:"activations"` // names as layers.ParseActivation takes them
	// Placements are specs as zoo.ParsePlacementSpec takes them: "conventional", "swapped", or a base placement
	// with per-unit rules, "conventional+last:50%=swapped".
	Placements []string `json:"placements"`
	Seeds      []int64  `json:"seeds"`
	// LRs is the learning-rate axis: each configuration (arch, activation, placement) is trained at every rate on
	// the first SweepSeeds seeds, and the rate with the highest mean final validation accuracy over them is the
	// configuration's chosen rate, at which the remaining seeds run (see ChooseLRs). SweepSeeds 0 (or ≥ the number
	// of seeds) runs every seed at every rate. Empty LRs means the one rate Train.LR.
	LRs        []float64 `json:"lrs,omitempty"`
	SweepSeeds int       `json:"sweep_seeds,omitempty"`
	// Width is the MobileNets' channel multiplier (0 = 1).
	Width float64 `json:"width,omitempty"`

	Data  train.DataSpec `json:"data"`
	Train train.Config   `json:"train"` // the shared recipe; Seed is set per point
	// Augment is "auto" (on for 32×32 and 64×64 colour sets), "on" or "off"; resolved per dataset when a run
	// is created.
	Augment string `json:"augment"`
	// Analysis holds δ and τ of the per-layer report of each finished run.
	Analysis analysis.Options `json:"analysis"`
	// RunsDir is the directory of the run directories, relative to the study directory ("" = "runs"). Studies
	// of the same budget and dataset can share one ("../runs"): a point common to two grids (tanh swapped is in
	// the order, shifted and induced experiments) then trains once.
	RunsDir string `json:"runs_dir,omitempty"`
}

// Point is one run of a grid. Index is its position in Grid.Points (the task index of a scheduler export).
type Point struct {
	Index      int    `json:"index"`
	Arch       string `json:"arch"`
	Activation string `json:"activation"`
	Placement  string `json:"placement"`
	Seed       int64  `json:"seed"`
	// LR is the point's learning rate; 0 in a point of Grid.Points that runs at its configuration's chosen rate,
	// which is known only once the sweep has finished (Runner.Resolve fills it in).
	LR float64 `json:"lr"`
}

// Chosen reports whether the point runs at its configuration's chosen learning rate, still to be resolved.
func (p Point) Chosen() bool { return p.LR == 0 }

// ID names the point's run directory: <arch>-<activation>-<placement>-lr<lr>-seed<k>, with the ':' of a
// parameterised activation (shifted_tanh:0.5) written as '_' and a mixed placement as zoo.PlacementSpecFileName
// writes it; "lr-chosen" for a point not resolved yet.
func (p Point) ID() string {
	lr := "lr-chosen"
	if !p.Chosen() {
		lr = "lr" + strconv.FormatFloat(p.LR, 'g', -1, 64)
	}
	return fmt.Sprintf("%s-%s-%s-%s-seed%d", p.Arch, strings.ReplaceAll(p.Activation, ":", "_"),
		zoo.PlacementSpecFileName(p.Placement), lr, p.Seed)
}

// Config is the point's model without its data shape: arch, activation, placement (what is averaged over seeds).
func (p Point) Config() string { return p.Arch + " " + p.Activation + " " + p.Placement }

// Points enumerates the grid: first the sweep — the first SweepSeeds seeds, each configuration at every learning
// rate — then the other seeds at each configuration's chosen rate (LR 0, resolved when run). Within each part the
// seed is outermost, then arch, activation, placement and rate, so that a grid run in order (or interrupted) has
// one seed of every configuration before the next seed of any, and the sweep finishes before any point needs its
// choice.
func (g *Grid) Points() []Point {
	var ps []Point
	lrs, sweep := g.rates(), g.sweepSeeds()
	for k, s := range g.Seeds {
		for _, a := range g.Archs {
			for _, act := range g.Activations {
				for _, pl := range g.Placements {
					if k >= sweep {
						ps = append(ps, Point{Index: len(ps), Arch: a, Activation: act, Placement: pl, Seed: s})
						continue
					}
					for _, lr := range lrs {
						ps = append(ps, Point{Index: len(ps), Arch: a, Activation: act, Placement: pl, Seed: s, LR: lr})
					}
				}
			}
		}
	}
	return ps
}

// rates is the learning-rate axis: LRs, or Train.LR alone.
func (g *Grid) rates() []float64 {
	if len(g.LRs) > 0 {
		return g.LRs
	}
	return []float64{g.Train.LR}
}

// sweepSeeds is how many of the leading seeds run at every rate: all of them with one rate or SweepSeeds 0.
func (g *Grid) sweepSeeds() int {
	if len(g.rates()) == 1 || g.SweepSeeds <= 0 || g.SweepSeeds > len(g.Seeds) {
		return len(g.Seeds)
	}
	return g.SweepSeeds
}

// SweepPoints is the number of leading points of Points that make up the sweep (every point when every seed
// runs at every rate); the others need the sweep's result.
func (g *Grid) SweepPoints() int {
	return g.sweepSeeds() * len(g.Archs) * len(g.Activations) * len(g.Placements) * len(g.rates())
}

// Validate checks every axis and the recipe; errors name the field.
func (g *Grid) Validate() error {
	if len(g.Archs) == 0 || len(g.Activations) == 0 || len(g.Placements) == 0 || len(g.Seeds) == 0 {
		return fmt.Errorf("grid: archs, activations, placements and seeds must each have at least one value")
	}
	known := map[string]bool{}
	for _, n := range zoo.Names() {
		known[n] = true
	}
	for _, a := range g.Archs {
		if !known[a] {
			return fmt.Errorf("grid: archs: unknown model %q (valid: %s)", a, strings.Join(zoo.Names(), ", "))
		}
	}
	for _, a := range g.Activations {
		if _, err := layers.ParseActivation(a); err != nil {
			return fmt.Errorf("grid: activations: %w", err)
		}
	}
	for _, p := range g.Placements {
		if err := g.checkPlacement(p); err != nil {
			return fmt.Errorf("grid: placements: %w", err)
		}
	}
	seenLR := map[float64]bool{}
	for _, lr := range g.LRs {
		if !(lr > 0) || math.IsInf(lr, 0) {
			return fmt.Errorf("grid: lrs: every learning rate must be positive and finite, got %v", lr)
		}
		if seenLR[lr] {
			return fmt.Errorf("grid: lrs: %v appears twice", lr)
		}
		seenLR[lr] = true
	}
	if g.SweepSeeds < 0 {
		return fmt.Errorf("grid: sweep_seeds must not be negative, got %d", g.SweepSeeds)
	}
	seen := map[string]bool{}
	for _, p := range g.Points() {
		if seen[p.ID()] {
			return fmt.Errorf("grid: point %s appears twice (repeated axis value)", p.ID())
		}
		seen[p.ID()] = true
	}
	switch g.Augment {
	case "auto", "on", "off":
	default:
		return fmt.Errorf("grid: augment must be auto, on or off, got %q", g.Augment)
	}
	if filepath.IsAbs(g.RunsDir) {
		return fmt.Errorf("grid: runs_dir must be relative to the study directory, got %q", g.RunsDir)
	}
	if g.Data.Name == "" {
		return fmt.Errorf("grid: data: no dataset name")
	}
	if !(g.Data.ValFraction > 0) {
		return fmt.Errorf("grid: data: val_fraction must be positive: a study chooses its learning rates and best " +
			"epochs on a validation split held out of the training data, never on the test split")
	}
	if err := g.Analysis.Validate(); err != nil {
		return fmt.Errorf("grid: analysis: %w", err)
	}
	rc := train.RunConfig{Data: g.Data, Train: g.Train,
		Model: zoo.Config{Arch: g.Archs[0], Classes: 10, InputShape: [3]int{3, 32, 32}, Width: g.Width}}
	rc.Model.Activation, _ = layers.ParseActivation(g.Activations[0])
	rc.Model.Placement, rc.Model.PlacementRules, _ = zoo.ParsePlacementSpec(g.Placements[0])
	if err := rc.Validate(); err != nil {
		return fmt.Errorf("grid: %w", err)
	}
	return nil
}

// Runs is the directory of the run directories of the study in dir.
func (g *Grid) Runs(dir string) string {
	if g == nil || g.RunsDir == "" {
		return filepath.Join(dir, RunsDir)
	}
	return filepath.Join(dir, g.RunsDir)
}

// RunDir is the run directory of point p of the study in dir.
func (g *Grid) RunDir(dir string, p Point) string { return filepath.Join(g.Runs(dir), p.ID()) }

// WriteGrid validates g and writes it to dir/grid.json atomically (creating dir). A grid.json that already holds a
// different grid is an error naming the file, so two studies never share run directories by accident.
func WriteGrid(dir string, g *Grid) error {
	if err := g.Validate(); err != nil {
		return err
	}
	js, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return err
	}
	js = append(js, '\n')
	path := filepath.Join(dir, GridFile)
	if old, err := os.ReadFile(path); err == nil {
		if string(old) == string(js) {
			return nil
		}
		return fmt.Errorf("%s holds a different grid: choose another study directory or remove it", path)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("study directory: %w", err)
	}
	return atomicfile.Write(path, js)
}

// ReadGrid reads and validates the grid.json at path (a file or a study directory).
func ReadGrid(path string) (*Grid, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, GridFile)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("grid: %w", err)
	}
	var g Grid
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&g); err != nil {
		return nil, fmt.Errorf("%s is not a valid grid: %w", path, err)
	}
	if err := g.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &g, nil
}

// checkPlacement parses a placement spec and, when it has rules, resolves them against every architecture of the
// grid (unit names and counts do not depend on the data's shape or classes), so a rule that selects no unit of one
// of them fails here, before any run.
func (g *Grid) checkPlacement(spec string) error {
	base, rules, err := zoo.ParsePlacementSpec(spec)
	if err != nil || len(rules) == 0 {
		return err
	}
	act, err := layers.ParseActivation(g.Activations[0])
	if err != nil {
		return err
	}
	for _, a := range g.Archs {
		c := zoo.Config{Arch: a, Classes: 10, InputShape: [3]int{3, 32, 32}, Activation: act, Placement: base,
			PlacementRules: rules, Width: g.Width}
		if _, err := c.UnitPlacements(); err != nil {
			return fmt.Errorf("placement %q: %w", spec, err)
		}
	}
	return nil
}
