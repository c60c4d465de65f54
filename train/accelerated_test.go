package train

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

// TestAcceleratedMatchesReference checks, in a build with accelerators (-tags dnnl), that a whole training pass of
// each benchmarked model gives the same logits and parameter gradients as the pure-Go reference kernels: within
// 1e-4 relative (max-norm of the difference over max-norm of the reference) in float32, except the gradients of
// ReLU models and of models with max-pooling (see below).
func TestAcceleratedMatchesReference(t *testing.T) {
	if !layers.Accelerated() {
		t.Skip("no accelerators in this build (they come with -tags dnnl)")
	}
	const n = 8
	b := randomBatch(rand.New(rand.NewSource(3)), n, [3]int{3, 32, 32})
	for _, arch := range []string{"vgg11", "vgg16", "resnet20", "resnet18", "mobilenet_v1", "mobilenet_v2"} {
		for _, c := range []struct {
			act string
			pl  layers.Placement
		}{{"tanh", layers.Swapped}, {"tanh", layers.Conventional}, {"relu", layers.Conventional}} {
			if testing.Short() && (c.act != "tanh" || c.pl != layers.Swapped) {
				continue // -short (CI's oneDNN run): one configuration per model
			}
			t.Run(fmt.Sprintf("%s/%s/%s", arch, c.act, c.pl), func(t *testing.T) {
				m, err := zoo.New(zoo.Config{Arch: arch, Classes: 10, InputShape: [3]int{3, 32, 32},
					Activation: layers.MustActivation(c.act), Placement: c.pl, Seed: 1}, tensor.Float32)
				if err != nil {
					t.Fatal(err)
				}
				trn, err := NewTrainer(m, DefaultConfig())
				if err != nil {
					t.Fatal(err)
				}
				defer trn.Close()
				p, err := trn.pass(n, true)
				if err != nil {
					t.Fatal(err)
				}
				values := func() [][]float32 {
					if _, _, err := p.run(&b); err != nil {
						t.Fatal(err)
					}
					out := [][]float32{append([]float32(nil), (*p.logits).(*tensor.Dense).Float32s()...)}
					for _, g := range p.grads {
						out = append(out, append([]float32(nil), g.(*tensor.Dense).Float32s()...))
					}
					return out
				}
				fast := values()
				restore := layers.WithoutAccelerators()
				ref := values()
				restore()
				norms := make([]float64, len(ref))
				var largest float64
				for i := range ref {
					for _, r := range ref[i] {
						norms[i] = max(norms[i], math.Abs(float64(r)))
					}
					if i > 0 {
						largest = max(largest, norms[i])
					}
				}
				// Gradients that are zero but for rounding (a BN bias whose output feeds only BN-normalised layers:
				// shifting it changes nothing) are compared with 1% of the model's largest gradient instead of their own scale.
				floor := 1e-2 * largest
				// Gradients are discontinuous wherever the forward pass makes a discrete choice between values within
				// rounding of each other, and the two paths round differently: a ReLU input within rounding of 0 can
				// switch sides, and so can the argmax of a max-pool window holding two near-equal values. Each switch
				// moves a gradient sum by one of its O(√N)-cancelling terms (up to ~10% of a tensor here). That is the
				// model, not a kernel: on vgg11 tanh swapped, multiplying this batch by 1 + 1e-6·N(0, 1) moved the
				// pure-Go reference's own gradients by 8% in one of six draws. So the gradients of ReLU models and of
				// models with max-pooling (the VGGs) are compared as one vector, by cosine similarity; forward values
				// are continuous at those points and keep the tight bound below, as do the other models' gradients.
				if c.act == "relu" || strings.HasPrefix(arch, "vgg") {
					var dot, nf, nr float64
					for i := 1; i < len(ref); i++ {
						for j, r := range ref[i] {
							f := float64(fast[i][j])
							dot, nf, nr = dot+f*float64(r), nf+f*f, nr+float64(r)*float64(r)
						}
					}
					if cos := dot / math.Sqrt(nf*nr); !(cos > 0.999) {
						t.Errorf("gradients: cosine similarity %.6f < 0.999", cos)
					}
					ref, fast = ref[:1], fast[:1]
				}
				for i := range ref {
					name := "logits"
					tol := 1e-4
					if i > 0 {
						name = "gradient of " + p.params[i-1].Name
					}
					var diff float64
					for j, r := range ref[i] {
						diff = max(diff, math.Abs(float64(fast[i][j])-float64(r)))
					}
					if rel := diff / max(norms[i], floor); rel > tol {
						t.Errorf("%s: relative difference %.3g > %g (reference max-norm %.3g)", name, rel, tol, norms[i])
					}
				}
			})
		}
	}
}
