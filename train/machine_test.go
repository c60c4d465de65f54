package train

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestMachineMatchesTapeMachine runs the same training steps, evaluation batch and tapped forward pass on bnzoo's
// machine (pooled buffers, values freed after their last use) and on Gorgonia's tape machine, from the same
// weights, and requires bit-identical losses, logits, gradients, updated weights, BN running statistics and tap
// values: reusing a buffer while anything can still read it would show up here.
func TestMachineMatchesTapeMachine(t *testing.T) {
	defer func(v bool) { useTapeMachine = v }(useTapeMachine)
	const n = 4
	type config struct {
		arch, act string
		pl        layers.Placement
		dt        tensor.Dtype
	}
	configs := []config{
		{"vgg_mini", "tanh", layers.Swapped, tensor.Float64},
		{"vgg_mini", "relu", layers.Conventional, tensor.Float32},
		{"resnet20", "tanh", layers.Conventional, tensor.Float32},
		{"mobilenet_v2", "relu", layers.Conventional, tensor.Float32},
	}
	if !testing.Short() {
		configs = append(configs,
			config{"resnet20", "lecun_tanh", layers.Swapped, tensor.Float32},
			config{"resnet18", "tanh", layers.Swapped, tensor.Float32},
			config{"mobilenet_v1", "softsign", layers.Swapped, tensor.Float32},
			config{"mobilenet_v2", "tanh", layers.Swapped, tensor.Float32},
			config{"vgg11", "relu", layers.Conventional, tensor.Float32},
			config{"vgg16", "shifted_tanh:0.5", layers.Swapped, tensor.Float32},
		)
	}
	rng := rand.New(rand.NewSource(5))
	batches := make([]datasets.Batch, 3)
	for k := range batches {
		batches[k] = randomBatch(rng, n, [3]int{3, 32, 32})
	}
	for _, c := range configs {
		t.Run(fmt.Sprintf("%s/%s/%s/%v", c.arch, c.act, c.pl, c.dt), func(t *testing.T) {
			run := func(tape bool) (out []named) {
				useTapeMachine = tape
				m, err := zoo.New(zoo.Config{Arch: c.arch, Classes: 10, InputShape: [3]int{3, 32, 32},
					Activation: layers.MustActivation(c.act), Placement: c.pl, Seed: 1}, c.dt)
				if err != nil {
					t.Fatal(err)
				}
				trn, err := NewTrainer(m, DefaultConfig())
				if err != nil {
					t.Fatal(err)
				}
				defer trn.Close()
				for step, b := range batches[:2] {
					loss, correct, err := trn.Step(&b)
					if err != nil {
						t.Fatal(err)
					}
					out = append(out, named{fmt.Sprintf("step %d loss", step), []float64{loss, float64(correct)}})
					p, _ := trn.pass(n, true)
					out = append(out, named{fmt.Sprintf("step %d logits", step), valueFloats(*p.logits)})
					for i, g := range p.grads {
						out = append(out, named{fmt.Sprintf("step %d gradient of %s", step, p.params[i].Name), valueFloats(g)})
					}
				}
				loss, correct, err := trn.Predict(&batches[2])
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, named{"evaluation loss", []float64{loss, float64(correct)}})
				tp, err := trn.evalPass(n, true)
				if err != nil {
					t.Fatal(err)
				}
				if _, _, err := tp.run(&batches[2]); err != nil {
					t.Fatal(err)
				}
				for _, u := range tp.graph.Taps.Units() {
					for _, k := range []layers.TapKind{layers.PreActivation, layers.ActivationOutput, layers.BNOutput} {
						if v, err := tp.graph.Taps.Value(u.Name, k); err == nil {
							out = append(out, named{fmt.Sprintf("tap %s %s", u.Name, k), valueFloats(v)})
						}
					}
				}
				for _, p := range m.Store.Params() {
					out = append(out, named{"weight " + p.Name, valueFloats(p.Value)})
				}
				for _, name := range m.Store.BNNames() {
					st, _ := m.Store.LookupBN(name)
					out = append(out, named{"running stats " + name, append(append([]float64(nil), st.Mean...), st.Var...)})
				}
				return out
			}
			want, got := run(true), run(false)
			if len(got) != len(want) {
				t.Fatalf("%d values on bnzoo's machine, %d on the tape machine", len(got), len(want))
			}
			for i := range want {
				if got[i].name != want[i].name || len(got[i].v) != len(want[i].v) {
					t.Fatalf("value %d: %s (%d) on bnzoo's machine, %s (%d) on the tape machine",
						i, got[i].name, len(got[i].v), want[i].name, len(want[i].v))
				}
				for j := range want[i].v {
					if math.Float64bits(got[i].v[j]) != math.Float64bits(want[i].v[j]) {
						t.Fatalf("%s[%d]: %v on bnzoo's machine, %v on the tape machine", want[i].name, j, got[i].v[j], want[i].v[j])
					}
				}
			}
			t.Logf("%d values bit-identical", len(want))
		})
	}
}

type named struct {
	name string
	v    []float64
}

// valueFloats copies a dense float tensor's values.
func valueFloats(v G.Value) []float64 {
	d, ok := v.(*tensor.Dense)
	if !ok {
		panic(fmt.Sprintf("value %T is not dense", v))
	}
	switch d.Dtype() {
	case tensor.Float64:
		return append([]float64(nil), d.Float64s()...)
	default:
		out := make([]float64, d.Size())
		for i, x := range d.Float32s() {
			out[i] = float64(x)
		}
		return out
	}
}
