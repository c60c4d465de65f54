//go:build dnnl

package dnnl

import (
	"errors"
	"math"
	"math/rand"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	v := Version()
	t.Log(v)
	if !strings.HasPrefix(v, "oneDNN ") {
		t.Fatalf("Version() = %q", v)
	}
	n, err := Threads()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("threads: %d", n)
	if n < 1 {
		t.Fatalf("Threads() = %d", n)
	}
}

// naive computes the convolution and its two gradients in float64.
func naive(s ConvShape, x, w, dy []float32) (y, dx, dw []float64) {
	ho, wo := s.Out()
	y = make([]float64, s.N*s.O*ho*wo)
	dx = make([]float64, len(x))
	dw = make([]float64, len(w))
	for n := 0; n < s.N; n++ {
		for o := 0; o < s.O; o++ {
			for oy := 0; oy < ho; oy++ {
				for ox := 0; ox < wo; ox++ {
					oi := ((n*s.O+o)*ho+oy)*wo + ox
					cg := s.C / s.groups()
					g0 := o / (s.O / s.groups()) * cg // first input channel of o's group
					for ci := 0; ci < cg; ci++ {
						c := g0 + ci
						for ky := 0; ky < s.K; ky++ {
							for kx := 0; kx < s.K; kx++ {
								iy, ix := oy*s.Stride+ky-s.Pad, ox*s.Stride+kx-s.Pad
								if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
									continue
								}
								ii := ((n*s.C+c)*s.H+iy)*s.W + ix
								wi := ((o*cg+ci)*s.K+ky)*s.K + kx
								y[oi] += float64(w[wi]) * float64(x[ii])
								dx[ii] += float64(w[wi]) * float64(dy[oi])
								dw[wi] += float64(x[ii]) * float64(dy[oi])
							}
						}
					}
				}
			}
		}
	}
	return y, dx, dw
}

func relErr(got []float32, want []float64) float64 {
	var diff, scale float64
	for i := range want {
		d := math.Abs(float64(got[i]) - want[i])
		if math.IsNaN(float64(got[i])) {
			d = math.Inf(1)
		}
		diff, scale = math.Max(diff, d), math.Max(scale, math.Abs(want[i]))
	}
	return diff / scale
}

func random(rng *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}

// TestConv checks all three primitives against a float64 reference, in the preferred and the plain layouts.
func TestConv(t *testing.T) {
	for _, plain := range []bool{false, true} {
		PlainLayouts = plain
		for i, s := range []ConvShape{
			{2, 3, 6, 6, 4, 3, 1, 1, 1},
			{2, 16, 9, 7, 32, 3, 2, 1, 1},
			{3, 20, 5, 5, 24, 1, 1, 0, 1},
			{2, 8, 8, 8, 16, 1, 2, 0, 1},
			{1, 2, 9, 7, 3, 5, 2, 2, 1},
			{4, 32, 7, 7, 32, 3, 1, 1, 1},
			{2, 8, 9, 7, 8, 3, 1, 1, 8},    // depthwise
			{3, 16, 9, 8, 16, 3, 2, 1, 16}, // depthwise, stride 2
			{2, 6, 7, 7, 6, 5, 2, 2, 6},    // depthwise, 5×5
			{2, 8, 6, 6, 12, 3, 1, 0, 4},   // grouped, no padding
		} {
			rng := rand.New(rand.NewSource(int64(i)))
			lx, lw, ly := s.sizes()
			x, w, dy := random(rng, lx), random(rng, lw), random(rng, ly)
			y, dx, dw := make([]float32, ly), make([]float32, lx), make([]float32, lw)
			if err := Forward(s, x, w, y); err != nil {
				t.Fatal(err)
			}
			if err := BackwardData(s, w, dy, dx); err != nil {
				t.Fatal(err)
			}
			if err := BackwardWeights(s, x, dy, dw); err != nil {
				t.Fatal(err)
			}
			wy, wdx, wdw := naive(s, x, w, dy)
			for j, e := range []float64{relErr(y, wy), relErr(dx, wdx), relErr(dw, wdw)} {
				if e > 1e-5 {
					t.Errorf("plain=%v %+v: %s relative error %.3g", plain, s, stepNames[j], e)
				}
			}
			d, err := Describe(s)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("plain=%v %+v:\n  %s", plain, s, strings.Join(d[:], "\n  "))
			if pointwise := s.K == 1 && s.Stride == 1 && s.Pad == 0 && s.Groups == 1; pointwise || plain {
				if all := strings.Join(d[:], " "); strings.Contains(all, "reordered") {
					t.Errorf("%+v (pointwise %v) runs with reorders: %s", s, pointwise, all)
				}
			}
		}
	}
	PlainLayouts = false
	t.Logf("arena: %d bytes", ArenaBytes())
}

