package train

import (
	"fmt"

	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Solver adapts an Optimizer to gorgonia.Solver, for plain Gorgonia training loops (a TapeMachine run with
// gorgonia.BindDualValues, then solver.Step(gorgonia.NodesToValueGrads(learnables))). Each ValueGrad must be a
// node named after a parameter of Store whose value is that parameter's tensor — layers.Builder binds its
// parameter nodes that way. The update is the Optimizer's, so it is the same as Trainer.Step's.
type Solver struct {
	Optimizer Optimizer
	Store     *layers.Store
}

var _ G.Solver = Solver{}

// Step updates every parameter of model from its gradient.
func (s Solver) Step(model []G.ValueGrad) error {
	for _, vg := range model {
		named, ok := vg.(interface{ Name() string })
		if !ok {
			return fmt.Errorf("solver: %T has no name to find its parameter by", vg)
		}
		p, ok := s.Store.Lookup(named.Name())
		if !ok {
			return fmt.Errorf("solver: no parameter %q in the store", named.Name())
		}
		if v, ok := vg.Value().(*tensor.Dense); !ok || v != p.Value {
			return fmt.Errorf("solver: node %q is not bound to its parameter's tensor", p.Name)
		}
		g, err := vg.Grad()
		if err != nil {
			return fmt.Errorf("solver: gradient of %s: %w", p.Name, err)
		}
		gd, ok := g.(*tensor.Dense)
		if !ok {
			return fmt.Errorf("solver: gradient of %s is %T, not a dense tensor", p.Name, g)
		}
		if err := s.Optimizer.Step(p, gd); err != nil {
			return err
		}
	}
	return nil
}
