package zoo

import (
	"fmt"

	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Footprint is what a model needs, measured from its architecture without allocating it: the graph is built over a
// shape-only parameter store (layers.NewShapeStore), so even a config asking for terabytes costs only its graph.
type Footprint struct {
	Config Config
	Dtype  tensor.Dtype
	// Params is the number of learnable scalars; ParamBytes adds the BatchNorm running statistics (in the dtype)
	// and their int64 batch counts.
	Params     int64
	ParamBytes int64
	// ActivationBytes is the sum of every non-parameter node's output for one sample (batch size 1), forward only.
	ActivationBytes int64
	// Units are the model's tapped units, in order (Estimate lists them; New and Load do not need them).
	Units []layers.UnitInfo
	// Shapes maps every tensor a checkpoint holds (parameters, "<bn>.running_mean", "<bn>.running_var" and the
	// scalar "<bn>.num_batches_tracked") to its shape: PyTorch's state-dict names and shapes.
	Shapes map[string][]int
}

// Estimate validates cfg against DefaultLimits' field bounds and measures its footprint in dtype. It does not
// check the memory limits: Footprint.Check does.
func Estimate(cfg Config, dtype tensor.Dtype) (*Footprint, error) { return estimate(cfg, dtype, true) }

// estimate is Estimate; without units it builds no taps (a quarter faster: New and Load need no units).
func estimate(cfg Config, dtype tensor.Dtype, units bool) (*Footprint, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	store, err := layers.NewShapeStore(dtype)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, Store: store}
	g, err := m.Build(1, false, units)
	if err != nil {
		return nil, err
	}
	size := int64(dtype.Size())
	f := &Footprint{Config: cfg, Dtype: dtype, Shapes: map[string][]int{}}
	if units {
		f.Units = g.Taps.Units()
	}
	for _, p := range store.Params() {
		n := int64(p.Shape().TotalSize())
		f.Params += n
		f.ParamBytes += n * size
		f.Shapes[p.Name] = p.Shape().Clone()
	}
	for _, name := range store.BNNames() {
		st, _ := store.LookupBN(name)
		c := len(st.Mean)
		f.ParamBytes += 2*int64(c)*size + 8
		f.Shapes[name+".running_mean"] = []int{c}
		f.Shapes[name+".running_var"] = []int{c}
		f.Shapes[name+".num_batches_tracked"] = []int{}
	}
	params, _ := g.Learnables()
	isParam := make(map[*G.Node]bool, len(params))
	for _, n := range params {
		isParam[n] = true
	}
	for _, n := range g.Graph.AllNodes() {
		if !isParam[n] {
			f.ActivationBytes += int64(n.Shape().TotalSize()) * size
		}
	}
	return f, nil
}

// checkFootprint estimates cfg in dtype and checks it against DefaultLimits; units says whether to list them.
func checkFootprint(cfg Config, dtype tensor.Dtype, units bool) (*Footprint, error) {
	f, err := estimate(cfg, dtype, units)
	if err != nil {
		return nil, err
	}
	if err := f.Check(DefaultLimits); err != nil {
		return nil, err
	}
	return f, nil
}

// CheckTensors compares a file's tensors (name → shape) with the footprint's: every tensor the model has must be
// there with its shape, and nothing else. Checking before the model is built means a file whose config asks for
// a model its tensors do not match fails without allocating that model.
func (f *Footprint) CheckTensors(shapes map[string][]int) error {
	for _, name := range sortedNames(shapes) {
		shape := shapes[name]
		want, ok := f.Shapes[name]
		if !ok {
			return fmt.Errorf("key %q does not belong to %s", name, f.Config)
		}
		if !tensor.Shape(shape).Eq(tensor.Shape(want)) || len(shape) != len(want) {
			return fmt.Errorf("key %q has shape %v, the model needs %v", name, shape, want)
		}
	}
	for _, name := range sortedNames(f.Shapes) {
		if _, ok := shapes[name]; !ok {
			return fmt.Errorf("key %q is missing", name)
		}
	}
	return nil
}

func sortedNames(m map[string][]int) []string {
	keys := make(map[string]bool, len(m))
	for k := range m {
		keys[k] = true
	}
	return sortedKeys(keys)
}
