//go:build dnnl

package dnnl

import (
	"math"
	"math/rand"
	"strings"
	"testing"
)

func randSlice(rng *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

// TestFusedConvMatchesItsDefinition checks a fused convolution's output against conv (naive, float64) followed by
// its bias and post-ops one at a time, for the chains bnzoo builds: folded BatchNorm + ReLU, tanh + per-channel
// scale and shift, LeCun tanh, a residual sum before ReLU and tanh (oneDNN 2.6 runs a sum after a binary post-op
// on its slow reference kernel, so bnzoo never builds one), grouped (depthwise) and strided
// geometries, and the blocked layout on the way in, out and for the residual (a blocked output is read back
// through a second fused convolution that takes it blocked).
func TestFusedConvMatchesItsDefinition(t *testing.T) {
	b := BlockChannels()
	relu := Post{Kind: PostEltwise, Alg: EltRelu}
	tanh := Post{Kind: PostEltwise, Alg: EltTanh}
	lin := func(a, c float32) Post { return Post{Kind: PostEltwise, Alg: EltLinear, Alpha: a, Beta: c} }
	_ = lin
	cases := []struct {
		name  string
		s     ConvShape
		bias  bool
		posts []Post
	}{
		{"bias relu", ConvShape{N: 2, C: 3, H: 9, W: 9, O: 2 * b, K: 3, Stride: 1, Pad: 1}, true, []Post{relu}},
		{"tanh scale shift", ConvShape{N: 2, C: b, H: 8, W: 8, O: b, K: 3, Stride: 2, Pad: 1}, false,
			[]Post{tanh, {Kind: PostScale}, {Kind: PostShift}}},
		{"lecun", ConvShape{N: 1, C: b, H: 5, W: 5, O: b, K: 1, Stride: 1}, true, []Post{lin(2.0/3, 0), {Kind: PostEltwise, Alg: EltTanh, OutScale: 1.7159}}},
		{"bias sum relu", ConvShape{N: 2, C: b, H: 6, W: 6, O: b, K: 3, Stride: 1, Pad: 1}, true, []Post{{Kind: PostSum}, relu}},
		{"depthwise tanh scale shift", ConvShape{N: 2, C: 2 * b, H: 7, W: 7, O: 2 * b, K: 3, Stride: 2, Pad: 1, Groups: 2 * b}, false,
			[]Post{tanh, {Kind: PostScale}, {Kind: PostShift}}},
		{"depthwise bias relu", ConvShape{N: 2, C: 2 * b, H: 7, W: 7, O: 2 * b, K: 3, Stride: 1, Pad: 1, Groups: 2 * b}, true,
			[]Post{relu}},
		{"bias sum tanh, strided", ConvShape{N: 2, C: b, H: 6, W: 6, O: 2 * b, K: 3, Stride: 2, Pad: 1}, true,
			[]Post{{Kind: PostSum}, tanh}},
		{"bias only", ConvShape{N: 2, C: b, H: 4, W: 4, O: 3, K: 1, Stride: 1}, true, nil},
	}
	rng := rand.New(rand.NewSource(1))
	for _, c := range cases {
		for _, layouts := range [][3]Layout{{Plain, Plain, Plain}, {Blocked, Blocked, Blocked}, {Plain, Blocked, Plain}} {
			if c.s.O%b != 0 && layouts[1] == Blocked {
				continue
			}
			if c.s.C%b != 0 && layouts[0] == Blocked {
				continue
			}
			f := FusedConv{Shape: c.s, In: layouts[0], Out: layouts[1], Residual: layouts[2], Bias: c.bias, NPosts: len(c.posts)}
			copy(f.Posts[:], c.posts)
			if !f.has(PostSum) {
				f.Residual = Plain
			}
			lx, lw, ly := c.s.sizes()
			x, w, res := randSlice(rng, lx), randSlice(rng, lw), randSlice(rng, ly)
			bias, scale, shift := randSlice(rng, c.s.O), randSlice(rng, c.s.O), randSlice(rng, c.s.O)
			ref, _, _ := naive(c.s, x, w, make([]float32, ly))
			ho, wo := c.s.Out()
			hw := ho * wo
			for i := range ref {
				k := i / hw % c.s.O
				v := ref[i]
				if c.bias {
					v += float64(bias[k])
				}
				for _, p := range c.posts {
					switch {
					case p.Kind == PostScale:
						v *= float64(scale[k])
					case p.Kind == PostShift:
						v += float64(shift[k])
					case p.Kind == PostSum:
						v += float64(res[i])
					case p.Alg == EltRelu:
						v = math.Max(v, 0)
					case p.Alg == EltTanh:
						v = math.Tanh(v)
						if p.OutScale != 0 {
							v *= float64(p.OutScale)
						}
					case p.Alg == EltLinear:
						v = float64(p.Alpha)*v + float64(p.Beta)
					}
				}
				ref[i] = v
			}
			// Tensors change layout through a fused identity depthwise 1×1 convolution (exact: one product by 1
			// per output).
			relayout := func(v []float32, ch, h, w int, in, out Layout) []float32 {
				if in == out {
					return v
				}
				id := FusedConv{Shape: ConvShape{N: c.s.N, C: ch, H: h, W: w, O: ch, K: 1, Stride: 1, Groups: ch}, In: in, Out: out}
				ones := make([]float32, ch)
				for i := range ones {
					ones[i] = 1
				}
				r := make([]float32, len(v))
				if err := id.Forward(v, ones, nil, nil, nil, nil, r); err != nil {
					t.Fatal(err)
				}
				return r
			}
			y := make([]float32, ly)
			var r []float32
			if f.has(PostSum) {
				r = relayout(res, c.s.O, ho, wo, Plain, f.Residual)
			}
			var bi, sc, sh []float32
			if c.bias {
				bi = bias
			}
			if f.has(PostScale) {
				sc, sh = scale, shift
			}
			if err := f.Forward(relayout(x, c.s.C, c.s.H, c.s.W, Plain, f.In), w, bi, sc, sh, r, y); err != nil {
				t.Fatalf("%s %v: %v", c.name, layouts, err)
			}
			got := relayout(y, c.s.O, ho, wo, f.Out, Plain)
			desc, err := f.Describe()
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(desc, "ref") {
				t.Errorf("%s %v: runs oneDNN's reference kernel: %s", c.name, layouts, desc)
			}
			for i := range ref {
				if d := math.Abs(float64(got[i]) - ref[i]); d > 1e-4*(1+math.Abs(ref[i])) || math.IsNaN(float64(got[i])) {
					t.Fatalf("%s %v (%s): y[%d] = %g, want %g", c.name, layouts, desc, i, got[i], ref[i])
				}
			}
		}
	}
}

func TestFusedConvRejectsBadBuffers(t *testing.T) {
	f := FusedConv{Shape: ConvShape{N: 1, C: 3, H: 4, W: 4, O: 5, K: 3, Stride: 1, Pad: 1}, Bias: true}
	x, w, y := make([]float32, 48), make([]float32, 135), make([]float32, 80)
	if err := f.Forward(x, w, nil, nil, nil, nil, y); err == nil || !strings.Contains(err.Error(), "bias") {
		t.Errorf("missing bias: %v", err)
	}
	if err := f.Forward(x, w, make([]float32, 5), nil, nil, nil, y[:79]); err == nil || !strings.Contains(err.Error(), "y has") {
		t.Errorf("short y: %v", err)
	}
	twice := FusedConv{Shape: f.Shape, NPosts: 2, Posts: [MaxPosts]Post{{Kind: PostEltwise, Alg: EltLinear, Alpha: 2}, {Kind: PostEltwise, Alg: EltLinear, Alpha: 3}}}
	if err := twice.Forward(x, w, nil, nil, nil, nil, y); err == nil || !strings.Contains(err.Error(), "two") {
		t.Errorf("two linear post-ops: %v", err)
	}
	f.Out = Blocked // 5 channels are not a multiple of the block
	if err := f.Forward(x, w, make([]float32, 5), nil, nil, nil, y); err == nil || !strings.Contains(err.Error(), "multiples") {
		t.Errorf("blocked with 5 channels: %v", err)
	}
}
