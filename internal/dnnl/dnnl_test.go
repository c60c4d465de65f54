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
					for c := 0; c < s.C; c++ {
						for ky := 0; ky < s.K; ky++ {
							for kx := 0; kx < s.K; kx++ {
								iy, ix := oy*s.Stride+ky-s.Pad, ox*s.Stride+kx-s.Pad
								if iy < 0 || iy >= s.H || ix < 0 || ix >= s.W {
									continue
								}
								ii := ((n*s.C+c)*s.H+iy)*s.W + ix
								wi := ((o*s.C+c)*s.K+ky)*s.K + kx
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
			{2, 3, 6, 6, 4, 3, 1, 1},
			{2, 16, 9, 7, 32, 3, 2, 1},
			{3, 20, 5, 5, 24, 1, 1, 0},
			{2, 8, 8, 8, 16, 1, 2, 0},
			{1, 2, 9, 7, 3, 5, 2, 2},
			{4, 32, 7, 7, 32, 3, 1, 1},
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
		}
	}
	PlainLayouts = false
	t.Logf("arena: %d bytes", ArenaBytes())
}

func TestErrors(t *testing.T) {
	s := ConvShape{1, 2, 4, 4, 3, 3, 1, 1}
	lx, lw, ly := s.sizes()
	if err := Forward(s, make([]float32, lx), make([]float32, lw), make([]float32, ly+1)); err == nil {
		t.Error("no error for a wrong buffer length")
	}
	if err := Forward(ConvShape{1, 2, 2, 2, 3, 5, 1, 0}, nil, nil, nil); err == nil {
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
		{"vgg_128x64x16x16_k3", ConvShape{128, 64, 16, 16, 64, 3, 1, 1}},
		{"resnet_128x16x32x32_k3", ConvShape{128, 16, 32, 32, 16, 3, 1, 1}},
	} {
		s := bc.s
		rng := rand.New(rand.NewSource(1))
		lx, lw, ly := s.sizes()
		x, w, dy := random(rng, lx), random(rng, lw), random(rng, ly)
		y, dx, dw := make([]float32, ly), make([]float32, lx), make([]float32, lw)
		ho, wo := s.Out()
		flops := 2 * float64(s.N*s.O*s.C*s.K*s.K*ho*wo)
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
