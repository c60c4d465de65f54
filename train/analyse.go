package train

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/internal/provenance"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
	"gorgonia.org/tensor"
)

// Analyse evaluates the model on split with every unit tapped and streams the activation outputs and what the next
// layer receives into the analysis accumulators. It returns the per-layer report (meta is filled in with the
// model's config and the measured accuracy) and the evaluation result. A split that does not fit the model is an
// *InputError, returned before anything runs.
func (t *Trainer) Analyse(ctx context.Context, split *datasets.Split, opt analysis.Options, dataset string) (*analysis.Report, EvalResult, error) {
	if err := checkSplit(t.Model, split, true); err != nil {
		return nil, EvalResult{}, err
	}
	return analyse(ctx, t.Model, split, opt, dataset, t.Evaluate)
}

// evaluateFunc is Trainer.Evaluate or Predictor.Evaluate.
type evaluateFunc func(ctx context.Context, split *datasets.Split, visit TapVisitor) (EvalResult, error)

// analyse runs evaluate over split with every unit of m tapped and returns the report (see Trainer.Analyse).
func analyse(ctx context.Context, m *zoo.Model, split *datasets.Split, opt analysis.Options, dataset string, evaluate evaluateFunc) (*analysis.Report, EvalResult, error) {
	probe, err := m.Build(1, false, true)
	if err != nil {
		return nil, EvalResult{}, err
	}
	var specs []analysis.LayerSpec
	for _, u := range probe.Taps.Units() {
		lo, hi := u.Activation.Bounds()
		specs = append(specs, analysis.LayerSpec{Name: u.Name, Activation: u.Activation.String(),
			Placement: u.Placement.String(), Channels: u.Channels, Lower: lo, Upper: hi})
	}
	col, err := analysis.NewCollector(specs, opt)
	if err != nil {
		return nil, EvalResult{}, err
	}
	// Each unit has its own accumulator, so the units of a batch are accumulated concurrently; every accumulator
	// still sees the batches in order, so the report does not depend on scheduling.
	res, err := evaluate(ctx, split, func(taps *layers.Taps, b *datasets.Batch) error {
		units := taps.Units()
		errs := make([]error, len(units))
		var wg sync.WaitGroup
		sem := make(chan struct{}, runtime.GOMAXPROCS(0))
		for i, u := range units {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				errs[i] = accumulateUnit(col, taps, u, b.N)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	if err != nil {
		return nil, res, err
	}
	c := m.Config
	rep := col.Report(analysis.ReportMeta{Model: c.Arch, Dataset: dataset, Activation: c.Activation.String(),
		Placement: c.PlacementSpec(), Seed: c.Seed, TestAccuracy: res.Accuracy, Samples: res.Samples,
		Provenance: reportProvenance()})
	return rep, res, nil
}

// accumulateUnit adds one unit's activation output and next-layer input of an n-sample batch to its accumulator.
func accumulateUnit(col *analysis.Collector, taps *layers.Taps, u layers.UnitInfo, n int) error {
	act, err := taps.Value(u.Name, layers.ActivationOutput)
	if err != nil {
		return err
	}
	next, err := taps.Next(u.Name)
	if err != nil {
		return err
	}
	hw := act.Shape().TotalSize() / (n * u.Channels)
	switch act.Dtype() {
	case tensor.Float64:
		err = col.AddFloat64(u.Name, act.Float64s(), next.Float64s(), n, hw)
	default:
		err = col.Add(u.Name, act.Float32s(), next.Float32s(), n, hw)
	}
	if err != nil {
		return fmt.Errorf("analysis of %s: %w", u.Name, err)
	}
	return nil
}

// processProvenance is collected once per process: it does not change while the process runs.
var processProvenance = sync.OnceValue(provenance.Collect)

// reportProvenance is the provenance every report of this process carries.
func reportProvenance() *provenance.Info {
	p := processProvenance()
	return &p
}
