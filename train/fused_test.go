package train

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

// randomiseBN gives every BatchNorm of m random γ, β and running statistics, so that folding them into the
// convolutions is exercised (fresh ones are the identity).
func randomiseBN(m *zoo.Model, rng *rand.Rand) {
	for _, p := range m.Store.Params() {
		v := p.Value.Float32s()
		switch p.Kind {
		case layers.BNGammaParam:
			for i := range v {
				v[i] = float32(0.5 + rng.Float64())
			}
		case layers.BNBetaParam:
			for i := range v {
				v[i] = float32(0.3 * rng.NormFloat64())
			}
		}
	}
	for _, name := range m.Store.BNNames() {
		st, _ := m.Store.LookupBN(name)
		for k := range st.Mean {
			st.Mean[k] = float64(float32(0.3 * rng.NormFloat64()))
			st.Var[k] = float64(float32(0.5 + rng.Float64()))
		}
	}
}

// TestFusedEvaluationMatchesUnfused checks, in a build with fused kernels (-tags dnnl), that the fused evaluation
// graphs (Config.FuseEvaluation, Predictor.Fuse) give the unfused graphs' logits within 1e-4 relative (max-norm of
// the difference over the max-norm of the logits), for every architecture and the placements and activations that
// fuse differently: conventional (BN folded into the filter), swapped (per-channel scale and shift after the
// activation), LeCun tanh (a scaled post-op), and softsign (no post-op: the unit stays unfused beside fused
// projections). BatchNorm's parameters and statistics are random, so every fold does something.
func TestFusedEvaluationMatchesUnfused(t *testing.T) {
	if !layers.Accelerated() {
		t.Skip("no fused kernels in this build (they come with -tags dnnl)")
	}
	const n = 4
	b := randomBatch(rand.New(rand.NewSource(5)), n, [3]int{3, 32, 32})
	for _, arch := range []string{"vgg11", "vgg16", "resnet20", "resnet18", "mobilenet_v1", "mobilenet_v2"} {
		for _, c := range []struct {
			act string
			pl  layers.Placement
		}{{"tanh", layers.Swapped}, {"relu", layers.Conventional}, {"tanh", layers.Conventional},
			{"lecun_tanh", layers.Swapped}, {"softsign", layers.Conventional}} {
			if testing.Short() && c.act != "tanh" && c.act != "relu" {
				continue
			}
			t.Run(fmt.Sprintf("%s/%s/%s", arch, c.act, c.pl), func(t *testing.T) {
				m, err := zoo.New(zoo.Config{Arch: arch, Classes: 10, InputShape: [3]int{3, 32, 32},
					Activation: layers.MustActivation(c.act), Placement: c.pl, Seed: 1}, tensor.Float32)
				if err != nil {
					t.Fatal(err)
				}
				randomiseBN(m, rand.New(rand.NewSource(7)))
				logits := func(fuse bool) []float64 {
					p, err := NewPredictor(m, n)
					if err != nil {
						t.Fatal(err)
					}
					p.Fuse = fuse
					defer p.Close()
					out, err := p.Logits(&b)
					if err != nil {
						t.Fatal(err)
					}
					return out.Logits
				}
				ref, fused := logits(false), logits(true)
				var scale, diff float64
				for i := range ref {
					scale = max(scale, math.Abs(ref[i]))
					diff = max(diff, math.Abs(fused[i]-ref[i]))
				}
				if !(diff <= 1e-4*scale) {
					t.Errorf("fused logits differ by %.3g (max |logit| %.3g)", diff, scale)
				}
				t.Logf("max |fused − unfused| = %.3g of %.3g", diff, scale)
			})
		}
	}
}
