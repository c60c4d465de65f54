package layers

import (
	"math"
	"math/rand"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestTapsReadTrueValues builds two units back to back (the pattern where a plain node.Value() returns clobbered
// data) and checks each tap against the unit's definition.
func TestTapsReadTrueValues(t *testing.T) {
	for _, pl := range []Placement{Conventional, Swapped, NoBN} {
		t.Run(pl.String(), func(t *testing.T) {
			store := newTestStore(t)
			b := NewBuilder(store, true)
			b.Taps = NewTaps()
			x := b.Input("x", 4, 2, 4, 4)
			act := MustActivation("tanh")
			h, err := b.ConvUnit(x, ConvUnit{Name: "features.0", Out: 3, Kernel: 3, Stride: 1, Pad: 1, Activation: act, Placement: pl})
			if err != nil {
				t.Fatal(err)
			}
			h, err = b.ConvUnit(h, ConvUnit{Name: "features.1", Out: 2, Kernel: 3, Stride: 1, Pad: 1, Activation: act, Placement: pl})
			if err != nil {
				t.Fatal(err)
			}
			out, err := G.Add(h, G.NewConstant(100.0))
			if err != nil {
				t.Fatal(err)
			}
			var outVal G.Value
			G.Read(out, &outVal)
			rng := rand.New(rand.NewSource(5))
			data := make([]float64, 4*2*4*4)
			for i := range data {
				data[i] = rng.NormFloat64()
			}
			if err := G.Let(x, tensor.New(tensor.WithShape(4, 2, 4, 4), tensor.WithBacking(data))); err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(b.Graph)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			units := b.Taps.Units()
			if len(units) != 2 || units[0].Name != "features.0" || units[1].Channels != 2 {
				t.Fatalf("units = %+v", units)
			}
			for _, u := range units {
				pre, err := b.Taps.Value(u.Name, PreActivation)
				if err != nil {
					t.Fatal(err)
				}
				a, err := b.Taps.Value(u.Name, ActivationOutput)
				if err != nil {
					t.Fatal(err)
				}
				for i, p := range pre.Float64s() {
					if math.Abs(math.Tanh(p)-a.Float64s()[i]) > 1e-12 {
						t.Fatalf("%s: act[%d] = %v, tanh(pre) = %v", u.Name, i, a.Float64s()[i], math.Tanh(p))
					}
				}
				next, err := b.Taps.Next(u.Name)
				if err != nil {
					t.Fatal(err)
				}
				_, bnErr := b.Taps.Value(u.Name, BNOutput)
				if pl == Swapped {
					if bnErr != nil {
						t.Fatal(bnErr)
					}
					// The BN output of a training pass has per-channel mean 0 and variance ≈ 1.
					n, c, hw, _ := channelGeometry(next.Shape())
					mean := make([]float64, c)
					v := channelMoments(next.Float64s(), n, c, hw, mean)
					for k := range mean {
						if math.Abs(mean[k]) > 1e-9 || math.Abs(v[k]-1) > 1e-3 {
							t.Fatalf("%s: BN output channel %d mean %v var %v", u.Name, k, mean[k], v[k])
						}
					}
				} else {
					if bnErr == nil {
						t.Fatalf("%s: %v unit should have no BN output tap", u.Name, pl)
					}
					if &next.Float64s()[0] != &a.Float64s()[0] {
						t.Fatalf("%s: Next should be the activation output", u.Name)
					}
				}
			}
			// The final unit's next value plus 100 is the graph output: the tap was not clobbered by the Add.
			last, _ := b.Taps.Next("features.1")
			for i, v := range outVal.(*tensor.Dense).Float64s() {
				if math.Abs(v-100-last.Float64s()[i]) > 1e-9 {
					t.Fatalf("out[%d]-100 = %v, tap %v", i, v-100, last.Float64s()[i])
				}
			}
		})
	}
}
