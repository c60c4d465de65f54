package study

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/train"
)

// TestPairedIntervalByHand checks the interval against values worked out by hand: for differences 1…5 the mean
// is 3, the sample std √2.5 = 1.5811388, t(0.975, 4) = 2.7764451 (Student's t table), so the half-width is
// 2.7764451 · 1.5811388 / √5 = 1.9632432; for 0.01, 0.03, 0.02: mean 0.02, std 0.01, t(0.975, 2) = 4.3026527,
// half-width 0.0248414.
func TestPairedIntervalByHand(t *testing.T) {
	iv := PairedInterval([]float64{1, 2, 3, 4, 5})
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
	if iv.N != 5 || !near(iv.Mean, 3) || !near(iv.Std, 1.5811388) || !near(iv.TQuantile, 2.7764451) ||
		!near(iv.HalfWidth, 1.9632432) || !near(iv.Low, 1.0367568) || !near(iv.High, 4.9632432) {
		t.Fatalf("1…5: %+v", iv)
	}
	if v := verdictOf(iv, true, "swapped", "conventional"); v != VerdictSwapped {
		t.Fatalf("interval above 0: %q", v)
	}
	iv = PairedInterval([]float64{0.01, 0.03, 0.02})
	if !near(iv.Mean, 0.02) || !near(iv.Std, 0.01) || !near(iv.TQuantile, 4.3026527) || !near(iv.HalfWidth, 0.0248414) {
		t.Fatalf("0.01, 0.03, 0.02: %+v", iv)
	}
	if v := verdictOf(iv, true, "swapped", "conventional"); v != VerdictNone {
		t.Fatalf("interval holding 0: %q", v)
	}
	if v := verdictOf(PairedInterval([]float64{-1, -1.1, -0.9}), true, "swapped", "conventional"); v != VerdictConventional {
		t.Fatalf("interval below 0: %q", v)
	}
	if v := verdictOf(PairedInterval([]float64{-1, -1.1, -0.9}), false, "swapped", "conventional"); v != VerdictConvHi {
		t.Fatalf("a metric below 0: %q", v)
	}
	if iv := PairedInterval([]float64{0.5}); iv.N != 1 || !math.IsNaN(iv.Low) || verdictOf(iv, true, "swapped", "conventional") != VerdictTooFew {
		t.Fatalf("one pair: %+v", iv)
	}
}

// sweepGrid is a grid with a learning-rate axis swept on seed 1 and seeds 2–3 at the chosen rate.
func sweepGrid() *Grid {
	return &Grid{Archs: []string{"vgg_mini"}, Activations: []string{"tanh"}, Placements: []string{"conventional", "swapped"},
		Seeds: []int64{1, 2, 3}, LRs: []float64{0.01, 0.1}, SweepSeeds: 1,
		Data: train.DataSpec{Name: "mnist", ValFraction: 0.1}, Train: train.DefaultConfig(), Augment: "auto",
		Analysis: analysis.DefaultOptions()}
}

