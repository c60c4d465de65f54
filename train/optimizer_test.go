package train

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// newParam returns a float64 parameter of the given kind holding values.
func newParam(t *testing.T, name string, kind layers.ParamKind, values ...float64) *layers.Param {
	t.Helper()
	store, _ := layers.NewStore(tensor.Float64, 1)
	p, err := store.Param(name, kind, []int{len(values)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(p.Value.Float64s(), values)
	return p
}

func grad64(values ...float64) *tensor.Dense {
	return tensor.New(tensor.WithShape(len(values)), tensor.WithBacking(append([]float64(nil), values...)))
}

// TestOptimizerStepsMatchHandComputed checks each optimizer against steps worked out by hand from PyTorch's update
// rules (the arithmetic is spelled out in each case): w = 1, gradient 0.5 then 0.25, lr 0.1.
func TestOptimizerStepsMatchHandComputed(t *testing.T) {
	const eps = 1e-8
	cases := []struct {
		name  string
		opt   func() (Optimizer, error)
		kind  layers.ParamKind
		grads []float64
		want  []float64 // the weight after each step
	}{
		{"sgd plain", func() (Optimizer, error) { return NewSGD(0.1, 0, 0) }, layers.WeightParam,
			[]float64{0.5, 0.25}, []float64{1 - 0.05, 0.95 - 0.025}},
		// v = 0.5, w = 1 − 0.05; v = 0.9·0.5 + 0.25 = 0.7, w −= 0.07.
		{"sgd momentum", func() (Optimizer, error) { return NewSGD(0.1, 0.9, 0) }, layers.WeightParam,
			[]float64{0.5, 0.25}, []float64{0.95, 0.95 - 0.07}},
		// Nesterov: v = 0.5, d = 0.5 + 0.9·0.5 = 0.95; v = 0.9·0.5 + 0.25 = 0.7, d = 0.25 + 0.9·0.7 = 0.88.
		{"sgd nesterov", func() (Optimizer, error) {
			o, err := NewSGD(0.1, 0.9, 0)
			o.Nesterov = true
			return o, err
		}, layers.WeightParam, []float64{0.5, 0.25}, []float64{1 - 0.095, 0.905 - 0.088}},
		// Decay 0.1: g = 0.5 + 0.1·1 = 0.6, v = 0.6, w = 0.94; g = 0.25 + 0.094 = 0.344, v = 0.54 + 0.344 = 0.884.
		{"sgd momentum decay", func() (Optimizer, error) { return NewSGD(0.1, 0.9, 0.1) }, layers.WeightParam,
			[]float64{0.5, 0.25}, []float64{0.94, 0.94 - 0.0884}},
		// The same on a bias with NoDecayBNBias: as without decay.
		{"sgd no decay on bias", func() (Optimizer, error) {
			o, err := NewSGD(0.1, 0.9, 0.1)
			o.NoDecayBNBias = true
			return o, err
		}, layers.BiasParam, []float64{0.5, 0.25}, []float64{0.95, 0.95 - 0.07}},
		// Adam: m = 0.05, v = 0.001·0.25 = 0.00025, m̂ = 0.5, √v̂ = 0.5; w = 1 − 0.1·0.5/(0.5+ε).
		// Then m = 0.045 + 0.025 = 0.07, v = 0.999·0.00025 + 0.001·0.0625 = 0.00031225,
		// w −= (0.1/(1−0.9²))·0.07 / (√0.00031225/√(1−0.999²) + ε).
		{"adam", func() (Optimizer, error) { return NewAdam(0.1, 0.9, 0.999, eps, 0) }, layers.WeightParam,
			[]float64{0.5, 0.25}, []float64{
				1 - 0.1*0.05/0.1/(0.5+eps),
				1 - 0.1*0.05/0.1/(0.5+eps) - (0.1/(1-0.81))*0.07/(math.Sqrt(0.00031225)/math.Sqrt(1-0.998001)+eps)}},
		// ε = 0.1 shows where ε goes: added to √v̂ = 0.5, w = 1 − 0.1·0.5/0.6 (inside the root it would be √0.35).
		{"adam eps outside sqrt", func() (Optimizer, error) { return NewAdam(0.1, 0.9, 0.999, 0.1, 0) }, layers.WeightParam,
			[]float64{0.5}, []float64{1 - 0.1*0.5/0.6}},
		// Adam with L2 decay 0.1: g = 0.5 + 0.1·1 = 0.6, m = 0.06, v = 0.00036, √v̂ = 0.6: w = 1 − 0.1·0.6/(0.6+ε).
		{"adam l2", func() (Optimizer, error) { return NewAdam(0.1, 0.9, 0.999, eps, 0.1) }, layers.WeightParam,
			[]float64{0.5}, []float64{1 - 0.1*0.6/(0.6+eps)}},
		// AdamW decay 0.1: w = 1·(1 − 0.1·0.1) = 0.99 first, then the plain Adam step of 0.1·0.5/(0.5+ε).
		{"adamw", func() (Optimizer, error) { return NewAdamW(0.1, 0.9, 0.999, eps, 0.1) }, layers.WeightParam,
			[]float64{0.5}, []float64{0.99 - 0.1*0.5/(0.5+eps)}},
		// AdamW on a BN γ with NoDecayBNBias: no shrink.
		{"adamw no decay on bn", func() (Optimizer, error) {
			o, err := NewAdamW(0.1, 0.9, 0.999, eps, 0.1)
			o.NoDecayBNBias = true
			return o, err
		}, layers.BNGammaParam, []float64{0.5}, []float64{1 - 0.1*0.5/(0.5+eps)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opt, err := c.opt()
			if err != nil {
				t.Fatal(err)
			}
			p := newParam(t, "features.0.conv.weight", c.kind, 1)
			for i, g := range c.grads {
				if err := opt.Step(p, grad64(g)); err != nil {
					t.Fatal(err)
				}
				if got := p.Value.Float64s()[0]; math.Abs(got-c.want[i]) > 1e-12 {
					t.Fatalf("after step %d: w = %.15f, want %.15f", i+1, got, c.want[i])
				}
			}
		})
	}
}

// TestOptimizerFloat32 runs the same update on a float32 and a float64 parameter: the float32 result is the float64
// one rounded (the state is float64 either way, the parameter is rounded after each step).
func TestOptimizerFloat32(t *testing.T) {
	for _, name := range OptimizerNames() {
		cfg := DefaultConfig()
		cfg.Optimizer = name
		o32, _ := NewOptimizer(cfg)
		o64, _ := NewOptimizer(cfg)
		s32, _ := layers.NewStore(tensor.Float32, 1)
		p32, _ := s32.Param("w", layers.WeightParam, []int{1}, layers.Constant(0.5))
		p64 := newParam(t, "w", layers.WeightParam, 0.5)
		if err := o32.Step(p32, tensor.New(tensor.WithShape(1), tensor.WithBacking([]float32{0.25}))); err != nil {
			t.Fatal(err)
		}
		_ = o64.Step(p64, grad64(0.25))
		if got, want := p32.Value.Float32s()[0], float32(p64.Value.Float64s()[0]); got != want {
			t.Errorf("%s: float32 step gives %v, the rounded float64 step %v", name, got, want)
		}
		if err := o32.Step(p32, grad64(0.25)); err == nil || !strings.Contains(err.Error(), "w") {
			t.Errorf("%s: a float64 gradient for a float32 parameter: err = %v", name, err)
		}
	}
}

// TestOptimizerStateRoundTrip checks that State/LoadState carry an optimizer over exactly: two more steps of a
// restored optimizer equal two more steps of the original, and bad states are refused with the key named.
func TestOptimizerStateRoundTrip(t *testing.T) {
	for _, name := range OptimizerNames() {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Optimizer = name
			a, _ := NewOptimizer(cfg)
			pa := newParam(t, "classifier.weight", layers.WeightParam, 1, -2)
			for _, g := range []float64{0.5, -0.3} {
				_ = a.Step(pa, grad64(g, 2*g))
			}
			b, _ := NewOptimizer(cfg)
			pb := newParam(t, "classifier.weight", layers.WeightParam, pa.Value.Float64s()...)
			if err := b.LoadState(a.State(), []*layers.Param{pb}); err != nil {
				t.Fatal(err)
			}
			for _, g := range []float64{0.7, 0.1} {
				_ = a.Step(pa, grad64(g, -g))
				_ = b.Step(pb, grad64(g, -g))
			}
			for i := range pa.Value.Float64s() {
				if math.Float64bits(pa.Value.Float64s()[i]) != math.Float64bits(pb.Value.Float64s()[i]) {
					t.Fatalf("restored optimizer diverges: %v vs %v", pa.Value.Float64s(), pb.Value.Float64s())
				}
			}
			for bad, state := range map[string]map[string][]float64{
				"classifier.weight.bogus": {"classifier.weight.bogus": {1, 2}},
				"nope.":                   {"nope.momentum_buffer": {1, 2}, "nope.exp_avg": {1, 2}},
				"has 3 values":            stateWithLen(a.State(), 3),
			} {
				if err := b.LoadState(state, []*layers.Param{pb}); err == nil || !strings.Contains(err.Error(), bad) {
					t.Errorf("state %v: err = %v, want it to mention %q", state, err, bad)
				}
			}
		})
	}
}

