package train

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
)

// synthSplit returns a consistent split of n random c×h×w images whose labels cycle through classes.
func synthSplit(name string, n, c, h, w, classes int, seed int64) *datasets.Split {
	rng := rand.New(rand.NewSource(seed))
	s := &datasets.Split{Name: name, N: n, C: c, H: h, W: w, Images: make([]uint8, n*c*h*w), Labels: make([]int, n)}
	for i := range s.Images {
		s.Images[i] = uint8(rng.Intn(256))
	}
	for i := range s.Labels {
		s.Labels[i] = i % classes
	}
	for i := range classes {
		s.Classes = append(s.Classes, fmt.Sprint("class", i))
	}
	for range c {
		s.Mean, s.Std = append(s.Mean, 0.5), append(s.Std, 0.25)
	}
	return s
}

func synthModel(t *testing.T, classes int, shape [3]int, dt zoo.Dtype) *zoo.Model {
	t.Helper()
	m, err := zoo.New(zoo.Config{Arch: "vgg_mini", Classes: classes, InputShape: shape,
		Activation: layers.MustActivation("tanh"), Placement: layers.Swapped, Seed: 1}, dt)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// loaderBatch returns the first batch of n samples of s, as a Loader builds it (with its sample shape).
func loaderBatch(t *testing.T, s *datasets.Split, n int) *datasets.Batch {
	t.Helper()
	l, err := datasets.NewLoader(s, n, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b datasets.Batch
	l.Batch(l.Epoch(0), 0, &b)
	return &b
}

// entryPoints are every public call that takes data, each run on one split (or its first batch) with a model.
var entryPoints = []struct {
	name string
	call func(t *testing.T, m *zoo.Model, s *datasets.Split) error
}{
	{"Trainer.Fit", func(t *testing.T, m *zoo.Model, s *datasets.Split) error {
		_, err := newTestTrainer(t, m).Fit(context.Background(), s, nil)
		return err
	}},
	{"Trainer.Fit/test split", func(t *testing.T, m *zoo.Model, s *datasets.Split) error {
		// A training split that fits, and the bad split to evaluate on: the error comes after the first epoch.
		good := synthSplit("good", 8, m.Config.InputShape[0], m.Config.InputShape[1], m.Config.InputShape[2], 2, 1)
		_, err := newTestTrainer(t, m).Fit(context.Background(), good, s)
		return err
	}},
	{"Trainer.Step", func(t *testing.T, m *zoo.Model, s *datasets.Split) error {
		_, _, err := newTestTrainer(t, m).Step(loaderBatch(t, s, s.N))
		return err
	}},
	{"Trainer.Predict", func(t *testing.T, m *zoo.Model, s *datasets.Split) error {
		_, _, err := newTestTrainer(t, m).Predict(loaderBatch(t, s, s.N))
		return err
	}},
	{"Trainer.Evaluate", func(t *testing.T, m *zoo.Model, s *datasets.Split) error {
		_, err := newTestTrainer(t, m).Evaluate(context.Background(), s, nil)
		return err
	}},
	{"Trainer.Analyse", func(t *testing.T, m *zoo.Model, s *datasets.Split) error {
		_, _, err := newTestTrainer(t, m).Analyse(context.Background(), s, analysis.DefaultOptions(), "synth")
		return err
	}},
	{"Predictor.Logits", func(t *testing.T, m *zoo.Model, s *datasets.Split) error {
		_, err := newTestPredictor(t, m).Logits(loaderBatch(t, s, s.N))
		return err
	}},
	{"Predictor.Predict", func(t *testing.T, m *zoo.Model, s *datasets.Split) error {
		_, err := newTestPredictor(t, m).Predict(context.Background(), s, nil)
		return err
	}},
	{"Predictor.Evaluate", func(t *testing.T, m *zoo.Model, s *datasets.Split) error {
		_, err := newTestPredictor(t, m).Evaluate(context.Background(), s, nil)
		return err
	}},
	{"Predictor.Accuracy", func(t *testing.T, m *zoo.Model, s *datasets.Split) error {
		_, err := newTestPredictor(t, m).Accuracy(context.Background(), s)
		return err
	}},
	{"Predictor.Analyse", func(t *testing.T, m *zoo.Model, s *datasets.Split) error {
		_, _, err := newTestPredictor(t, m).Analyse(context.Background(), s, analysis.DefaultOptions(), "synth")
		return err
	}},
}

func newTestTrainer(t *testing.T, m *zoo.Model) *Trainer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.BatchSize = 4
	tr, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.Close)
	return tr
}

