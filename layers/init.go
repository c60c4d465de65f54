package layers

import (
	"fmt"
	"math"
	"math/rand"

	"gorgonia.org/tensor"
)

// fill sets every element of p from gen, in row-major order.
func fill(p *Param, gen func() float64) {
	switch p.Value.Dtype() {
	case tensor.Float64:
		d := p.Value.Float64s()
		for i := range d {
			d[i] = gen()
		}
	default:
		d := p.Value.Float32s()
		for i := range d {
			d[i] = float32(gen())
		}
	}
}

// fans returns fan-in and fan-out of an [out, in, kh, kw] or [out, in] weight as PyTorch computes them.
func fans(shape tensor.Shape) (in, out int, err error) {
	if len(shape) < 2 {
		return 0, 0, fmt.Errorf("fan-in/out need a weight of at least 2 dimensions, got %v", shape)
	}
	field := 1
	for _, d := range shape[2:] {
		field *= d
	}
	return shape[1] * field, shape[0] * field, nil
}

// KaimingNormalFanOut draws N(0, 2/fan_out), torchvision's init for conv weights
// (kaiming_normal_(mode="fan_out", nonlinearity="relu")).
func KaimingNormalFanOut(rng *rand.Rand, p *Param) error {
	_, out, err := fans(p.Value.Shape())
	if err != nil {
		return err
	}
	std := math.Sqrt(2 / float64(out))
	fill(p, func() float64 { return rng.NormFloat64() * std })
	return nil
}

// LinearDefault draws U(−1/√fan_in, 1/√fan_in), PyTorch's default for nn.Linear weights
// (kaiming_uniform_(a=√5)).
func LinearDefault(rng *rand.Rand, p *Param) error {
	in, _, err := fans(p.Value.Shape())
	if err != nil {
		return err
	}
	return uniform(rng, p, 1/math.Sqrt(float64(in)))
}

// LinearBiasDefault returns PyTorch's default nn.Linear bias init, U(−1/√fan_in, 1/√fan_in).
func LinearBiasDefault(fanIn int) Initializer {
	return func(rng *rand.Rand, p *Param) error { return uniform(rng, p, 1/math.Sqrt(float64(fanIn))) }
}

func uniform(rng *rand.Rand, p *Param, bound float64) error {
	fill(p, func() float64 { return (2*rng.Float64() - 1) * bound })
	return nil
}

// Constant returns an initialiser that sets every element to v (BN γ = 1, β = 0, torchvision's conv bias = 0).
func Constant(v float64) Initializer {
	return func(_ *rand.Rand, p *Param) error {
		fill(p, func() float64 { return v })
		return nil
	}
}
