package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// synthSpecs are the layers of the synthetic model used by the output and
// figure tests: three tanh units with a relu unit in between.
func synthSpecs(placement string) []LayerSpec {
	return []LayerSpec{
		{Name: "features.0", Activation: "tanh", Placement: placement, Channels: 8, Lower: -1, Upper: 1},
		{Name: "features.3", Activation: "tanh", Placement: placement, Channels: 16, Lower: -1, Upper: 1},
		{Name: "features.6", Activation: "relu", Placement: placement, Channels: 8, Lower: 0, Upper: math.Inf(1)},
		{Name: "classifier.0", Activation: "tanh", Placement: placement, Channels: 12, Lower: -1, Upper: 1},
	}
}

// synthReport streams a few batches of plausible activations through a
// collector: with the conventional placement the pre-activations are
// shifted per channel (so that some channels saturate on one side); with
// the swapped placement they are centred and next is standardised a.
func synthReport(t testing.TB, placement string, seed uint64) *Report {
	t.Helper()
	c, err := NewCollector(synthSpecs(placement), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	const n = 32
	for li, s := range c.Specs() {
		hw := 16
		if s.Name == "classifier.0" {
			hw = 1
		}
		for batch := 0; batch < 3; batch++ {
			act := make([]float32, n*s.Channels*hw)
			next := make([]float32, len(act))
			for i := 0; i < n; i++ {
				for ch := 0; ch < s.Channels; ch++ {
					shift, scale := 0.0, 1.0+float64(li)
					if placement == PlacementConventional {
						shift = 2.5 * math.Sin(float64(3*ch+li))
						scale = 1.5 + float64(ch%3)
					}
					for k := 0; k < hw; k++ {
						j := (i*s.Channels+ch)*hw + k
						x := shift + scale*rng.NormFloat64()
						var a float64
						if s.Activation == "relu" {
							a = math.Max(0, x)
						} else {
							a = math.Tanh(x)
						}
						act[j] = float32(a)
						next[j] = float32(a)
						if placement == PlacementSwapped {
							next[j] = float32((a - 0.1*math.Sin(float64(ch))) / 0.6)
						}
					}
				}
			}
			if err := c.Add(s.Name, act, next, n, hw); err != nil {
				t.Fatal(err)
			}
		}
	}
	acc := 0.87
	if placement == PlacementSwapped {
		acc = 0.89
	}
	return c.Report(ReportMeta{Model: "vgg_mini", Dataset: "cifar10", Activation: "tanh", Placement: placement,
		Seed: 1, TestAccuracy: acc, Samples: 96})
}