// TestSelectionAndVerdictByHand writes sweep results whose validation accuracies make conventional choose 0.1 and
// swapped 0.01 — with test accuracies pointing the other way, so a choice made on the test split would differ —
// then the chosen-rate runs, and checks the choice, what Resolve gives the later seeds, the rows and the verdict
// against values computed by hand.
func TestSelectionAndVerdictByHand(t *testing.T) {
	dir := t.TempDir()
	g := sweepGrid()
	if err := WriteGrid(dir, g); err != nil {
		t.Fatal(err)
	}
	write := func(p Point, val, test float64) {
		t.Helper()
		fakeResult(t, g, dir, p, StatusDone, test, 0.1, 0.2)
		res, err := ReadResult(g.RunDir(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		res.FinalValAcc = val
		if err := WriteResult(g.RunDir(dir, p), res); err != nil {
			t.Fatal(err)
		}
	}
	sweep := map[string][2]float64{ // val, test
		"conventional 0.01": {0.80, 0.95}, "conventional 0.1": {0.85, 0.70},
		"swapped 0.01": {0.90, 0.60}, "swapped 0.1": {0.89, 0.99},
	}
	pts := g.Points()
	for _, p := range pts[:g.SweepPoints()] {
		v := sweep[p.Placement+" "+map[float64]string{0.01: "0.01", 0.1: "0.1"}[p.LR]]
		write(p, v[0], v[1])
	}
	r, err := NewRunner(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	later := pts[g.SweepPoints():]
	if len(later) != 4 || !later[0].Chosen() {
		t.Fatalf("points after the sweep: %+v", later)
	}
	// test accuracy per (placement, seed) at the chosen rate: swapped − conventional = 0.01, 0.03, 0.02
	tests := map[string]float64{"conventional 1": 0.70, "swapped 1": 0.71, "conventional 2": 0.70, "swapped 2": 0.73,
		"conventional 3": 0.70, "swapped 3": 0.72}
	for _, p := range later {
		q, err := r.Resolve(p)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]float64{"conventional": 0.1, "swapped": 0.01}[p.Placement]
		if q.LR != want {
			t.Fatalf("%s resolved to lr %v, want %v (highest mean validation accuracy)", p.ID(), q.LR, want)
		}
		write(q, 0.5, tests[p.Placement+" "+map[int64]string{2: "2", 3: "3"}[p.Seed]])
	}
	// seed 1's runs at the chosen rates are the sweep's: rewrite their test accuracies to the table above
	for _, p := range []Point{{Index: 1, Arch: "vgg_mini", Activation: "tanh", Placement: "conventional", Seed: 1, LR: 0.1},
		{Index: 2, Arch: "vgg_mini", Activation: "tanh", Placement: "swapped", Seed: 1, LR: 0.01}} {
		write(p, sweep[p.Placement+" "+map[float64]string{0.01: "0.01", 0.1: "0.1"}[p.LR]][0], tests[p.Placement+" 1"])
	}
	s, err := Collect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Missing != 0 || len(s.Results) != 8 || len(s.Rows) != 2 || s.Rows[0].LR != 0.1 || s.Rows[1].LR != 0.01 || s.Rows[1].Runs != 3 {
		t.Fatalf("collect: %d results, %d missing, rows %+v", len(s.Results), s.Missing, s.Rows)
	}
	var acc *Verdict
	for i := range s.Verdicts {
		if s.Verdicts[i].Metric == MetricTestAccuracy {
			acc = &s.Verdicts[i]
		}
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
	if acc == nil || !reflect.DeepEqual(acc.Seeds, []int64{1, 2, 3}) || !near(acc.Mean, 0.02) ||
		!near(acc.Low, 0.02-0.0248414) || !near(acc.High, 0.02+0.0248414) || acc.Verdict != VerdictNone ||
		acc.BaselineLR != 0.1 || acc.LR != 0.01 {
		t.Fatalf("accuracy verdict %+v, want mean 0.02 ± 0.0248414 over seeds 1–3, no significant difference", acc)
	}
	if err := WriteSummaryDir(dir, s); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, SummaryMarkdown))
	v, l, c := strings.Index(string(md), "## Verdict"), strings.Index(string(md), "## Learning rate"), strings.Index(string(md), "## Each configuration")
	if v < 0 || l < v || c < l || !strings.Contains(string(md), "| vgg_mini | tanh | swapped − conventional | test_accuracy | 0.01 / 0.1 | 3 | +2.00 pp | [-0.48, +4.48 pp] |") ||
		!strings.Contains(string(md), "| vgg_mini | tanh | conventional | 80.00 | **85.00** | 0.1 |") {
		t.Fatalf("summary.md: verdict, learning rate and configuration sections missing or out of order:\n%s", md)
	}
	if strings.Contains(string(md), "best test") {
		t.Fatal("summary.md still reports a best test accuracy")
	}
}

// tinySweepGrid is the test-sized study of the issue: 1 epoch on 30 MNIST images per class (3 held out for
// validation), 2 learning rates on seed 1, 3 seeds, tested on 10 images per class.
func tinySweepGrid() *Grid {
	g := tinyGrid()
	g.Seeds, g.LRs, g.SweepSeeds = []int64{1, 2, 3}, []float64{0.01, 0.1}, 1
	g.Data.TrainPerClass = 30
	g.Train.Epochs = 1
	return g
}

// runTinyStudy runs the tiny sweep grid into a new directory; doctor, when not nil, edits the loaded splits.
func runTinyStudy(t *testing.T, doctor func(*train.Splits)) (string, *Summary) {
	t.Helper()
	dir := t.TempDir()
	g := tinySweepGrid()
	if err := WriteGrid(dir, g); err != nil {
		t.Fatal(err)
	}
	r, err := NewRunner(dir, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.load = func() (train.Splits, error) {
		s, err := g.Data.LoadSplits()
		if err == nil && doctor != nil {
			doctor(&s)
		}
		return s, err
	}
	if err := r.RunAll(context.Background(), nil, 1, nil); err != nil {
		t.Fatal(err)
	}
	s, err := Collect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSummaryDir(dir, s); err != nil {
		t.Fatal(err)
	}
	return dir, s
}

// TestTinyStudyChoosesNothingOnTheTestSplit runs the tiny study twice, the second time with the test split's labels
// shuffled. Every choice — the best epoch, the learning rate — and every validation number must be the same, while
// the test accuracies change: a code path that chose anything on the test split would fail here. It also checks
// that the study writes every file of its summary: the verdict and learning-rate tables, metrics.jsonl per run and
// every figure.
func TestTinyStudyChoosesNothingOnTheTestSplit(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 16 tiny models")
	}
	dir, s := runTinyStudy(t, nil)
	_, shuffled := runTinyStudy(t, func(sp *train.Splits) {
		test := *sp.Test
		test.Labels = append([]int(nil), test.Labels...)
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(test.Labels), func(i, j int) { test.Labels[i], test.Labels[j] = test.Labels[j], test.Labels[i] })
		sp.Test = &test
	})
	if len(s.Results) != 8 || s.Missing != 0 {
		t.Fatalf("%d results, %d missing; want 8 and 0", len(s.Results), s.Missing)
	}
	testChanged := false
	for i, a := range s.Results {
		b := shuffled.Results[i]
		if a.Point != b.Point || a.FinalValAcc != b.FinalValAcc || a.BestValEpoch != b.BestValEpoch ||
			a.BestValAcc != b.BestValAcc || !reflect.DeepEqual(a.Curve, b.Curve) {
			t.Fatalf("run %s differs with shuffled test labels:\n %+v\n %+v", a.Point.ID(), a, b)
		}
		testChanged = testChanged || a.FinalTestAcc != b.FinalTestAcc
	}
	if !testChanged {
		t.Fatal("shuffling the test labels changed no test accuracy: the check proves nothing")
	}
	for i, c := range s.Choices {
		if c.Chosen == 0 || c.Chosen != shuffled.Choices[i].Chosen || !reflect.DeepEqual(c.ValAcc, shuffled.Choices[i].ValAcc) {
			t.Fatalf("learning-rate choice %+v differs with shuffled test labels: %+v", c, shuffled.Choices[i])
		}
	}

	for _, res := range s.Results {
		lines, err := train.ReadMetrics(s.Grid.RunDir(dir, res.Point))
		if err != nil || len(lines) != 3 || lines[0].Epoch != 1 {
			t.Fatalf("%s: metrics.jsonl has %d lines (%v), want the 3 layers of epoch 1", res.Point.ID(), len(lines), err)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, SummaryMarkdown))
	if err != nil || !strings.Contains(string(md), "## Verdict") || !strings.Contains(string(md), "| vgg_mini | tanh | swapped − conventional | test_accuracy |") ||
		!strings.Contains(string(md), "## Learning rate") {
		t.Fatalf("summary.md lacks the verdict or learning-rate table (%v):\n%s", err, md)
	}
	for _, f := range []string{VerdictsCSV, LRCSV, "figures/verdict.png", "figures/lr.png", "figures/curves-vgg_mini-tanh.png",
		"figures/dynamics-vgg_mini-tanh.png", "figures/accuracy.png"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil || len(b) == 0 || (strings.HasSuffix(f, ".png") && string(b[1:4]) != "PNG") {
			t.Errorf("%s missing or not a PNG (%v)", f, err)
		}
	}
}