func stateWithLen(s map[string][]float64, n int) map[string][]float64 {
	out := map[string][]float64{}
	for k, v := range s {
		if len(v) > 1 {
			v = make([]float64, n)
		}
		out[k] = v
	}
	return out
}

func TestOptimizerConfigErrors(t *testing.T) {
	for field, mod := range map[string]func(*Config){
		"optimizer":    func(c *Config) { c.Optimizer = "rmsprop" },
		"lr":           func(c *Config) { c.LR = 0 },
		"momentum":     func(c *Config) { c.Momentum = 1 },
		"nesterov":     func(c *Config) { c.Momentum, c.Nesterov = 0, true },
		"weight_decay": func(c *Config) { c.WeightDecay = -1 },
		"beta2":        func(c *Config) { c.Optimizer, c.Beta2 = OptimizerAdam, 1 },
	} {
		cfg := DefaultConfig()
		mod(&cfg)
		_, err := NewOptimizer(cfg)
		var ce *ConfigError
		if !errors.As(err, &ce) || ce.Field != field {
			t.Errorf("%s: err = %v, want a ConfigError on %s", field, err, field)
		}
	}
}

// TestSolverIsGorgoniaCompatible drives an Optimizer through gorgonia.Solver on a graph with dual values: the loss
// Σw² has gradient 2w, so SGD at lr 0.1 takes w = (1, −2) to (0.8, −1.6).
func TestSolverIsGorgoniaCompatible(t *testing.T) {
	store, _ := layers.NewStore(tensor.Float64, 1)
	b := layers.NewBuilder(store, true)
	w, err := b.ParamNode("w", layers.WeightParam, []int{2}, layers.Constant(1))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := store.Lookup("w")
	p.Value.Float64s()[1] = -2
	loss := G.Must(G.Sum(G.Must(G.Square(w))))
	if _, err := G.Grad(loss, w); err != nil {
		t.Fatal(err)
	}
	vm := G.NewTapeMachine(b.Graph, G.BindDualValues(w))
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	opt, _ := NewSGD(0.1, 0, 0)
	var solver G.Solver = Solver{Optimizer: opt, Store: store}
	if err := solver.Step(G.NodesToValueGrads(G.Nodes{w})); err != nil {
		t.Fatal(err)
	}
	if got := p.Value.Float64s(); math.Abs(got[0]-0.8) > 1e-12 || math.Abs(got[1]+1.6) > 1e-12 {
		t.Fatalf("w = %v, want [0.8 -1.6]", got)
	}
}

