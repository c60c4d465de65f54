package train

import (
	"fmt"

	"github.com/bnzoo/bnzoo/layers"
	"gorgonia.org/tensor"
)

// SGD is stochastic gradient descent with momentum, optional Nesterov momentum and L2 weight decay, with
// torch.optim.SGD's update rule (dampening 0):
//
//	g ← ∇ + λ·p
//	v ← g on the first step, μ·v + g after
//	d ← g + μ·v (Nesterov) or v
//	p ← p − η·d
//
// With momentum 0 there is no velocity and d = g. Weight decay applies to every parameter unless NoDecayBNBias
// exempts BatchNorm γ, β and the biases. Velocities are kept in float64 per parameter name.
type SGD struct {
	LR, Momentum, WeightDecay float64
	// Nesterov uses Nesterov momentum (needs Momentum > 0).
	Nesterov bool
	// NoDecayBNBias applies no weight decay to BatchNorm parameters and biases.
	NoDecayBNBias bool
	velocity      map[string][]float64
}

// NewSGD returns an optimiser; the velocities start empty.
func NewSGD(lr, momentum, weightDecay float64) (*SGD, error) {
	switch {
	case !(lr > 0):
		return nil, &ConfigError{Field: "lr", Reason: fmt.Sprintf("must be positive, got %v", lr)}
	case !(momentum >= 0 && momentum < 1):
		return nil, &ConfigError{Field: "momentum", Reason: fmt.Sprintf("must be in [0, 1), got %v", momentum)}
	case !(weightDecay >= 0):
		return nil, &ConfigError{Field: "weight_decay", Reason: fmt.Sprintf("must not be negative, got %v", weightDecay)}
	}
	return &SGD{LR: lr, Momentum: momentum, WeightDecay: weightDecay, velocity: map[string][]float64{}}, nil
}

// Name is "sgd".
func (o *SGD) Name() string { return OptimizerSGD }

// LearningRate returns the learning rate of the next step.
func (o *SGD) LearningRate() float64 { return o.LR }

// SetLearningRate sets the learning rate of the following steps.
func (o *SGD) SetLearningRate(lr float64) { o.LR = lr }

// Step updates p in place from its gradient grad (same shape and dtype).
func (o *SGD) Step(p *layers.Param, grad *tensor.Dense) error {
	if err := checkGrad("sgd", p, grad); err != nil {
		return err
	}
	if o.velocity == nil {
		o.velocity = map[string][]float64{}
	}
	v, seen := o.velocity[p.Name]
	if !seen && o.Momentum != 0 {
		v = make([]float64, p.Value.Shape().TotalSize())
		o.velocity[p.Name] = v
	}
	k := sgdKernel{lr: o.LR, mu: o.Momentum, wd: decayOf(o.WeightDecay, o.NoDecayBNBias, p), nesterov: o.Nesterov,
		first: !seen}
	part := func(v []float64, lo, hi int) []float64 {
		if v == nil {
			return nil
		}
		return v[lo:hi]
	}
	switch p.Value.Dtype() {
	case tensor.Float64:
		w, g := p.Value.Float64s(), grad.Float64s()
		inParts(len(w), func(lo, hi int) { sgdStep(w[lo:hi], g[lo:hi], part(v, lo, hi), k) })
	default:
		w, g := p.Value.Float32s(), grad.Float32s()
		inParts(len(w), func(lo, hi int) { sgdStep(w[lo:hi], g[lo:hi], part(v, lo, hi), k) })
	}
	return nil
}

// sgdKernel is one step's constants for one parameter.
type sgdKernel struct {
	lr, mu, wd      float64
	nesterov, first bool
}

func sgdStep[T float32 | float64](w, g []T, v []float64, k sgdKernel) {
	for i := range w {
		d := float64(g[i])
		if k.wd != 0 {
			d += k.wd * float64(w[i])
		}
		if k.mu != 0 {
			if k.first {
				v[i] = d
			} else {
				v[i] = k.mu*v[i] + d
			}
			if k.nesterov {
				d += k.mu * v[i]
			} else {
				d = v[i]
			}
		}
		w[i] = T(float64(w[i]) - k.lr*d)
	}
}

// State returns a copy of the velocities, keyed "<param>.momentum_buffer" (none without momentum).
func (o *SGD) State() map[string][]float64 {
	out := make(map[string][]float64, len(o.velocity))
	for name, v := range o.velocity {
		out[name+".momentum_buffer"] = append([]float64(nil), v...)
	}
	return out
}

// LoadState replaces the velocities with those in state (see Optimizer).
func (o *SGD) LoadState(state map[string][]float64, params []*layers.Param) error {
	byParam, err := validateState("sgd", state, params, slotSpec{"momentum_buffer": 0})
	if err != nil {
		return err
	}
	if len(byParam) > 0 && o.Momentum == 0 {
		return fmt.Errorf("sgd state: %d momentum buffers for an optimizer without momentum", len(byParam))
	}
	o.velocity = make(map[string][]float64, len(byParam))
	for name, slots := range byParam {
		o.velocity[name] = slots["momentum_buffer"]
	}
	return nil
}
