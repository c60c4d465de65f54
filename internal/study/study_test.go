package study

import (
	"context"
	"encoding/csv"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/train"
	"github.com/bnzoo/bnzoo/zoo"
)

// tinyGrid is a grid of two real MNIST runs small enough for a test: vgg_mini tanh in both placements, one seed,
// learning rate 0.1, 2 epochs of 18 images per class (2 more held out for validation), tested on 10 per class.
func tinyGrid() *Grid {
	g, err := Preset("order", "quick", train.DataSpec{Name: "mnist"})
	if err != nil {
		panic(err)
	}
	g.Activations, g.Placements, g.Seeds = []string{"tanh"}, []string{"conventional", "swapped"}, []int64{1}
	g.LRs, g.Train.LR = []float64{0.1}, 0.1
	g.Data.TrainPerClass, g.Data.TestPerClass = 20, 10
	g.Train.Epochs = 2
	g.Train.BatchSize = 50
	return g
}

func TestPointsOrderAndIDs(t *testing.T) {
	g := &Grid{Archs: []string{"vgg_mini"}, Activations: []string{"tanh", "shifted_tanh:0.5"},
		Placements: []string{"conventional", "swapped"}, Seeds: []int64{1, 2}, Train: train.Config{LR: 0.1}}
	var ids []string
	for i, p := range g.Points() {
		if p.Index != i {
			t.Fatalf("point %d has index %d", i, p.Index)
		}
		ids = append(ids, p.ID())
	}
	want := []string{
		"vgg_mini-tanh-conventional-lr0.1-seed1", "vgg_mini-tanh-swapped-lr0.1-seed1",
		"vgg_mini-shifted_tanh_0.5-conventional-lr0.1-seed1", "vgg_mini-shifted_tanh_0.5-swapped-lr0.1-seed1",
		"vgg_mini-tanh-conventional-lr0.1-seed2", "vgg_mini-tanh-swapped-lr0.1-seed2",
		"vgg_mini-shifted_tanh_0.5-conventional-lr0.1-seed2", "vgg_mini-shifted_tanh_0.5-swapped-lr0.1-seed2",
	}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("points\n got %v\nwant %v", ids, want)
	}
	if g.SweepPoints() != len(want) {
		t.Fatalf("one rate: %d sweep points, want every point", g.SweepPoints())
	}

	// A learning-rate axis swept on the first seed: every rate for seed 1, then the chosen rate for seed 2.
	g.Activations, g.LRs, g.SweepSeeds = []string{"tanh"}, []float64{0.01, 0.1}, 1
	ids = nil
	for _, p := range g.Points() {
		ids = append(ids, p.ID())
	}
	want = []string{
		"vgg_mini-tanh-conventional-lr0.01-seed1", "vgg_mini-tanh-conventional-lr0.1-seed1",
		"vgg_mini-tanh-swapped-lr0.01-seed1", "vgg_mini-tanh-swapped-lr0.1-seed1",
		"vgg_mini-tanh-conventional-lr-chosen-seed2", "vgg_mini-tanh-swapped-lr-chosen-seed2",
	}
	if !reflect.DeepEqual(ids, want) || g.SweepPoints() != 4 {
		t.Fatalf("sweep points\n got %v (%d in the sweep)\nwant %v (4)", ids, g.SweepPoints(), want)
	}
}

func TestPresetsValidate(t *testing.T) {
	for _, e := range ExperimentNames() {
		for _, b := range BudgetNames() {
			g, err := Preset(e, b, train.DataSpec{Name: "cifar10"})
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Validate(); err != nil {
				t.Errorf("%s/%s: %v", e, b, err)
			}
			if g.Train.Momentum != 0.9 || g.Train.WeightDecay != 5e-4 || g.Train.BatchSize != 128 || len(g.LRs) < 2 {
				t.Errorf("%s/%s: recipe %+v (rates %v) is not the shared one with a learning-rate axis", e, b, g.Train, g.LRs)
			}
			if g.Data.ValFraction != 0.1 || g.Train.Track == nil || g.SweepSeeds != 1 {
				t.Errorf("%s/%s: no validation split, tracking or one-seed sweep: %+v", e, b, g.Data)
			}
		}
	}
	if _, err := Preset("nope", "quick", train.DataSpec{Name: "mnist"}); err == nil || !strings.Contains(err.Error(), "order") {
		t.Errorf("unknown experiment: %v", err)
	}
}

