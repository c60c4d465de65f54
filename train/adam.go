package train

import (
	"fmt"
	"math"

	"github.com/bnzoo/bnzoo/layers"
	"gorgonia.org/tensor"
)

// Adam is Adam (Kingma & Ba) with bias correction, or AdamW (Loshchilov & Hutter) when Decoupled is set, with
// torch.optim.Adam's and torch.optim.AdamW's update rules (amsgrad off). Per parameter, at its step t (counted
// from 1):
//
//	p ← p − η·λ·p                       AdamW only: decay decoupled from the gradient
//	g ← ∇ + λ·p                         Adam only: L2 decay added to the gradient
//	m ← β₁·m + (1−β₁)·g
//	v ← β₂·v + (1−β₂)·g²
//	p ← p − (η / (1−β₁ᵗ)) · m / (√v / √(1−β₂ᵗ) + ε)
//
// ε is added to the bias-corrected √v̂, not to v̂. m, v and t are kept in float64 per parameter name.
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	// Decoupled makes this AdamW.
	Decoupled bool
	// NoDecayBNBias applies no weight decay to BatchNorm parameters and biases.
	NoDecayBNBias bool
	state         map[string]*adamSlots
}

type adamSlots struct {
	step float64 // steps taken, stored as PyTorch stores it (a float scalar)
	m, v []float64
}

// NewAdam returns Adam with L2 weight decay (PyTorch's defaults are β₁ 0.9, β₂ 0.999, ε 1e-8, decay 0).
func NewAdam(lr, beta1, beta2, eps, weightDecay float64) (*Adam, error) {
	return newAdam(lr, beta1, beta2, eps, weightDecay, false)
}

// NewAdamW returns AdamW, Adam with decoupled weight decay (PyTorch's default decay is 0.01).
func NewAdamW(lr, beta1, beta2, eps, weightDecay float64) (*Adam, error) {
	return newAdam(lr, beta1, beta2, eps, weightDecay, true)
}

func newAdam(lr, beta1, beta2, eps, weightDecay float64, decoupled bool) (*Adam, error) {
	switch {
	case !(lr > 0):
		return nil, &ConfigError{Field: "lr", Reason: fmt.Sprintf("must be positive, got %v", lr)}
	case !(beta1 >= 0 && beta1 < 1):
		return nil, &ConfigError{Field: "beta1", Reason: fmt.Sprintf("must be in [0, 1), got %v", beta1)}
	case !(beta2 >= 0 && beta2 < 1):
		return nil, &ConfigError{Field: "beta2", Reason: fmt.Sprintf("must be in [0, 1), got %v", beta2)}
	case !(eps >= 0):
		return nil, &ConfigError{Field: "eps", Reason: fmt.Sprintf("must not be negative, got %v", eps)}
	case !(weightDecay >= 0):
		return nil, &ConfigError{Field: "weight_decay", Reason: fmt.Sprintf("must not be negative, got %v", weightDecay)}
	}
	return &Adam{LR: lr, Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: weightDecay, Decoupled: decoupled,
		state: map[string]*adamSlots{}}, nil
}

// Name is "adam" or "adamw".
func (o *Adam) Name() string {
	if o.Decoupled {
		return OptimizerAdamW
	}
	return OptimizerAdam
}

// LearningRate returns the learning rate of the next step.
func (o *Adam) LearningRate() float64 { return o.LR }

// SetLearningRate sets the learning rate of the following steps.
func (o *Adam) SetLearningRate(lr float64) { o.LR = lr }

// Step updates p in place from its gradient grad (same shape and dtype).
func (o *Adam) Step(p *layers.Param, grad *tensor.Dense) error {
	if err := checkGrad(o.Name(), p, grad); err != nil {
		return err
	}
	if o.state == nil {
		o.state = map[string]*adamSlots{}
	}
	s, ok := o.state[p.Name]
	if !ok {
		n := p.Value.Shape().TotalSize()
		s = &adamSlots{m: make([]float64, n), v: make([]float64, n)}
		o.state[p.Name] = s
	}
	s.step++
	wd := decayOf(o.WeightDecay, o.NoDecayBNBias, p)
	bc1 := 1 - math.Pow(o.Beta1, s.step)
	bc2 := 1 - math.Pow(o.Beta2, s.step)
	k := adamKernel{lr: o.LR, b1: o.Beta1, b2: o.Beta2, eps: o.Eps, stepSize: o.LR / bc1, bc2Sqrt: math.Sqrt(bc2)}
	if o.Decoupled {
		k.shrink = 1 - o.LR*wd
	} else {
		k.shrink, k.l2 = 1, wd
	}
	part := func(lo, hi int) *adamSlots { return &adamSlots{step: s.step, m: s.m[lo:hi], v: s.v[lo:hi]} }
	switch p.Value.Dtype() {
	case tensor.Float64:
		w, g := p.Value.Float64s(), grad.Float64s()
		inParts(len(w), func(lo, hi int) { adamStep(w[lo:hi], g[lo:hi], part(lo, hi), k) })
	default:
		w, g := p.Value.Float32s(), grad.Float32s()
		inParts(len(w), func(lo, hi int) { adamStep(w[lo:hi], g[lo:hi], part(lo, hi), k) })
	}
	return nil
}

// adamKernel is one step's constants for one parameter.
type adamKernel struct {
	lr, b1, b2, eps   float64
	stepSize, bc2Sqrt float64 // η/(1−β₁ᵗ) and √(1−β₂ᵗ)
	shrink, l2        float64 // AdamW: p ← shrink·p; Adam: g ← g + l2·p
}

func adamStep[T float32 | float64](w, g []T, s *adamSlots, k adamKernel) {
	for i := range w {
		p := float64(w[i])
		if k.shrink != 1 {
			p *= k.shrink
		}
		d := float64(g[i])
		if k.l2 != 0 {
			d += k.l2 * p
		}
		s.m[i] = k.b1*s.m[i] + (1-k.b1)*d
		s.v[i] = k.b2*s.v[i] + (1-k.b2)*d*d
		denom := math.Sqrt(s.v[i])/k.bc2Sqrt + k.eps
		w[i] = T(p - k.stepSize*(s.m[i]/denom))
	}
}

// State returns a copy of the moments and step counts, keyed "<param>.exp_avg", "<param>.exp_avg_sq" and
// "<param>.step" (one value).
func (o *Adam) State() map[string][]float64 {
	out := make(map[string][]float64, 3*len(o.state))
	for name, s := range o.state {
		out[name+".step"] = []float64{s.step}
		out[name+".exp_avg"] = append([]float64(nil), s.m...)
		out[name+".exp_avg_sq"] = append([]float64(nil), s.v...)
	}
	return out
}

// LoadState replaces the moments and step counts with those in state (see Optimizer).
func (o *Adam) LoadState(state map[string][]float64, params []*layers.Param) error {
	byParam, err := validateState(o.Name(), state, params, slotSpec{"step": 1, "exp_avg": 0, "exp_avg_sq": 0})
	if err != nil {
		return err
	}
	next := make(map[string]*adamSlots, len(byParam))
	for name, slots := range byParam {
		t := slots["step"][0]
		if t < 1 || t != math.Trunc(t) {
			return fmt.Errorf("%s state: key %q is %v, not a positive whole number of steps", o.Name(), name+".step", t)
		}
		next[name] = &adamSlots{step: t, m: slots["exp_avg"], v: slots["exp_avg_sq"]}
	}
	o.state = next
	return nil
}