// TestOptimizerSplitStepIsExact checks that a parameter large enough for its update to be split over goroutines
// gets the same bits as one serial pass of the update kernel, for SGD with momentum and for Adam, over three steps.
func TestOptimizerSplitStepIsExact(t *testing.T) {
	const n = 3*parallelMin + 17
	values, grads := make([]float64, n), make([]float64, n)
	for i := range values {
		values[i], grads[i] = math.Sin(float64(i)), math.Cos(float64(i)*0.7)
	}
	for _, name := range []string{OptimizerSGD, "adam"} {
		var opt Optimizer
		var err error
		if name == OptimizerSGD {
			opt, err = NewSGD(0.1, 0.9, 5e-4)
		} else {
			opt, err = NewAdam(0.01, 0.9, 0.999, 1e-8, 5e-4)
		}
		if err != nil {
			t.Fatal(err)
		}
		p := newParam(t, "w", layers.WeightParam, values...)
		want := append([]float64(nil), values...)
		var vel []float64
		slots := &adamSlots{m: make([]float64, n), v: make([]float64, n)}
		for step := 0; step < 3; step++ {
			if err := opt.Step(p, grad64(grads...)); err != nil {
				t.Fatal(err)
			}
			switch o := opt.(type) {
			case *SGD:
				if vel == nil {
					vel = make([]float64, n)
				}
				sgdStep(want, grads, vel, sgdKernel{lr: o.LR, mu: o.Momentum, wd: o.WeightDecay, first: step == 0})
			case *Adam:
				slots.step++
				bc1, bc2 := 1-math.Pow(o.Beta1, slots.step), 1-math.Pow(o.Beta2, slots.step)
				adamStep(want, grads, slots, adamKernel{lr: o.LR, b1: o.Beta1, b2: o.Beta2, eps: o.Eps,
					stepSize: o.LR / bc1, bc2Sqrt: math.Sqrt(bc2), shrink: 1, l2: o.WeightDecay})
			}
		}
		for i, v := range p.Value.Float64s() {
			if math.Float64bits(v) != math.Float64bits(want[i]) {
				t.Fatalf("%s: w[%d] = %v after the split steps, %v after serial ones", name, i, v, want[i])
			}
		}
	}
}