func TestGridValidateNamesTheField(t *testing.T) {
	for name, c := range map[string]struct {
		edit func(*Grid)
		want string
	}{
		"arch":      {func(g *Grid) { g.Archs = []string{"vgg_nope"} }, "archs"},
		"act":       {func(g *Grid) { g.Activations = []string{"swish?"} }, "activations"},
		"placement": {func(g *Grid) { g.Placements = []string{"before"} }, "placements"},
		"twice":     {func(g *Grid) { g.Seeds = []int64{1, 1} }, "appears twice"},
		"augment":   {func(g *Grid) { g.Augment = "sometimes" }, "augment"},
		"empty":     {func(g *Grid) { g.Seeds = nil }, "at least one"},
		"epochs":    {func(g *Grid) { g.Train.Epochs = 0 }, "epochs"},
		"perclass":  {func(g *Grid) { g.Data.TestSubset = 5 }, "test_per_class"},
		"no val":    {func(g *Grid) { g.Data.ValFraction = 0 }, "val_fraction"},
		"val 1":     {func(g *Grid) { g.Data.ValFraction = 1 }, "val_fraction"},
		"lr NaN":    {func(g *Grid) { g.LRs = []float64{0.1, math.NaN()} }, "lrs"},
		"lr twice":  {func(g *Grid) { g.LRs = []float64{0.1, 0.1} }, "lrs"},
		"sweep":     {func(g *Grid) { g.SweepSeeds = -1 }, "sweep_seeds"},
	} {
		g := tinyGrid()
		c.edit(g)
		if err := g.Validate(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error naming %q", name, err, c.want)
		}
	}
}

func TestWriteGridRefusesAnotherGrid(t *testing.T) {
	dir := t.TempDir()
	g := tinyGrid()
	if err := WriteGrid(dir, g); err != nil {
		t.Fatal(err)
	}
	if err := WriteGrid(dir, g); err != nil {
		t.Fatalf("rewriting the same grid: %v", err)
	}
	back, err := ReadGrid(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Points(), g.Points()) {
		t.Fatal("grid.json does not round-trip")
	}
	g.Seeds = []int64{1, 2}
	if err := WriteGrid(dir, g); err == nil || !strings.Contains(err.Error(), GridFile) {
		t.Fatalf("a different grid: got %v, want an error naming %s", err, GridFile)
	}
}

func TestStatAndPearson(t *testing.T) {
	s := stats([]float64{0.9, 0.8, 1.0})
	if math.Abs(s.Mean-0.9) > 1e-15 || math.Abs(s.Std-0.1) > 1e-15 || s.N != 3 {
		t.Fatalf("stat = %+v, want mean 0.9 std 0.1 (n−1)", s)
	}
	if one := stats([]float64{0.5}); one.Std != 0 || one.Mean != 0.5 {
		t.Fatalf("one value: %+v", one)
	}
	if r := pearson([]float64{1, 2, 3, 4}, []float64{2, 4, 6, 8}); math.Abs(r-1) > 1e-12 {
		t.Fatalf("perfect line: r = %v", r)
	}
	if r := pearson([]float64{1, 2, 3}, []float64{3, 1, 2}); math.Abs(r+0.5) > 1e-12 {
		t.Fatalf("r = %v, want −0.5", r)
	}
	if r := pearson([]float64{1, 1, 1}, []float64{1, 2, 3}); !math.IsNaN(r) {
		t.Fatalf("constant series: r = %v, want NaN", r)
	}
}

func f(v float64) *float64 { return &v }