func newTestPredictor(t *testing.T, m *zoo.Model) *Predictor {
	t.Helper()
	p, err := NewPredictor(m, 4)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// paramValues copies every parameter of m as float64.
func paramValues(m *zoo.Model) [][]float64 {
	var out [][]float64
	for _, p := range m.Store.Params() {
		if m.Dtype() == zoo.Float64 {
			out = append(out, slices.Clone(p.Value.Float64s()))
			continue
		}
		var v []float64
		for _, x := range p.Value.Float32s() {
			v = append(v, float64(x))
		}
		out = append(out, v)
	}
	return out
}

// TestMismatchedDataIsAnError gives every data entry point data that does not fit the model — 1×28×28 images to a
// model of 3×32×32, 10-class labels to a model of 5 classes — in float32 and float64, and wants an *InputError
// naming both sides, no panic, and no parameter changed.
func TestMismatchedDataIsAnError(t *testing.T) {
	mnistLike := synthSplit("fashion-like/train", 12, 1, 28, 28, 10, 1)
	cases := []struct {
		name    string
		classes int
		shape   [3]int
		want    []string
	}{
		{"3x32x32 model on 1x28x28 data", 10, [3]int{3, 32, 32}, []string{"is 1×28×28", "the model takes 3×32×32"}},
		{"5 classes on 10-class labels", 5, [3]int{1, 28, 28}, []string{"has label 9", "10 classes", "the model has 5 classes"}},
	}
	for _, c := range cases {
		for _, dt := range []zoo.Dtype{zoo.Float32, zoo.Float64} {
			m := synthModel(t, c.classes, c.shape, dt)
			for _, e := range entryPoints {
				t.Run(fmt.Sprintf("%s/%v/%s", c.name, dt, e.name), func(t *testing.T) {
					before := paramValues(m)
					err := e.call(t, m, mnistLike)
					var ie *InputError
					if !errors.As(err, &ie) {
						t.Fatalf("err = %v, want an *InputError", err)
					}
					for _, w := range c.want {
						if !strings.Contains(err.Error(), w) {
							t.Errorf("err = %q, want it to contain %q", err, w)
						}
					}
					if e.name != "Trainer.Fit/test split" && !slices.EqualFunc(before, paramValues(m), slices.Equal) {
						t.Error("a parameter changed although the data were refused")
					}
				})
			}
		}
	}
}

// TestBadBatchIsAnError covers batches built by hand (no sample shape): too few or too many values (the float64
// path used to panic with "slice bounds out of range"), missing or out-of-range labels, no samples, nil.
func TestBadBatchIsAnError(t *testing.T) {
	for _, dt := range []zoo.Dtype{zoo.Float32, zoo.Float64} {
		m := synthModel(t, 10, [3]int{3, 32, 32}, dt)
		tr := newTestTrainer(t, m)
		pr := newTestPredictor(t, m)
		rng := rand.New(rand.NewSource(1))
		mnist := randomBatch(rng, 2, [3]int{1, 28, 28})
		long := randomBatch(rng, 2, [3]int{3, 32, 33})
		fewLabels := randomBatch(rng, 2, [3]int{3, 32, 32})
		fewLabels.Y = fewLabels.Y[:1]
		negative := randomBatch(rng, 2, [3]int{3, 32, 32})
		negative.Y[1] = -1
		wrongShape := randomBatch(rng, 2, [3]int{3, 32, 32})
		wrongShape.C, wrongShape.H, wrongShape.W = 3, 16, 64 // the right size, the wrong shape
		cases := []struct {
			name  string
			b     *datasets.Batch
			want  string
			skipP bool // the Predictor takes unlabelled batches
		}{
			{"1x28x28 values", &mnist, "has 1568 values for 2 samples (784 per sample) but the model takes 3×32×32 (3072 per sample)", false},
			{"too many values", &long, "has 6336 values for 2 samples", false},
			{"one label for two samples", &fewLabels, "has 1 labels for 2 samples", true},
			{"negative label", &negative, "has label -1 (sample 1)", false},
			{"declared shape", &wrongShape, "is 3×16×64 but the model takes 3×32×32", false},
			{"no samples", &datasets.Batch{}, "has 0 samples", false},
			{"nil", nil, "batch is nil", false},
		}
		for _, c := range cases {
			t.Run(fmt.Sprintf("%v/%s", dt, c.name), func(t *testing.T) {
				calls := map[string]func() error{
					"Step":    func() error { _, _, err := tr.Step(c.b); return err },
					"Predict": func() error { _, _, err := tr.Predict(c.b); return err },
				}
				if !c.skipP {
					calls["Predictor.Logits"] = func() error { _, err := pr.Logits(c.b); return err }
				}
				for name, call := range calls {
					err := call()
					var ie *InputError
					if !errors.As(err, &ie) || !strings.Contains(err.Error(), c.want) {
						t.Errorf("%s: err = %v, want an *InputError containing %q", name, err, c.want)
					}
				}
			})
		}
	}
}

// TestBadSplitIsAnError covers a nil split, an inconsistent one and a model that is not there.
func TestBadSplitIsAnError(t *testing.T) {
	m := synthModel(t, 10, [3]int{1, 28, 28}, zoo.Float32)
	short := synthSplit("short", 4, 1, 28, 28, 10, 1)
	short.Labels = short.Labels[:3]
	for _, c := range []struct {
		name string
		s    *datasets.Split
		want string
	}{{"nil", nil, "split is nil"}, {"inconsistent", short, `split "short" is inconsistent`}} {
		_, err := newTestTrainer(t, m).Evaluate(context.Background(), c.s, nil)
		if !strings.Contains(fmt.Sprint(err), c.want) {
			t.Errorf("%s: Evaluate: err = %v, want %q", c.name, err, c.want)
		}
		_, err = newTestPredictor(t, m).Predict(context.Background(), c.s, nil)
		if !strings.Contains(fmt.Sprint(err), c.want) {
			t.Errorf("%s: Predict: err = %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := NewPredictor(nil, 0); err == nil || !strings.Contains(err.Error(), "model is nil") {
		t.Errorf("NewPredictor(nil): err = %v", err)
	}
	if _, err := NewPredictor(m, -1); err == nil || !strings.Contains(err.Error(), "batch size") {
		t.Errorf("NewPredictor(m, -1): err = %v", err)
	}
}

// TestRandomDataNeverPanics feeds Step, Predict and Predictor.Logits random batches — random sample counts,
// declared shapes, value counts and labels around the model's — in both dtypes: each call either runs (exactly when
// the batch fits the model) or returns an *InputError; none panics.
func TestRandomDataNeverPanics(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	fitting := 0
	for _, dt := range []zoo.Dtype{zoo.Float32, zoo.Float64} {
		m := synthModel(t, 4, [3]int{1, 8, 8}, dt)
		tr, pr := newTestTrainer(t, m), newTestPredictor(t, m)
		for i := range 40 {
			n := rng.Intn(4) // 0 to 3 samples
			shape := [3]int{1, 8, 8}
			if rng.Intn(2) == 0 {
				shape = [3]int{1 + rng.Intn(2), 7 + rng.Intn(2), 7 + rng.Intn(2)} // mostly not the model's
			}
			b := randomBatch(rng, n, shape)
			for j := range b.Y {
				b.Y[j] = rng.Intn(4)
				if rng.Intn(4) == 0 {
					b.Y[j] = []int{-1, 4}[rng.Intn(2)] // outside the model's 4 classes
				}
			}
			if rng.Intn(2) == 0 {
				b.C, b.H, b.W = shape[0], shape[1], shape[2] // as a loader would declare it
			}
			fits := n > 0 && shape == [3]int{1, 8, 8} && !slices.ContainsFunc(b.Y, func(l int) bool { return l < 0 || l >= 4 })
			if fits {
				fitting++
			}
			for name, call := range map[string]func() error{
				"Step":    func() error { _, _, err := tr.Step(&b); return err },
				"Predict": func() error { _, _, err := tr.Predict(&b); return err },
				"Logits":  func() error { _, err := pr.Logits(&b); return err },
			} {
				err := call()
				var ie *InputError
				if fits && err != nil || !fits && !errors.As(err, &ie) {
					t.Errorf("%v batch %d (%d samples of %v, labels %v): %s: err = %v", dt, i, n, shape, b.Y, name, err)
				}
			}
		}
	}
	if fitting < 10 {
		t.Fatalf("only %d of 80 random batches fit the model: the draws test little besides errors", fitting)
	}
}
