// Package gradcheck compares Gorgonia's symbolic gradients with central finite differences in float64. It is the
// test harness for every bnzoo op and graph fragment.
package gradcheck

import (
	"fmt"
	"math"
	"math/rand"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Options sets the finite-difference step, the tolerances and how many elements of each tensor are probed.
type Options struct {
	Step       float64 // central-difference step h
	Atol, Rtol float64 // pass when |analytic − numeric| ≤ Atol + Rtol·max(|analytic|, |numeric|)
	MaxProbes  int     // elements probed per tensor (all when the tensor is smaller); 0 means 64
	Seed       int64   // chooses which elements are probed
}

// Defaults are tight enough to catch a wrong factor anywhere and loose enough for float64 rounding.
func Defaults() Options { return Options{Step: 1e-6, Atol: 1e-7, Rtol: 1e-5, MaxProbes: 64, Seed: 1} }

// Check differentiates the scalar float64 cost of graph g with respect to wrt (input nodes holding *tensor.Dense
// values), runs the graph, and compares every probed element of each analytic gradient with a central difference.
// It returns nil when all agree, or an error naming the first node and element that does not.
func Check(g *G.ExprGraph, cost *G.Node, wrt []*G.Node, opt Options) error {
	if opt.MaxProbes == 0 {
		opt.MaxProbes = 64
	}
	grads, err := G.Grad(cost, wrt...)
	if err != nil {
		return fmt.Errorf("grad: %w", err)
	}
	var costVal G.Value
	G.Read(cost, &costVal)
	gradVals := make([]G.Value, len(grads))
	for i, gn := range grads {
		G.Read(gn, &gradVals[i])
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	run := func() (float64, error) {
		vm.Reset()
		if err := vm.RunAll(); err != nil {
			return 0, err
		}
		return scalar(costVal)
	}
	if _, err := run(); err != nil {
		return fmt.Errorf("forward/backward: %w", err)
	}
	analytic := make([][]float64, len(wrt))
	for i, gv := range gradVals {
		d, ok := gv.(*tensor.Dense)
		if !ok {
			return fmt.Errorf("gradient of %s is %T, not a dense tensor", wrt[i].Name(), gv)
		}
		analytic[i] = append([]float64(nil), d.Float64s()...)
	}
	rng := rand.New(rand.NewSource(opt.Seed))
	for i, n := range wrt {
		val, ok := n.Value().(*tensor.Dense)
		if !ok || val.Dtype() != tensor.Float64 {
			return fmt.Errorf("%s: gradient checks need a float64 tensor value", n.Name())
		}
		data := val.Float64s()
		idx := rng.Perm(len(data))
		if len(idx) > opt.MaxProbes {
			idx = idx[:opt.MaxProbes]
		}
		for _, j := range idx {
			orig := data[j]
			data[j] = orig + opt.Step
			plus, err := run()
			if err != nil {
				return err
			}
			data[j] = orig - opt.Step
			minus, err := run()
			if err != nil {
				return err
			}
			data[j] = orig
			numeric := (plus - minus) / (2 * opt.Step)
			a := analytic[i][j]
			if diff := math.Abs(a - numeric); diff > opt.Atol+opt.Rtol*math.Max(math.Abs(a), math.Abs(numeric)) ||
				math.IsNaN(a) {
				return fmt.Errorf("%s[%d]: analytic %.10g, numeric %.10g (diff %.3g)", n.Name(), j, a, numeric, diff)
			}
		}
	}
	return nil
}

func scalar(v G.Value) (float64, error) {
	switch x := v.(type) {
	case *G.F64:
		return float64(*x), nil
	case *tensor.Dense:
		if x.Shape().TotalSize() == 1 {
			return x.Float64s()[0], nil
		}
	}
	return 0, fmt.Errorf("cost is %T, not a float64 scalar", v)
}

// Weighted returns Σ y ⊙ r for a fixed random r (y is flattened first, so only a 1-D sum is involved): a scalar whose gradient w.r.t. y is r, so that every
// element of y's gradient is exercised with a different weight.
func Weighted(y *G.Node, seed int64) (*G.Node, error) {
	rng := rand.New(rand.NewSource(seed))
	n := y.Shape().TotalSize()
	r := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(n))
	for i := range r.Float64s() {
		r.Float64s()[i] = rng.NormFloat64()
	}
	rn := G.NewConstant(r, G.WithName(fmt.Sprintf("weights_%d", seed)))
	rn = y.Graph().AddNode(rn)
	flat, err := G.Reshape(y, tensor.Shape{n})
	if err != nil {
		return nil, err
	}
	p, err := G.HadamardProd(flat, rn)
	if err != nil {
		return nil, err
	}
	return G.Sum(p)
}

// RandomInput adds an input node of the given shape holding N(0, scale²) values drawn from seed.
func RandomInput(g *G.ExprGraph, name string, scale float64, seed int64, shape ...int) *G.Node {
	rng := rand.New(rand.NewSource(seed))
	t := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(shape...))
	for i := range t.Float64s() {
		t.Float64s()[i] = rng.NormFloat64() * scale
	}
	return G.NewTensor(g, tensor.Float64, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t))
}