// TestGroupedDeterministic checks that repeated runs of each primitive of depthwise and grouped convolutions
// (backward weights reduces over the batch) give bit-identical results.
func TestGroupedDeterministic(t *testing.T) {
	for i, s := range []ConvShape{
		{32, 32, 16, 16, 32, 3, 1, 1, 32},
		{32, 64, 16, 16, 64, 3, 2, 1, 64},
		{16, 16, 8, 8, 32, 3, 1, 1, 4},
	} {
		rng := rand.New(rand.NewSource(int64(i)))
		lx, lw, ly := s.sizes()
		x, w, dy := random(rng, lx), random(rng, lw), random(rng, ly)
		var first [3][]float32
		for rep := 0; rep < 5; rep++ {
			y, dx, dw := make([]float32, ly), make([]float32, lx), make([]float32, lw)
			if err := Forward(s, x, w, y); err != nil {
				t.Fatal(err)
			}
			if err := BackwardData(s, w, dy, dx); err != nil {
				t.Fatal(err)
			}
			if err := BackwardWeights(s, x, dy, dw); err != nil {
				t.Fatal(err)
			}
			for j, got := range [3][]float32{y, dx, dw} {
				if rep == 0 {
					first[j] = got
					continue
				}
				for k := range got {
					if math.Float32bits(got[k]) != math.Float32bits(first[j][k]) {
						t.Fatalf("%+v: %s differs at run %d, element %d: %v vs %v", s, stepNames[j], rep, k, got[k], first[j][k])
					}
				}
			}
		}
	}
}

func TestErrors(t *testing.T) {
	s := ConvShape{1, 2, 4, 4, 3, 3, 1, 1, 1}
	lx, lw, ly := s.sizes()
	if err := Forward(s, make([]float32, lx), make([]float32, lw), make([]float32, ly+1)); err == nil {
		t.Error("no error for a wrong buffer length")
	}
	if err := Forward(ConvShape{1, 2, 2, 2, 3, 5, 1, 0, 1}, nil, nil, nil); err == nil {
		t.Error("no error for a kernel that does not fit")
	}
	var e *Error
	err := &Error{Call: "dnnl_primitive_desc_create", Status: 3}
	if !errors.As(error(err), &e) || !strings.Contains(err.Error(), "dnnl_primitive_desc_create") {
		t.Errorf("Error() = %q", err.Error())
	}
	t.Log(err)
}

