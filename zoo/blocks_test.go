package zoo

import (
	"fmt"
	"testing"

	"github.com/bnzoo/bnzoo/internal/gradcheck"
	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// checkBlock gradient-checks a block (float64) w.r.t. its input and every parameter it creates.
func checkBlock(t *testing.T, inShape []int, build func(b *layers.Builder, x *G.Node) (*G.Node, error)) {
	t.Helper()
	store, err := layers.NewStore(tensor.Float64, 5)
	if err != nil {
		t.Fatal(err)
	}
	b := layers.NewBuilder(store, true)
	x := gradcheck.RandomInput(b.Graph, "x", 1, 4, inShape...)
	y, err := build(b, x)
	if err != nil {
		t.Fatal(err)
	}
	cost, err := gradcheck.Weighted(y, 13)
	if err != nil {
		t.Fatal(err)
	}
	nodes, _ := b.Learnables()
	for i, n := range nodes { // move parameters off γ = 1, β = 0, zero biases
		d := n.Value().(*tensor.Dense).Float64s()
		for j := range d {
			d[j] += 0.1 * float64((i+j)%5-2)
		}
	}
	opt := gradcheck.Defaults()
	opt.MaxProbes = 24
	if err := gradcheck.Check(b.Graph, cost, append([]*G.Node{x}, nodes...), opt); err != nil {
		t.Fatal(err)
	}
}

func TestGradBasicBlock(t *testing.T) {
	for _, pl := range []layers.Placement{layers.Conventional, layers.Swapped, layers.NoBN} {
		for _, sc := range []struct {
			name       string
			out        int
			stride     int
			projection bool
		}{{"identity", 2, 1, false}, {"option_a", 4, 2, false}, {"projection", 4, 2, true}} {
			t.Run(fmt.Sprintf("%s/%s", pl, sc.name), func(t *testing.T) {
				c := Config{Activation: layers.MustActivation("tanh"), Placement: pl}
				checkBlock(t, []int{3, 2, 4, 4}, func(b *layers.Builder, x *G.Node) (*G.Node, error) {
					return basicBlock(b, x, "blocks.0", sc.out, sc.stride, sc.projection, c)
				})
			})
		}
	}
}

func TestGradInvertedResidual(t *testing.T) {
	for _, pl := range []layers.Placement{layers.Conventional, layers.Swapped} {
		for _, blk := range []struct{ t, out, stride int }{{6, 2, 1}, {1, 3, 2}, {2, 4, 1}} {
			t.Run(fmt.Sprintf("%s/t%d_out%d_s%d", pl, blk.t, blk.out, blk.stride), func(t *testing.T) {
				c := Config{Activation: layers.MustActivation("lecun_tanh"), Placement: pl}
				checkBlock(t, []int{3, 2, 4, 4}, func(b *layers.Builder, x *G.Node) (*G.Node, error) {
					return invertedResidual(b, x, "blocks.0", blk.t, blk.out, blk.stride, c)
				})
			})
		}
	}
}

func TestDescribeAndMatch(t *testing.T) {
	d, err := Describe(cfg("resnet20", "tanh", layers.Swapped, cifar))
	if err != nil {
		t.Fatal(err)
	}
	// stem + 9 blocks × 2 convs; the last unit is 64 × 8 × 8.
	if len(d.Units) != 19 || d.Params != 269_722 || d.Units[0].Name != "stem" || d.Units[18].Name != "blocks.8.conv2" {
		t.Fatalf("resnet20: %d units, %d params, first %q", len(d.Units), d.Params, d.Units[0].Name)
	}
	if s := d.Units[18].Shape; len(s) != 3 || s[0] != 64 || s[1] != 8 || s[2] != 8 {
		t.Fatalf("last unit shape %v", s)
	}
	names, err := Match("resnet*")
	if err != nil || len(names) != 7 {
		t.Fatalf("resnet* → %v, %v", names, err)
	}
	if _, err := Match("[bad"); err == nil {
		t.Fatal("a malformed pattern should fail")
	}
}

func TestWidthMultiplier(t *testing.T) {
	c := cfg("mobilenet_v2", "tanh", layers.Swapped, cifar)
	c.Width = 0.5
	d, err := Describe(c)
	if err != nil {
		t.Fatal(err)
	}
	// torchvision: stem _make_divisible(16, 8) = 16, head stays 1280 for width ≤ 1.
	if d.Units[0].Channels != 16 || d.Units[len(d.Units)-1].Channels != 1280 {
		t.Fatalf("stem %d, head %d channels", d.Units[0].Channels, d.Units[len(d.Units)-1].Channels)
	}
	if got := makeDivisible(0.75*24, 8); got != 24 { // 18 → 16 would be < 90% of 18, so 24
		t.Fatalf("makeDivisible(18, 8) = %d, want 24", got)
	}
	bad := cfg("resnet20", "tanh", layers.Swapped, cifar)
	bad.Width = 0.5
	if _, err := New(bad, tensor.Float32); err == nil {
		t.Fatal("resnet20 should reject a width multiplier")
	}
}