// fakeResult writes a finished result (and an analysis report) for point p of grid g in the study dir with final
// accuracy acc and layer-mean metrics.
func fakeResult(t *testing.T, g *Grid, dir string, p Point, status string, acc, asym, sparsity float64) {
	t.Helper()
	res := &Result{Point: p, Status: status, Dataset: "mnist", Epochs: 2, BestValAcc: acc + 0.01, BestValEpoch: 1,
		FinalValAcc: acc - 0.01, FinalTestAcc: acc, BestValTestAcc: acc, TrainSeconds: 10,
		Curve: []CurvePoint{{Epoch: 1, TrainLoss: 1, ValAcc: acc - 0.1}, {Epoch: 2, TrainLoss: 0.5, ValAcc: acc - 0.01}},
		Mean:  LayerSummary{Name: "mean", Saturation: f(0.5), AsymmetricSaturation: f(asym), SkewnessAbsMean: f(1), Sparsity: sparsity}}
	if p.Activation == "relu" {
		res.Mean.Saturation, res.Mean.AsymmetricSaturation, res.Mean.SkewnessAbsMean = nil, nil, nil
	}
	rd := g.RunDir(dir, p)
	if err := os.MkdirAll(rd, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteResult(rd, res); err != nil {
		t.Fatal(err)
	}
	lo, hi := -1.0, 1.0
	if p.Activation == "relu" {
		lo, hi = 0, math.Inf(1)
	}
	base, _, err := zoo.ParsePlacementSpec(p.Placement) // a layer has one of the three placements
	if err != nil {
		t.Fatal(err)
	}
	col, err := analysis.NewCollector([]analysis.LayerSpec{{Name: "features.0", Activation: p.Activation,
		Placement: base.String(), Channels: 2, Lower: lo, Upper: hi}}, analysis.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	act := []float32{0.99, 0.5, -0.2, 0.9}
	if err := col.Add("features.0", act, act, 2, 1); err != nil {
		t.Fatal(err)
	}
	rep := col.Report(analysis.ReportMeta{Model: p.Arch, Dataset: "mnist", Activation: p.Activation,
		Placement: p.Placement, Seed: p.Seed, TestAccuracy: acc, Samples: 2})
	if err := rep.WriteJSON(filepath.Join(rd, ReportFile)); err != nil {
		t.Fatal(err)
	}
}

func TestCollectAggregatesOverSeeds(t *testing.T) {
	dir := t.TempDir()
	g := &Grid{Archs: []string{"vgg_mini"}, Activations: []string{"relu", "tanh"}, Placements: []string{"conventional", "swapped"},
		Seeds: []int64{1, 2, 3}, Data: train.DataSpec{Name: "mnist", ValFraction: 0.1}, Train: train.DefaultConfig(),
		Augment: "auto", Analysis: analysis.DefaultOptions()}
	if err := WriteGrid(dir, g); err != nil {
		t.Fatal(err)
	}
	pts := g.Points() // seed-major: 0..3 seed 1, 4..7 seed 2, 8..11 seed 3
	accs := map[string][]float64{}
	for _, p := range pts {
		if p.Seed == 3 && p.Activation == "tanh" && p.Placement == "swapped" {
			continue // not finished
		}
		acc := 0.80 + 0.01*float64(p.Seed)
		status := StatusDone
		if p.Seed == 2 && p.Activation == "relu" && p.Placement == "swapped" {
			status = StatusDiverged
		}
		if p.Placement == "swapped" {
			acc += 0.05
		}
		fakeResult(t, g, dir, p, status, acc, 0.1*float64(p.Seed), 0.2)
		if status == StatusDone {
			accs[p.Config()] = append(accs[p.Config()], acc)
		}
	}
	// an unfinished run directory (no result.json) is ignored
	if err := os.MkdirAll(filepath.Join(dir, RunsDir, "vgg_mini-tanh-swapped-lr0.01-seed3"), 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := Collect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Results) != 11 || s.Missing != 1 {
		t.Fatalf("%d results, %d missing; want 11 and 1", len(s.Results), s.Missing)
	}
	var order []string
	for _, r := range s.Rows {
		order = append(order, r.Activation+"/"+r.Placement)
		want := stats(accs[r.Arch+" "+r.Activation+" "+r.Placement])
		if r.TestAcc != want {
			t.Errorf("%s/%s final acc %+v, want %+v", r.Activation, r.Placement, r.TestAcc, want)
		}
		if r.Activation == "relu" && r.Saturation.N != 0 {
			t.Errorf("relu has a saturation stat: %+v", r.Saturation)
		}
	}
	if want := []string{"relu/conventional", "relu/swapped", "tanh/conventional", "tanh/swapped"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("rows %v, want the grid's order %v", order, want)
	}
	if r := s.Rows[1]; r.Runs != 3 || r.Diverged != 1 || r.TestAcc.N != 2 {
		t.Fatalf("relu/swapped: runs %d diverged %d n %d; want 3, 1, 2", r.Runs, r.Diverged, r.TestAcc.N)
	}
	if err := WriteSummaryDir(dir, s); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, SummaryCSV))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(raw))).ReadAll()
	if err != nil || len(recs) != 5 {
		t.Fatalf("summary.csv: %d records, %v", len(recs), err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, SummaryMarkdown))
	for _, want := range []string{"| vgg_mini | tanh | swapped | 0.01 | 2 |", "(1 diverged)", "figures/accuracy.png", "1 grid points not finished"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("summary.md lacks %q", want)
		}
	}
	for _, fig := range []string{FiguresDir + "/accuracy.png", FiguresDir + "/accuracy_vs_asymmetric_saturation.png",
		FiguresDir + "/accuracy_vs_sparsity.png", ComparisonsDir + "/vgg_mini-tanh/comparison.md"} {
		b, err := os.ReadFile(filepath.Join(dir, fig))
		if err != nil || (strings.HasSuffix(fig, ".png") && (len(b) < 8 || string(b[1:4]) != "PNG")) {
			t.Errorf("%s is not a PNG (%v)", fig, err)
		}
	}
	// A corrupt result is an error naming the file.
	bad := filepath.Join(g.RunDir(dir, pts[0]), ResultFile)
	if err := os.WriteFile(bad, []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Collect(dir); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("corrupt result: %v", err)
	}
}

