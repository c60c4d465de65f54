package analysis

import (
	"math"
	"math/rand/v2"
	"testing"
)

// direct computes the moments of xs with a plain two-pass.
func direct(xs []float64) moments {
	var m moments
	m.n = int64(len(xs))
	for _, x := range xs {
		m.mean += x
	}
	m.mean /= float64(len(xs))
	for _, x := range xs {
		d := x - m.mean
		m.m2 += d * d
		m.m3 += d * d * d
	}
	return m
}

func TestMomentsMerge(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	xs := make([]float64, 1000)
	for i := range xs {
		xs[i] = rng.ExpFloat64() // skewness 2 in the limit
	}
	want := direct(xs)
	var got moments
	for lo := 0; lo < len(xs); {
		hi := min(len(xs), lo+1+rng.IntN(97))
		got.merge(direct(xs[lo:hi]))
		lo = hi
	}
	if got.n != want.n {
		t.Fatalf("n = %d, want %d", got.n, want.n)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"mean", got.mean, want.mean}, {"m2", got.m2, want.m2}, {"m3", got.m3, want.m3},
		{"skewness", got.skewness(), want.skewness()},
	} {
		if math.Abs(c.got-c.want) > 1e-12*math.Abs(c.want) {
			t.Errorf("%s = %.17g, want %.17g", c.name, c.got, c.want)
		}
	}
}

func TestMomentsSmall(t *testing.T) {
	// {0, 0, 3}: mean 1, deviations −1, −1, 2: M2 = 6, M3 = −1 −1 + 8 = 6,
	// g1 = (6/3) / (6/3)^1.5 = 1/√2.
	var m moments
	m.merge(moments{n: 1, mean: 0})
	m.merge(moments{n: 1, mean: 0})
	m.merge(moments{n: 1, mean: 3})
	if m.mean != 1 || m.m2 != 6 || m.m3 != 6 {
		t.Fatalf("moments = %+v, want mean 1, m2 6, m3 6", m)
	}
	if g := m.skewness(); math.Abs(g-1/math.Sqrt2) > 1e-15 {
		t.Errorf("skewness = %v, want 1/√2", g)
	}
}

func TestMomentsSkewnessDegenerate(t *testing.T) {
	for _, m := range []moments{{}, {n: 5, mean: 1}, {n: 5, mean: 1, m2: 0, m3: 1e-300}} {
		if g := m.skewness(); g != 0 {
			t.Errorf("skewness(%+v) = %v, want 0", m, g)
		}
	}
	// A denormal variance must not give an infinite or NaN skewness.
	if g := (moments{n: 2, m2: 5e-324, m3: 1e-300}).skewness(); math.IsNaN(g) || math.IsInf(g, 0) {
		t.Errorf("skewness of a denormal variance = %v", g)
	}
}
