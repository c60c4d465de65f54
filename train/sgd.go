package train

import (
	"fmt"

	"github.com/bnzoo/bnzoo/layers"
	"gorgonia.org/tensor"
)

// SGD is stochastic gradient descent with momentum and L2 weight decay, with PyTorch's update rule:
// g ← ∇ + λ·p; v ← μ·v + g; p ← p − η·v (the first step sets v = g). Weight decay applies to every parameter, as
// in torch.optim.SGD without parameter groups.
type SGD struct {
	LR, Momentum, WeightDecay float64
	velocity                  map[*layers.Param][]float64
}

// NewSGD returns an optimiser; the velocities start empty.
func NewSGD(lr, momentum, weightDecay float64) (*SGD, error) {
	if lr <= 0 || momentum < 0 || momentum >= 1 || weightDecay < 0 {
		return nil, fmt.Errorf("sgd: need lr > 0, 0 ≤ momentum < 1, weight decay ≥ 0; got lr=%v momentum=%v weight_decay=%v",
			lr, momentum, weightDecay)
	}
	return &SGD{LR: lr, Momentum: momentum, WeightDecay: weightDecay, velocity: map[*layers.Param][]float64{}}, nil
}

// Step updates p in place from its gradient grad (same shape and dtype).
func (o *SGD) Step(p *layers.Param, grad *tensor.Dense) error {
	if !grad.Shape().Eq(p.Value.Shape()) || grad.Dtype() != p.Value.Dtype() {
		return fmt.Errorf("sgd: gradient of %s is %v %v, parameter is %v %v", p.Name, grad.Dtype(), grad.Shape(),
			p.Value.Dtype(), p.Value.Shape())
	}
	v, seen := o.velocity[p]
	if !seen {
		v = make([]float64, p.Value.Shape().TotalSize())
		o.velocity[p] = v
	}
	switch p.Value.Dtype() {
	case tensor.Float64:
		sgdStep(p.Value.Float64s(), grad.Float64s(), v, seen, o)
	default:
		sgdStep(p.Value.Float32s(), grad.Float32s(), v, seen, o)
	}
	return nil
}

func sgdStep[T float32 | float64](w, g []T, v []float64, seen bool, o *SGD) {
	for i := range w {
		d := float64(g[i]) + o.WeightDecay*float64(w[i])
		if o.Momentum != 0 {
			if seen {
				d += o.Momentum * v[i]
			}
			v[i] = d
		}
		w[i] = T(float64(w[i]) - o.LR*d)
	}
}
