package train

import (
	"fmt"
	"math/rand"
	"testing"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

// BenchmarkTrainStep measures one SGD step (forward, backward, update) at batch 128 and reports img/s:
//
//	go test ./train -run '^$' -bench TrainStep -benchtime 20x
func BenchmarkTrainStep(b *testing.B) {
	for _, c := range []struct {
		arch  string
		shape [3]int
		pl    layers.Placement
	}{
		{"vgg_mini", [3]int{1, 28, 28}, layers.Conventional},
		{"vgg_mini", [3]int{1, 28, 28}, layers.Swapped},
		{"vgg_mini", [3]int{3, 32, 32}, layers.Swapped},
		{"resnet20", [3]int{3, 32, 32}, layers.Conventional},
		{"mobilenet_v1", [3]int{3, 32, 32}, layers.Conventional},
	} {
		b.Run(fmt.Sprintf("%s/%dx%dx%d/tanh/%s", c.arch, c.shape[0], c.shape[1], c.shape[2], c.pl), func(b *testing.B) {
			benchStep(b, c.arch, c.shape, c.pl, true)
		})
	}
}

// BenchmarkEvalStep measures one evaluation batch of 128 (forward only, running statistics).
func BenchmarkEvalStep(b *testing.B) {
	benchStep(b, "vgg_mini", [3]int{1, 28, 28}, layers.Swapped, false)
}

// randomBatch draws n images of the given shape with standard normal pixels, then n labels uniform over 10
// classes, from rng.
func randomBatch(rng *rand.Rand, n int, shape [3]int) datasets.Batch {
	b := datasets.Batch{N: n, X: make([]float32, n*shape[0]*shape[1]*shape[2]), Y: make([]int, n)}
	for i := range b.X {
		b.X[i] = float32(rng.NormFloat64())
	}
	for i := range b.Y {
		b.Y[i] = rng.Intn(10)
	}
	return b
}

func benchStep(b *testing.B, arch string, shape [3]int, pl layers.Placement, training bool) {
	const batch = 128
	m, err := zoo.New(zoo.Config{Arch: arch, Classes: 10, InputShape: shape, Activation: layers.MustActivation("tanh"),
		Placement: pl, Seed: 1}, tensor.Float32)
	if err != nil {
		b.Fatal(err)
	}
	trn, err := NewTrainer(m, DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer trn.Close()
	bt := randomBatch(rand.New(rand.NewSource(1)), batch, shape)
	step := trn.Predict
	if training {
		step = trn.Step
	}
	if _, _, err := step(&bt); err != nil { // builds and compiles the graph outside the timing
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := step(&bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(batch*b.N)/b.Elapsed().Seconds(), "img/s")
}
