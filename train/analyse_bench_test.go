package train

import (
	"context"
	"testing"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

// BenchmarkEvaluateVsAnalyse measures the cost of the analysis (taps + streaming accumulators) over a plain
// evaluation pass: vgg_mini tanh swapped on 1,024 MNIST test images, batch 128; "tapped" splits the cost into the
// taps and the accumulators.
//
//	go test ./train -run '^$' -bench EvaluateVsAnalyse -benchtime 3x
func BenchmarkEvaluateVsAnalyse(b *testing.B) {
	_, te, err := datasets.Load("mnist", "")
	if err != nil {
		b.Skip(err)
	}
	te = datasets.Subset(te, 1024)
	m := newModelB(b)
	tr, err := NewTrainer(m, DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	b.Run("evaluate", func(b *testing.B) {
		if _, err := tr.Evaluate(context.Background(), te, nil); err != nil { // compile outside the timing
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := tr.Evaluate(context.Background(), te, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(te.N*b.N)/b.Elapsed().Seconds(), "img/s")
	})
	// tapped: the evaluation with every unit tapped and a visitor that does nothing — what the analysis costs
	// before its accumulators run (the taps keep intermediate values alive and need the unfused graph).
	noop := func(*layers.Taps, *datasets.Batch) error { return nil }
	b.Run("tapped", func(b *testing.B) {
		if _, err := tr.Evaluate(context.Background(), te, noop); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := tr.Evaluate(context.Background(), te, noop); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(te.N*b.N)/b.Elapsed().Seconds(), "img/s")
	})
	b.Run("analyse", func(b *testing.B) {
		if _, _, err := tr.Analyse(context.Background(), te, analysis.DefaultOptions(), "mnist"); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, _, err := tr.Analyse(context.Background(), te, analysis.DefaultOptions(), "mnist"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(te.N*b.N)/b.Elapsed().Seconds(), "img/s")
	})
}

func newModelB(b *testing.B) *zoo.Model {
	b.Helper()
	m, err := zoo.New(zoo.Config{Arch: "vgg_mini", Classes: 10, InputShape: [3]int{1, 28, 28},
		Activation: layers.MustActivation("tanh"), Placement: layers.Swapped, Seed: 1}, tensor.Float32)
	if err != nil {
		b.Fatal(err)
	}
	return m
}
