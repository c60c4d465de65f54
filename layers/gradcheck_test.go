package layers

import (
	"fmt"
	"testing"

	"github.com/bnzoo/bnzoo/internal/gradcheck"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	s, err := NewStore(tensor.Float64, 7)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkFragment builds a fragment over a random input and gradient-checks the weighted sum of its output with
// respect to the input and every parameter the fragment created.
func checkFragment(t *testing.T, training bool, inShape []int, build func(b *Builder, x *G.Node) (*G.Node, error)) {
	t.Helper()
	b := NewBuilder(newTestStore(t), training)
	x := gradcheck.RandomInput(b.Graph, "x", 1, 3, inShape...)
	y, err := build(b, x)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := gradcheck.Weighted(y, 11)
	if err != nil {
		t.Fatal(err)
	}
	nodes, _ := b.Learnables()
	// Move parameters off their initial values so that γ = 1, β = 0 and zero biases do not hide errors.
	for i, n := range nodes {
		d := n.Value().(*tensor.Dense).Float64s()
		for j := range d {
			d[j] += 0.1 * float64((i+j)%7-3)
		}
	}
	if err := gradcheck.Check(b.Graph, cost, append([]*G.Node{x}, nodes...), gradcheck.Defaults()); err != nil {
		t.Fatal(err)
	}
}

func TestGradActivations(t *testing.T) {
	for _, name := range []string{"relu", "tanh", "lecun_tanh", "softsign", "sigmoid", "hardtanh", "identity", "shifted_tanh:0.5",
		"leaky_relu", "leaky_relu:0.2", "elu", "elu:0.5", "silu", "gelu"} {
		t.Run(name, func(t *testing.T) {
			act := MustActivation(name)
			checkFragment(t, true, []int{3, 4, 5}, func(b *Builder, x *G.Node) (*G.Node, error) { return act.Apply(x) })
		})
	}
}

func TestGradBatchNorm(t *testing.T) {
	for _, training := range []bool{true, false} {
		for _, shape := range [][]int{{4, 3, 2, 3}, {5, 4}} {
			t.Run(fmt.Sprintf("training=%v/%v", training, shape), func(t *testing.T) {
				checkFragment(t, training, shape, func(b *Builder, x *G.Node) (*G.Node, error) {
					if !training { // make the running statistics non-trivial
						st, _ := b.Store.BNStats("bn", shape[1])
						for k := range st.Mean {
							st.Mean[k], st.Var[k] = 0.3*float64(k)-0.2, 0.5+0.4*float64(k)
						}
					}
					return b.BatchNorm(x, "bn")
				})
			})
		}
	}
}

func TestGradConvDensePool(t *testing.T) {
	t.Run("conv3x3_pad1_bias", func(t *testing.T) {
		checkFragment(t, true, []int{2, 3, 5, 5}, func(b *Builder, x *G.Node) (*G.Node, error) {
			return b.Conv2d(x, "c", 4, 3, 1, 1, true)
		})
	})
	t.Run("conv3x3_stride2", func(t *testing.T) {
		checkFragment(t, true, []int{2, 2, 6, 6}, func(b *Builder, x *G.Node) (*G.Node, error) {
			return b.Conv2d(x, "c", 3, 3, 2, 1, false)
		})
	})
	t.Run("dense", func(t *testing.T) {
		checkFragment(t, true, []int{3, 5}, func(b *Builder, x *G.Node) (*G.Node, error) { return b.Dense(x, "fc", 4) })
	})
	t.Run("maxpool", func(t *testing.T) {
		checkFragment(t, true, []int{2, 3, 4, 4}, func(b *Builder, x *G.Node) (*G.Node, error) { return b.MaxPool2d(x, 2, 2) })
	})
	t.Run("global_avg_pool", func(t *testing.T) {
		checkFragment(t, true, []int{2, 3, 4, 4}, func(b *Builder, x *G.Node) (*G.Node, error) { return b.GlobalAvgPool(x) })
	})
	t.Run("flatten_dense", func(t *testing.T) {
		checkFragment(t, true, []int{2, 3, 2, 2}, func(b *Builder, x *G.Node) (*G.Node, error) {
			f, err := b.Flatten(x)
			if err != nil {
				return nil, err
			}
			return b.Dense(f, "fc", 3)
		})
	})
	t.Run("channel_bias", func(t *testing.T) {
		checkFragment(t, true, []int{2, 3, 2, 2}, func(b *Builder, x *G.Node) (*G.Node, error) {
			bias, err := b.ParamNode("b", BiasParam, []int{3}, Constant(0.5))
			if err != nil {
				return nil, err
			}
			return AddChannelBias(x, bias)
		})
	})
}

func TestGradCrossEntropy(t *testing.T) {
	b := NewBuilder(newTestStore(t), true)
	z := gradcheck.RandomInput(b.Graph, "z", 2, 5, 4, 3)
	tt := tensor.New(tensor.WithShape(4, 3), tensor.WithBacking([]float64{1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0}))
	y := G.NewTensor(b.Graph, tensor.Float64, 2, G.WithShape(4, 3), G.WithName("y"), G.WithValue(tt))
	cost, err := CrossEntropy(z, y)
	if err != nil {
		t.Fatal(err)
	}
	if err := gradcheck.Check(b.Graph, cost, []*G.Node{z}, gradcheck.Defaults()); err != nil {
		t.Fatal(err)
	}
}

// TestGradUnits checks a conv unit in every placement with every study activation, followed by more layers, so the
// gradient flows through BN and the activation in both orders.
func TestGradUnits(t *testing.T) {
	for _, pl := range []Placement{Conventional, Swapped, NoBN} {
		for _, name := range []string{"relu", "tanh", "lecun_tanh", "softsign", "sigmoid", "shifted_tanh:1",
			"leaky_relu:0.2", "elu", "silu", "gelu"} {
			t.Run(pl.String()+"/"+name, func(t *testing.T) {
				checkFragment(t, true, []int{3, 2, 4, 4}, func(b *Builder, x *G.Node) (*G.Node, error) {
					h, err := b.ConvUnit(x, ConvUnit{Name: "u0", Out: 3, Kernel: 3, Stride: 1, Pad: 1, Activation: MustActivation(name), Placement: pl})
					if err != nil {
						return nil, err
					}
					h, err = b.MaxPool2d(h, 2, 2)
					if err != nil {
						return nil, err
					}
					return b.ConvUnit(h, ConvUnit{Name: "u1", Out: 2, Kernel: 3, Stride: 1, Pad: 1, Activation: MustActivation(name), Placement: pl})
				})
			})
		}
	}
}

func TestGradSubsamplePad(t *testing.T) {
	for _, c := range []struct{ h, stride, pad int }{{4, 2, 1}, {5, 2, 2}, {3, 1, 0}} {
		checkFragment(t, true, []int{2, 2, c.h, c.h}, func(b *Builder, x *G.Node) (*G.Node, error) {
			return SubsamplePad(x, c.stride, c.pad)
		})
	}
}

// TestGradResidualUnits checks a residual unit (the second conv of a basic block) in every placement, with an
// identity shortcut and with the option-A shortcut, and a conv → BN projection.
func TestGradResidualUnits(t *testing.T) {
	for _, pl := range []Placement{Conventional, Swapped, NoBN} {
		for _, kind := range []string{"identity", "option_a", "projection"} {
			t.Run(pl.String()+"/"+kind, func(t *testing.T) {
				checkFragment(t, true, []int{3, 2, 4, 4}, func(b *Builder, x *G.Node) (*G.Node, error) {
					act := MustActivation("softsign")
					stride, out := 1, 2
					if kind != "identity" {
						stride, out = 2, 4
					}
					h, err := b.ConvUnit(x, ConvUnit{Name: "c1", Out: out, Kernel: 3, Stride: stride, Pad: 1, Activation: act, Placement: pl})
					if err != nil {
						return nil, err
					}
					short := x
					switch kind {
					case "option_a":
						short, err = SubsamplePad(x, 2, 1)
					case "projection":
						short, err = b.ConvBN(x, "sc", out, 1, 2, 0)
					}
					if err != nil {
						return nil, err
					}
					return b.ResidualConvUnit(h, short, ConvUnit{Name: "c2", Out: out, Kernel: 3, Stride: 1, Pad: 1, Activation: act, Placement: pl})
				})
			})
		}
	}
}