// cancelOnMessage is a slog handler that cancels a context on the n-th record with the given message.
type cancelOnMessage struct {
	msg    string
	n      *int
	cancel context.CancelFunc
}

func (h cancelOnMessage) Enabled(context.Context, slog.Level) bool { return true }
func (h cancelOnMessage) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		*h.n--
		if *h.n == 0 {
			h.cancel()
		}
	}
	return nil
}
func (h cancelOnMessage) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h cancelOnMessage) WithGroup(string) slog.Handler      { return h }

func TestRunPointSkipsFinishedAndResumesInterrupted(t *testing.T) {
	if testing.Short() {
		t.Skip("trains four tiny models")
	}
	g := tinyGrid()
	straight, interrupted := t.TempDir(), t.TempDir()
	for _, d := range []string{straight, interrupted} {
		if err := WriteGrid(d, g); err != nil {
			t.Fatal(err)
		}
	}
	p := g.Points()[1] // swapped
	r, err := NewRunner(straight, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := r.RunPoint(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if want.Skipped || want.Resumed || want.Result.Status != StatusDone || want.Result.Epochs != 2 || len(want.Result.Layers) != 3 {
		t.Fatalf("first run: %+v", want)
	}
	if _, err := os.Stat(g.RunDir(straight, p) + ".lock"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the finished point's lock file is still there (%v)", err)
	}
	again, err := r.RunPoint(context.Background(), p)
	if err != nil || !again.Skipped || !reflect.DeepEqual(again.Result, want.Result) {
		t.Fatalf("second call: skipped %v err %v; want the stored result", again.Skipped, err)
	}

	// Interrupt after the first epoch's checkpoint, then run again: the run resumes and ends bit-identical.
	ctx, cancel := context.WithCancel(context.Background())
	n := 1
	ri, err := NewRunner(interrupted, nil, slog.New(cancelOnMessage{msg: "checkpoint written", n: &n, cancel: cancel}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = ri.RunPoint(ctx, p)
	var ie *train.InterruptedError
	if !errors.As(err, &ie) {
		t.Fatalf("interrupted run: %v, want an *train.InterruptedError", err)
	}
	if _, err := ReadResult(tinyGrid().RunDir(interrupted, p)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an interrupted point has a result.json (%v)", err)
	}
	ri2, _ := NewRunner(interrupted, nil, nil)
	got, err := ri2.RunPoint(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Resumed {
		t.Fatal("the second call did not resume the interrupted run")
	}
	a, b := *got.Result, *want.Result
	a.TrainSeconds, a.AnalysisSeconds, a.TrackSeconds, b.TrainSeconds, b.AnalysisSeconds, b.TrackSeconds = 0, 0, 0, 0, 0, 0
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("resumed result differs from the straight run:\n got %+v\nwant %+v", a, b)
	}
	ra, _ := os.ReadFile(filepath.Join(tinyGrid().RunDir(interrupted, p), ReportFile))
	rb, _ := os.ReadFile(filepath.Join(tinyGrid().RunDir(straight, p), ReportFile))
	if len(ra) == 0 || string(ra) != string(rb) {
		t.Fatal("the resumed run's report.json differs from the straight run's")
	}

	// A run directory holding another point's run is refused, naming its run.json.
	other := g.Points()[0]
	if err := os.Rename(tinyGrid().RunDir(interrupted, p), tinyGrid().RunDir(interrupted, other)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(tinyGrid().RunDir(interrupted, other), ResultFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := ri2.RunPoint(context.Background(), other); err == nil || !strings.Contains(err.Error(), "run.json") {
		t.Fatalf("foreign run directory: %v", err)
	}
}

func TestRunAllRecordsDivergence(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a tiny model")
	}
	g := tinyGrid()
	g.Placements = []string{"swapped"}
	g.LRs, g.Train.LR = []float64{1e30}, 1e30
	dir := t.TempDir()
	if err := WriteGrid(dir, g); err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var outs []Outcome
	if err := r.RunAll(context.Background(), nil, 2, func(_ Point, o Outcome, err error) { outs = append(outs, o) }); err != nil {
		t.Fatal(err)
	}
	if len(outs) != 1 || outs[0].Result.Status != StatusDiverged || outs[0].Result.Detail == "" {
		t.Fatalf("outcomes %+v, want one diverged run", outs)
	}
	res, err := ReadResult(tinyGrid().RunDir(dir, g.Points()[0]))
	if err != nil || res.Status != StatusDiverged {
		t.Fatalf("stored result %+v, %v", res, err)
	}
}

func TestRunPointRefusesALockedPoint(t *testing.T) {
	g := tinyGrid()
	g.RunsDir = "../shared-runs"
	dir := filepath.Join(t.TempDir(), "order")
	if err := WriteGrid(dir, g); err != nil {
		t.Fatal(err)
	}
	p := g.Points()[0]
	rd := g.RunDir(dir, p)
	if want := filepath.Join(filepath.Dir(dir), "shared-runs", p.ID()); rd != want {
		t.Fatalf("run dir %s, want %s", rd, want)
	}
	unlock, err := lockPoint(rd)
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.RunPoint(context.Background(), p); err == nil || !strings.Contains(err.Error(), rd+".lock") {
		t.Fatalf("locked point: %v, want an error naming the lock file", err)
	}
	unlock(false)
}

func TestSharedRunsDirServesEveryGridThatHasThePoint(t *testing.T) {
	root := t.TempDir()
	order, shifted := tinyGrid(), tinyGrid()
	order.Experiment, shifted.Experiment = "order", "shifted"
	shifted.Activations, shifted.Placements = []string{"tanh", "shifted_tanh:1"}, []string{"swapped"}
	for _, g := range []*Grid{order, shifted} {
		g.RunsDir = "../runs"
		if err := WriteGrid(filepath.Join(root, g.Experiment), g); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range order.Points() { // as if the order experiment had run
		fakeResult(t, order, filepath.Join(root, "order"), p, StatusDone, 0.9, 0.1, 0.2)
	}
	s, err := Collect(filepath.Join(root, "shifted"))
	if err != nil {
		t.Fatal(err)
	}
	// tanh swapped is common (index 0 in shifted, 1 in order); shifted_tanh:1 has not run.
	if len(s.Results) != 1 || s.Missing != 1 || s.Results[0].Point.ID() != "vgg_mini-tanh-swapped-lr0.1-seed1" || s.Results[0].Point.Index != 0 {
		t.Fatalf("shifted sees %d results (missing %d): %+v", len(s.Results), s.Missing, s.Results)
	}
	r, err := NewRunner(filepath.Join(root, "shifted"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.RunPoint(context.Background(), shifted.Points()[0])
	if err != nil || !out.Skipped {
		t.Fatalf("common point: skipped %v, %v; want it skipped", out.Skipped, err)
	}
}
