package layers

import (
	"math/rand"
	"testing"

	"gorgonia.org/tensor"
)

// benchTensor returns a float32 tensor of normal random values.
func benchTensor(seed int64, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	rng := rand.New(rand.NewSource(seed))
	for i, d := 0, t.Float32s(); i < len(d); i++ {
		d[i] = float32(rng.NormFloat64() * 2)
	}
	return t
}

// BenchmarkActivation times the activation op's forward and backward passes on a (128, 64, 16, 16) float32 tensor,
// and for tanh the math package's float64 function, which the op used before, as a baseline.
func BenchmarkActivation(b *testing.B) {
	x := benchTensor(1, 128, 64, 16, 16)
	dy := benchTensor(2, 128, 64, 16, 16)
	for _, name := range []string{"tanh", "sigmoid", "relu", "leaky_relu", "elu", "silu", "gelu"} {
		act := MustActivation(name)
		fwd := &activationOp{opBase: newOpBase("act"), act: act}
		bwd := &activationGradOp{opBase: newOpBase("act_grad"), act: act}
		y, err := fwd.Do(x)
		if err != nil {
			b.Fatal(err)
		}
		src := y
		if act.gradFromInput() {
			src = x
		}
		b.Run(name+"/forward", func(b *testing.B) {
			b.SetBytes(int64(4 * x.Size()))
			for range b.N {
				if _, err := fwd.Do(x); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/backward", func(b *testing.B) {
			b.SetBytes(int64(4 * x.Size()))
			for range b.N {
				if _, err := bwd.Do(src, dy); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("tanh/forward_math_baseline", func(b *testing.B) {
		act := MustActivation("tanh")
		xs, ys := x.Float32s(), make([]float32, x.Size())
		b.SetBytes(int64(4 * x.Size()))
		for range b.N {
			parallelChunks(len(xs), func(lo, hi int) {
				for i, v := range xs[lo:hi] {
					ys[lo+i] = float32(act.eval(float64(v)))
				}
			})
		}
	})
}
