package train

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/bnzoo/bnzoo/layers"
	"gorgonia.org/tensor"
)

// Optimizer updates parameters in place from their gradients. Implementations follow torch.optim's update rules
// exactly (computed in float64, the result rounded to the parameter's dtype) and keep their state per parameter
// name, not per pointer or position, so that a checkpoint can store it and a model rebuilt from a file can take it
// back.
//
// Gorgonia's own solvers are not used: MomentumSolver updates v ← μv − ηg, w ← w + v, which differs from PyTorch's
// v ← μv + g, w ← w − ηv as soon as the learning rate changes (any schedule); none has Nesterov momentum,
// decoupled weight decay or decay exemptions per parameter kind; their state is private and indexed by position,
// so it cannot be saved. Solver adapts any Optimizer to gorgonia.Solver instead.
type Optimizer interface {
	// Name is the optimizer's kind as Config.Optimizer spells it: "sgd", "adam" or "adamw".
	Name() string
	// LearningRate is the learning rate of the next step.
	LearningRate() float64
	// SetLearningRate sets the learning rate of the following steps (Fit sets it from the schedule before every
	// step).
	SetLearningRate(lr float64)
	// Step updates p in place from grad, which has p's shape and dtype.
	Step(p *layers.Param, grad *tensor.Dense) error
	// State returns a copy of the per-parameter state keyed "<param>.<slot>", with PyTorch's slot names:
	// momentum_buffer for SGD; step, exp_avg and exp_avg_sq for Adam and AdamW. A parameter that has not been
	// stepped yet has no entry (as in PyTorch).
	State() map[string][]float64
	// LoadState replaces the state with a copy of state. Every key must name a slot of one of params with that
	// parameter's length; a bad key is an error naming it and leaves the optimizer unchanged.
	LoadState(state map[string][]float64, params []*layers.Param) error
}

// Optimizer names accepted by Config.Optimizer.
const (
	OptimizerSGD   = "sgd"
	OptimizerAdam  = "adam"
	OptimizerAdamW = "adamw"
)

// OptimizerNames lists the optimizers Config.Optimizer accepts.
func OptimizerNames() []string { return []string{OptimizerSGD, OptimizerAdam, OptimizerAdamW} }

// NewOptimizer returns the optimizer cfg describes ("" means SGD), at learning rate cfg.LR. Adam's β₁, β₂ and ε
// left at 0 take PyTorch's defaults 0.9, 0.999 and 1e-8; Momentum is SGD's and Adam ignores it (β₁ plays its
// part), so a config derived from DefaultConfig works for every optimizer.
func NewOptimizer(cfg Config) (Optimizer, error) {
	cfg = cfg.withDefaults()
	switch cfg.Optimizer {
	case OptimizerSGD:
		o, err := NewSGD(cfg.LR, cfg.Momentum, cfg.WeightDecay)
		if err != nil {
			return nil, err
		}
		if cfg.Nesterov && cfg.Momentum == 0 {
			return nil, &ConfigError{Field: "nesterov", Reason: "needs momentum > 0 (as torch.optim.SGD)"}
		}
		o.Nesterov, o.NoDecayBNBias = cfg.Nesterov, cfg.NoDecayBNBias
		return o, nil
	case OptimizerAdam, OptimizerAdamW:
		if cfg.Nesterov {
			return nil, &ConfigError{Field: "nesterov", Reason: "applies to sgd only, not " + cfg.Optimizer}
		}
		newAdam := NewAdam
		if cfg.Optimizer == OptimizerAdamW {
			newAdam = NewAdamW
		}
		o, err := newAdam(cfg.LR, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay)
		if err != nil {
			return nil, err
		}
		o.NoDecayBNBias = cfg.NoDecayBNBias
		return o, nil
	}
	return nil, &ConfigError{Field: "optimizer", Reason: fmt.Sprintf("unknown optimizer %q (valid: %s)", cfg.Optimizer,
		strings.Join(OptimizerNames(), ", "))}
}

// decayOf is the weight decay applied to p: none on BatchNorm γ, β and biases when noDecayBNBias is set (the usual
// second parameter group in PyTorch recipes), wd otherwise.
func decayOf(wd float64, noDecayBNBias bool, p *layers.Param) float64 {
	if noDecayBNBias && p.Kind != layers.WeightParam {
		return 0
	}
	return wd
}

// checkGrad returns an error unless grad matches p's shape and dtype.
func checkGrad(opt string, p *layers.Param, grad *tensor.Dense) error {
	if grad == nil || !grad.Shape().Eq(p.Value.Shape()) || grad.Dtype() != p.Value.Dtype() {
		if grad == nil {
			return fmt.Errorf("%s: gradient of %s is nil", opt, p.Name)
		}
		return fmt.Errorf("%s: gradient of %s is %v %v, parameter is %v %v", opt, p.Name, grad.Dtype(), grad.Shape(),
			p.Value.Dtype(), p.Value.Shape())
	}
	return nil
}

// slotSpec tells validateState which slots an optimizer keeps and how long each is (0 means the parameter's size).
type slotSpec map[string]int

// validateState checks that every key of state is "<param>.<slot>" for a parameter in params and a slot in spec,
// with the right length and finite values, and that a parameter has either all of spec's slots or none. It
// returns the state grouped by parameter name.
func validateState(opt string, state map[string][]float64, params []*layers.Param, spec slotSpec) (map[string]map[string][]float64, error) {
	size := map[string]int{}
	for _, p := range params {
		size[p.Name] = p.Value.Shape().TotalSize()
	}
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := map[string]map[string][]float64{}
	for _, k := range keys {
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			return nil, fmt.Errorf("%s state: key %q is not <parameter>.<slot>", opt, k)
		}
		name, slot := k[:i], k[i+1:]
		n, ok := size[name]
		if !ok {
			return nil, fmt.Errorf("%s state: key %q: the model has no parameter %q", opt, k, name)
		}
		want, ok := spec[slot]
		if !ok {
			return nil, fmt.Errorf("%s state: key %q: %s keeps no slot %q", opt, k, opt, slot)
		}
		if want == 0 {
			want = n
		}
		if len(state[k]) != want {
			return nil, fmt.Errorf("%s state: key %q has %d values, want %d", opt, k, len(state[k]), want)
		}
		for j, v := range state[k] {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("%s state: key %q: element %d is %v", opt, k, j, v)
			}
		}
		if out[name] == nil {
			out[name] = map[string][]float64{}
		}
		out[name][slot] = append([]float64(nil), state[k]...)
	}
	for name, slots := range out {
		for slot := range spec {
			if _, ok := slots[slot]; !ok {
				return nil, fmt.Errorf("%s state: key %q is missing (the other slots of %s are present)", opt, name+"."+slot, name)
			}
		}
	}
	return out, nil
}