// TestDepthVerdictsByHand: a grid with a partly swapped placement compares it against conventional and against
// swapped, after swapped − conventional, with the differences, intervals and verdict texts computed by hand.
func TestDepthVerdictsByHand(t *testing.T) {
	dir := t.TempDir()
	const last = "conventional+last:1=swapped"
	g := sweepGrid()
	g.Placements, g.LRs, g.SweepSeeds = []string{"conventional", "swapped", last}, nil, 0
	if err := WriteGrid(dir, g); err != nil {
		t.Fatal(err)
	}
	acc := map[string][]float64{"conventional": {0.70, 0.70, 0.70}, "swapped": {0.71, 0.73, 0.72}, last: {0.75, 0.76, 0.77}}
	for _, p := range g.Points() {
		fakeResult(t, g, dir, p, StatusDone, acc[p.Placement][p.Seed-1], 0.1, 0.2)
	}
	if got := g.Points()[2].ID(); got != "vgg_mini-tanh-conventional+last_1=swapped-lr0.01-seed1" {
		t.Fatalf("point ID %q", got)
	}
	s, err := Collect(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []Verdict
	for _, v := range s.Verdicts {
		if v.Metric == MetricTestAccuracy {
			got = append(got, v)
		}
	}
	const half = 0.0248414 // t_{0.975, 2} · 0.01 / √3
	want := []struct {
		cmp     string
		mean    float64
		verdict string
	}{
		{"swapped − conventional", 0.02, VerdictNone},
		{last + " − conventional", 0.06, last + " better"},
		{last + " − swapped", 0.04, last + " better"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d accuracy verdicts, want %d: %+v", len(got), len(want), got)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-6 }
	for i, w := range want {
		v := got[i]
		if v.Comparison() != w.cmp || !near(v.Mean, w.mean) || !near(v.Low, w.mean-half) || !near(v.High, w.mean+half) ||
			v.Verdict != w.verdict || v.N != 3 {
			t.Errorf("verdict %d: %s, want %s %+.2f ± %.7f: %s", i, v, w.cmp, w.mean, half, w.verdict)
		}
	}
	if err := WriteSummaryDir(dir, s); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, SummaryMarkdown))
	if !strings.Contains(string(md), "| vgg_mini | tanh | "+last+" − swapped | test_accuracy | 0.01 / 0.01 | 3 | +4.00 pp |") {
		t.Fatalf("summary.md lacks the partly swapped model against swapped:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(dir, FiguresDir, "verdict.png")); err != nil {
		t.Fatal(err)
	}
}
