package analysis

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// kernelValue draws an activation or next value that exercises every branch of the kernels: saturated clusters,
// exact bin edges, ±1 and the bounds, ±τ, values outside the next histogram's range and plain spreads.
func kernelValue(rng *rand.Rand, c int, lower, upper float64) float64 {
	switch rng.IntN(8) {
	case 0:
		return lower + (upper-lower)*float64(rng.IntN(11))/10 // bin edges and the bounds
	case 1:
		return []float64{0.1, -0.1, 4, -4, 4.5, -7, 0, 3e38, -3e38}[rng.IntN(9)] // ±τ, the next range, far outside
	case 2, 3:
		return (upper + lower + (upper-lower)*clusteredValue(rng, c)) / 2
	default:
		return rng.NormFloat64() * float64(1+c%3)
	}
}

// stateBits returns the whole running state of a as text with every float as its bits, so that two accumulators
// compare equal only when they agree bit for bit.
func stateBits(a *Accumulator) string {
	bits := func(v float64) uint64 { return math.Float64bits(v) }
	s := fmt.Sprintf("samples %d\n", a.samples)
	for c, ch := range a.ch {
		s += fmt.Sprintf("ch %d: %x %d %x %x %x %d %d | %x %d %x %x %d\n", c, bits(ch.shift), ch.mom.n, bits(ch.mom.mean),
			bits(ch.mom.m2), bits(ch.mom.m3), ch.up, ch.down, bits(ch.nshift), ch.nmom.n, bits(ch.nmom.mean), bits(ch.nmom.m2), ch.sparse)
	}
	for _, v := range a.sat {
		s += fmt.Sprintf("%x ", bits(v))
	}
	return s + fmt.Sprint(a.zHist, a.nHist)
}

// TestKernelsMatchReference feeds the same batches to the interleaved kernels and to the plain one-channel loops
// they replaced (kernels_ref_test.go) and requires the same state bit for bit: float32 and float64, bounded layers
// with a power-of-two and another range, an unbounded one, channel counts below, at and around multiples of four,
// dense and spatial layers, and a rejected NaN batch in the middle.
func TestKernelsMatchReference(t *testing.T) {
	specs := []LayerSpec{
		{Name: "tanh", Activation: "tanh", Placement: PlacementSwapped, Lower: -1, Upper: 1},
		{Name: "lecun", Activation: "lecun_tanh", Placement: PlacementConventional, Lower: -1.7159, Upper: 1.7159},
		{Name: "sigmoid", Activation: "sigmoid", Placement: PlacementSwapped, Lower: 0, Upper: 1},
		{Name: "relu", Activation: "relu", Placement: PlacementConventional, Lower: math.Inf(-1), Upper: math.Inf(1)},
	}
	for _, spec := range specs {
		for _, C := range []int{1, 3, 4, 5, 8, 13} {
			for _, hw := range []int{1, 3, 16} {
				for _, f64 := range []bool{false, true} {
					name := fmt.Sprintf("%s/C%d/hw%d/f64=%v", spec.Name, C, hw, f64)
					t.Run(name, func(t *testing.T) {
						rng := rand.New(rand.NewPCG(uint64(C), uint64(hw)))
						fast := newAcc(t, spec, C, DefaultOptions())
						ref := newAcc(t, spec, C, DefaultOptions())
						lo, hi := spec.Lower, spec.Upper
						if !spec.Bounded() {
							lo, hi = -3, 3
						}
						for batch, n := range []int{1, 7, 2, 5} {
							act := make([]float64, n*C*hw)
							next := make([]float64, n*C*hw)
							for i := range act {
								c := i / hw % C
								act[i] = kernelValue(rng, c, lo, hi)
								next[i] = kernelValue(rng, c, -1, 1)
							}
							if batch == 2 { // a NaN in the last channel: rejected by both, state unchanged
								next[len(next)-1] = math.NaN()
							}
							var errFast, errRef error
							if f64 {
								errFast, errRef = fast.AddFloat64(act, next, n, hw), refAdd(ref, act, next, n, hw)
							} else {
								a32, n32 := toFloat32(act), toFloat32(next)
								errFast, errRef = fast.Add(a32, n32, n, hw), refAdd(ref, a32, n32, n, hw)
							}
							if fmt.Sprint(errFast) != fmt.Sprint(errRef) || (batch == 2) != (errFast != nil) {
								t.Fatalf("batch %d: error %v, reference %v", batch, errFast, errRef)
							}
							if got, want := stateBits(fast), stateBits(ref); got != want {
								t.Fatalf("batch %d: state differs from the reference:\n%s\nwant\n%s", batch, got, want)
							}
						}
						if fast.samples == 0 {
							t.Fatal("no batch was accumulated")
						}
					})
				}
			}
		}
	}
}

func toFloat32(x []float64) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = float32(v)
	}
	return out
}
