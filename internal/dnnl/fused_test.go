//go:build dnnl

package dnnl

import (
	"math"
	"math/rand"
	"strings"
	"testing"
)

// relayout returns v, an (n, c, h, w) tensor in layout in, in layout out: through a fused identity depthwise 1×1
// convolution (exact: one product by 1 per value).
func relayout(t *testing.T, v []float32, n, c, h, w int, in, out Layout) []float32 {
	t.Helper()
	if in == out {
		return v
	}
	id := FusedConv{Shape: ConvShape{N: n, C: c, H: h, W: w, O: c, K: 1, Stride: 1, Groups: c}, In: in, Out: out}
	ones := make([]float32, c)
	for i := range ones {
		ones[i] = 1
	}
	r := make([]float32, len(v))
	if err := id.Forward(v, ones, nil, nil, nil, nil, r); err != nil {
		t.Fatal(err)
	}
	return r
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
		{"tanh affine", ConvShape{N: 2, C: b, H: 6, W: 6, O: 2 * b, K: 3, Stride: 1, Pad: 1}, false,
			[]Post{tanh, {Kind: PostAffine}}},
		{"tanh affine, padded channels", ConvShape{N: 2, C: 3, H: 6, W: 6, O: b + 4, K: 3, Stride: 1, Pad: 1}, false,
			[]Post{tanh, {Kind: PostAffine}}},
		{"depthwise relu affine", ConvShape{N: 2, C: 2 * b, H: 7, W: 7, O: 2 * b, K: 3, Stride: 2, Pad: 1, Groups: 2 * b}, false,
			[]Post{relu, {Kind: PostAffine}}},
		{"own tanh affine", ConvShape{N: 2, C: b, H: 6, W: 6, O: 2 * b, K: 3, Stride: 1, Pad: 1}, false,
			[]Post{{Kind: PostTanh, Alpha: 1, OutScale: 1}, {Kind: PostAffine}}},
		{"own LeCun tanh, padded channels", ConvShape{N: 2, C: 3, H: 5, W: 5, O: b + 3, K: 3, Stride: 1, Pad: 1}, true,
			[]Post{{Kind: PostTanh, Alpha: 2.0 / 3, OutScale: 1.7159}}},
		{"bias sum own shifted tanh", ConvShape{N: 2, C: b, H: 6, W: 6, O: b, K: 1, Stride: 1}, true,
			[]Post{{Kind: PostSum}, {Kind: PostTanh, Alpha: 1, Beta: 0.5, OutScale: 1}}},
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
			x, w, res := random(rng, lx), random(rng, lw), random(rng, ly)
			bias, scale, shift := random(rng, c.s.O), random(rng, c.s.O), random(rng, c.s.O)
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
					case p.Kind == PostTanh:
						v = float64(p.OutScale) * math.Tanh(float64(p.Alpha)*v-float64(p.Beta))
					case p.Kind == PostAffine:
						v = v*float64(scale[k]) + float64(shift[k])
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
			relayout := func(v []float32, ch, h, w int, in, out Layout) []float32 {
				return relayout(t, v, c.s.N, ch, h, w, in, out)
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
			if f.has(PostScale) || f.has(PostAffine) {
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

// TestMaxPoolMatchesItsDefinition checks the evaluation max-pool against a naive one, for every pair of layouts
// (blocked tensors made and read back with fused identity convolutions) and a geometry that drops a trailing row
// and column.
func TestMaxPoolMatchesItsDefinition(t *testing.T) {
	b := BlockChannels()
	rng := rand.New(rand.NewSource(2))
	n, c, h, w, k, s := 2, 2*b, 7, 7, 2, 2
	ho, wo := (h-k)/s+1, (w-k)/s+1
	x := random(rng, n*c*h*w)
	want := make([]float32, n*c*ho*wo)
	for p := 0; p < n*c; p++ {
		for oy := 0; oy < ho; oy++ {
			for ox := 0; ox < wo; ox++ {
				m := float32(math.Inf(-1))
				for ky := 0; ky < k; ky++ {
					for kx := 0; kx < k; kx++ {
						m = max(m, x[(p*h+oy*s+ky)*w+ox*s+kx])
					}
				}
				want[(p*ho+oy)*wo+ox] = m
			}
		}
	}
	for _, l := range [][2]Layout{{Plain, Plain}, {Blocked, Blocked}, {Blocked, Plain}, {Plain, Blocked}} {
		p := MaxPool{N: n, C: c, H: h, W: w, K: k, Stride: s, In: l[0], Out: l[1]}
		y := make([]float32, len(want))
		if err := p.Forward(relayout(t, x, n, c, h, w, Plain, l[0]), y); err != nil {
			t.Fatalf("%v: %v", l, err)
		}
		got := relayout(t, y, n, c, ho, wo, l[1], Plain)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%v: y[%d] = %g, want %g", l, i, got[i], want[i])
			}
		}
	}
	if err := (MaxPool{N: 1, C: 3, H: 4, W: 4, K: 2, Stride: 2, In: Blocked}).Forward(make([]float32, 48), make([]float32, 12)); err == nil {
		t.Error("blocked max-pool of 3 channels: no error")
	}
}

// TestFusedTanhAccuracy checks bnzoo's own float32 tanh post-op (PostTanh) against math.Tanh over [−12, 12] (past
// both ends of its clamp), near 0 (where it returns x) and on ±Inf and NaN: within 4·2⁻²³ absolute (4 ulps of
// 1; past the clamp it returns ±1 where tanh is 1 − 2.7e-7) and 4·2⁻²³ relative.
func TestFusedTanhAccuracy(t *testing.T) {
	var x []float32
	for v := -12.0; v <= 12; v += 1.0 / 1024 {
		x = append(x, float32(v))
	}
	for _, v := range []float64{1e-30, 1e-7, 3.9e-4, 4.1e-4, 1e-3, 0.1, 7.9, 7.91, 1e30} {
		x = append(x, float32(v), float32(-v))
	}
	x = append(x, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN()), 0)
	c := len(x)
	f := FusedConv{Shape: ConvShape{N: 1, C: c, H: 1, W: 1, O: c, K: 1, Stride: 1, Groups: c}, NPosts: 1,
		Posts: [MaxPosts]Post{{Kind: PostTanh, Alpha: 1, OutScale: 1}}}
	ones := make([]float32, c)
	for i := range ones {
		ones[i] = 1
	}
	y := make([]float32, c)
	if err := f.Forward(x, ones, nil, nil, nil, nil, y); err != nil {
		t.Fatal(err)
	}
	for i, v := range x {
		want := math.Tanh(float64(v))
		got := float64(y[i])
		if math.IsNaN(want) {
			if !math.IsNaN(got) {
				t.Errorf("tanh(%g) = %g, want NaN", v, got)
			}
			continue
		}
		if d := math.Abs(got - want); d > 4*0x1p-23 || d > 4*0x1p-23*math.Abs(want) && want != 0 {
			t.Errorf("tanh(%g) = %.9g, want %.9g (error %.3g)", v, got, want, d)
		}
	}
}