// BenchmarkConv times each primitive (including the reorders from and to the plain buffers) on the two layers
// bnzoo's conv benchmark uses, in the preferred and in plain layouts.
func BenchmarkConv(b *testing.B) {
	for _, bc := range []struct {
		name string
		s    ConvShape
	}{
		{"vgg_128x64x16x16_k3", ConvShape{128, 64, 16, 16, 64, 3, 1, 1, 1}},
		{"resnet_128x16x32x32_k3", ConvShape{128, 16, 32, 32, 16, 3, 1, 1, 1}},
		{"depthwise_128x64x32x32_k3", ConvShape{128, 64, 32, 32, 64, 3, 1, 1, 64}},
		{"depthwise_128x128x32x32_k3_s2", ConvShape{128, 128, 32, 32, 128, 3, 2, 1, 128}},
	} {
		s := bc.s
		rng := rand.New(rand.NewSource(1))
		lx, lw, ly := s.sizes()
		x, w, dy := random(rng, lx), random(rng, lw), random(rng, ly)
		y, dx, dw := make([]float32, ly), make([]float32, lx), make([]float32, lw)
		ho, wo := s.Out()
		flops := 2 * float64(s.N*s.O*(s.C/s.groups())*s.K*s.K*ho*wo)
		for _, plain := range []bool{false, true} {
			layout := "preferred"
			if plain {
				layout = "plain"
			}
			for step, run := range []func() error{
				func() error { return Forward(s, x, w, y) },
				func() error { return BackwardData(s, w, dy, dx) },
				func() error { return BackwardWeights(s, x, dy, dw) },
			} {
				b.Run(bc.name+"/"+layout+"/"+strings.ReplaceAll(stepNames[step], " ", "_"), func(b *testing.B) {
					PlainLayouts = plain
					defer func() { PlainLayouts = false }()
					if err := run(); err != nil { // create the primitives outside the timing
						b.Fatal(err)
					}
					b.ResetTimer()
					for b.Loop() {
						if err := run(); err != nil {
							b.Fatal(err)
						}
					}
					b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// TestBatchNorm checks batch normalisation forward and backward against a float64 reference, and that repeated
// runs are bit-identical (the statistics and the scale/shift gradients are reductions over the batch).
func TestBatchNorm(t *testing.T) {
	for i, sh := range [][3]int{{2, 3, 5}, {16, 16, 64}, {8, 32, 1}, {128, 16, 100}} {
		n, c, hw := sh[0], sh[1], sh[2]
		const eps = 1e-5
		rng := rand.New(rand.NewSource(int64(i)))
		x, dy, scale, shift := random(rng, n*c*hw), random(rng, n*c*hw), random(rng, c), random(rng, c)
		for j := range x {
			x[j] = x[j]*3 + 1
		}
		run := func() [5][]float32 {
			y, mean, variance := make([]float32, len(x)), make([]float64, c), make([]float64, c)
			dx, ds, db := make([]float32, len(x)), make([]float32, c), make([]float32, c)
			if err := BatchNormForward(n, c, hw, eps, x, scale, shift, y, mean, variance); err != nil {
				t.Fatal(err)
			}
			if err := BatchNormBackward(n, c, hw, eps, x, mean, variance, scale, dy, dx, ds, db); err != nil {
				t.Fatal(err)
			}
			v32 := make([]float32, c)
			for k, v := range variance {
				v32[k] = float32(v)
			}
			return [5][]float32{y, dx, ds, db, v32}
		}
		got := run()
		for rep := 0; rep < 3; rep++ {
			again := run()
			for j := range got {
				for k := range got[j] {
					if math.Float32bits(got[j][k]) != math.Float32bits(again[j][k]) {
						t.Fatalf("%v: output %d differs between runs at %d", sh, j, k)
					}
				}
			}
		}
		m := float64(n * hw)
		wy, wdx := make([]float64, len(x)), make([]float64, len(x))
		wds, wdb := make([]float64, c), make([]float64, c)
		for k := 0; k < c; k++ {
			var s, q float64
			for a := 0; a < n; a++ {
				for _, v := range x[(a*c+k)*hw : (a*c+k+1)*hw] {
					s += float64(v)
				}
			}
			mu := s / m
			for a := 0; a < n; a++ {
				for _, v := range x[(a*c+k)*hw : (a*c+k+1)*hw] {
					q += (float64(v) - mu) * (float64(v) - mu)
				}
			}
			is := 1 / math.Sqrt(q/m+eps)
			for a := 0; a < n; a++ {
				for j := (a*c + k) * hw; j < (a*c+k+1)*hw; j++ {
					xh := (float64(x[j]) - mu) * is
					wy[j] = float64(scale[k])*xh + float64(shift[k])
					wdb[k] += float64(dy[j])
					wds[k] += float64(dy[j]) * xh
				}
			}
			for a := 0; a < n; a++ {
				for j := (a*c + k) * hw; j < (a*c+k+1)*hw; j++ {
					xh := (float64(x[j]) - mu) * is
					wdx[j] = float64(scale[k]) * is / m * (m*float64(dy[j]) - wdb[k] - xh*wds[k])
				}
			}
		}
		for j, e := range []float64{relErr(got[0], wy), relErr(got[1], wdx), relErr(got[2], wds), relErr(got[3], wdb)} {
			if e > 1e-5 {
				t.Errorf("%v: output %d relative error %.3g", sh, j, e)
			}
		}
	}
}

// BenchmarkBatchNorm times batch normalisation forward (training) and backward on a MobileNet-sized tensor.
func BenchmarkBatchNorm(b *testing.B) {
	const n, c, hw = 128, 64, 16 * 16
	rng := rand.New(rand.NewSource(1))
	x, dy, scale, shift := random(rng, n*c*hw), random(rng, n*c*hw), random(rng, c), random(rng, c)
	y, dx, mean, variance, ds, db := make([]float32, n*c*hw), make([]float32, n*c*hw), make([]float64, c),
		make([]float64, c), make([]float32, c), make([]float32, c)
	b.Run("forward", func(b *testing.B) {
		for b.Loop() {
			if err := BatchNormForward(n, c, hw, 1e-5, x, scale, shift, y, mean, variance); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(8 * n * c * hw)
	})
	b.Run("backward", func(b *testing.B) {
		for b.Loop() {
			if err := BatchNormBackward(n, c, hw, 1e-5, x, mean, variance, scale, dy, dx, ds, db); err != nil {
				b.Fatal(err)
			}
		}
		b.SetBytes(12 * n * c * hw)
	})
}

// TestNormaliseAndRelu checks the evaluation-mode normalisation against the same arithmetic in Go (x·a + b in
// float64, rounded once: the C loop is compiled without multiply-add contraction, so the bits must agree) and ReLU
// forward and backward against the plain comparisons, NaNs and signed zeros included.
func TestNormaliseAndRelu(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	for _, sh := range [][3]int{{2, 3, 5}, {16, 16, 64}, {8, 32, 1}, {128, 16, 17}} {
		n, c, hw := sh[0], sh[1], sh[2]
		x, y := random(rng, n*c*hw), make([]float32, n*c*hw)
		scale, shift := make([]float64, c), make([]float64, c)
		for k := range scale {
			scale[k], shift[k] = rng.NormFloat64(), rng.NormFloat64()
		}
		if err := Normalise(n, c, hw, x, y, scale, shift); err != nil {
			t.Fatal(err)
		}
		for i, v := range x {
			k := i / hw % c
			if want := float32(float64(v)*scale[k] + shift[k]); math.Float32bits(y[i]) != math.Float32bits(want) {
				t.Fatalf("%v: y[%d] = %v, want %v", sh, i, y[i], want)
			}
		}
	}
	if err := Normalise(2, 3, 4, make([]float32, 24), make([]float32, 24), make([]float64, 2), make([]float64, 3)); err == nil {
		t.Error("no error for 2 scales and 3 channels")
	}
	x := random(rng, 100003)
	x[0], x[1], x[2], x[3] = float32(math.NaN()), -float32(math.NaN()), float32(math.Copysign(0, -1)), 0
	y, dy, dx := make([]float32, len(x)), random(rng, len(x)), make([]float32, len(x))
	if err := Relu(x, y); err != nil {
		t.Fatal(err)
	}
	if err := ReluBackward(y, dy, dx); err != nil {
		t.Fatal(err)
	}
	for i, v := range x {
		wantY, wantDx := float32(0), float32(0)
		if v > 0 {
			wantY, wantDx = v, dy[i]
		}
		if math.Float32bits(y[i]) != math.Float32bits(wantY) || math.Float32bits(dx[i]) != math.Float32bits(wantDx) {
			t.Fatalf("relu(%v) = %v, relu'·%v = %v; want %v, %v", v, y[i], dy[i], dx[i], wantY, wantDx)
		}
	}
	if err := Relu(x, y[1:]); err == nil {
		t.Error("no error for unequal lengths")
	}
}
