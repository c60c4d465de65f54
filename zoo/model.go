package zoo

import (
	"fmt"

	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Model is an architecture's parameters and BatchNorm statistics. It has no graph of its own: Build makes one per
// batch size and phase, all sharing the model's tensors.
type Model struct {
	Config Config
	Store  *layers.Store

	// placements is Config.UnitPlacements, resolved by the first Build of a model with placement rules.
	placements map[string]layers.Placement
}

// New validates cfg, estimates its memory from the architecture (refusing a model over DefaultLimits before
// allocating anything) and creates the model's parameters, initialised from cfg.Seed, in dtype (float32 to train,
// float64 for gradient checks).
func New(cfg Config, dtype tensor.Dtype) (*Model, error) {
	if _, err := checkFootprint(cfg, dtype, false); err != nil {
		return nil, err
	}
	return newModel(cfg, dtype)
}

// newModel allocates and initialises a model whose config has been checked.
func newModel(cfg Config, dtype tensor.Dtype) (*Model, error) {
	store, err := layers.NewStore(dtype, cfg.Seed)
	if err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, Store: store}
	// Building once creates every parameter in a fixed order; no activation memory is allocated until a machine
	// runs the graph.
	if _, err := m.Build(1, false, false); err != nil {
		return nil, err
	}
	return m, nil
}

// Graph is one buildable forward pass of a model.
type Graph struct {
	*layers.Builder
	Model  *Model
	Batch  int
	Input  *G.Node // (Batch, C, H, W)
	Logits *G.Node // (Batch, Classes)
}

// Build makes a graph for batches of the given size. training sets its phase (BatchNorm batch statistics and
// dropout); taps records every unit's intermediate values in g.Taps after each forward pass.
func (m *Model) Build(batch int, training, taps bool) (*Graph, error) {
	return m.BuildWith(batch, BuildOptions{Training: training, Taps: taps})
}

// BuildOptions say what graph Model.BuildWith makes.
type BuildOptions struct {
	Training bool // BatchNorm on batch statistics, dropout on
	Taps     bool // record every unit's intermediate values in g.Taps after each forward pass
	// Fuse builds an evaluation graph without taps with each unit — convolution, BatchNorm, activation — as one
	// fused oneDNN op, the way PyTorch's frozen TorchScript models run (layers.Builder.Fuse): float32 with -tags
	// dnnl only, and otherwise ignored. Its logits differ from the unfused graph's by float32 rounding.
	Fuse bool
}

// BuildWith makes a graph for batches of the given size, as o says.
func (m *Model) BuildWith(batch int, o BuildOptions) (*Graph, error) {
	training, taps := o.Training, o.Taps
	if batch < 1 {
		return nil, fmt.Errorf("model %s: batch size must be positive, got %d", m.Config.Arch, batch)
	}
	if len(m.Config.PlacementRules) > 0 && m.placements == nil {
		p, err := m.Config.UnitPlacements()
		if err != nil {
			return nil, err
		}
		m.placements = p
	}
	b := layers.NewBuilder(m.Store, training)
	b.Placements = m.placements
	b.Fuse = o.Fuse
	if taps {
		b.Taps = layers.NewTaps()
	}
	c := m.Config.InputShape
	x := b.Input("input", batch, c[0], c[1], c[2])
	logits, err := registry[m.Config.Arch](b, x, m.Config)
	if err != nil {
		return nil, fmt.Errorf("model %s on input %v: %w", m.Config.Arch, c, err)
	}
	if s := logits.Shape(); len(s) != 2 || s[0] != batch || s[1] != m.Config.Classes {
		return nil, fmt.Errorf("model %s: logits have shape %v, want (%d, %d)", m.Config.Arch, s, batch, m.Config.Classes)
	}
	if err := b.Finish(); err != nil {
		return nil, fmt.Errorf("model %s: %w", m.Config.Arch, err)
	}
	return &Graph{Builder: b, Model: m, Batch: batch, Input: x, Logits: logits}, nil
}

// ParamCount is the number of learnable scalars (as PyTorch counts them: BN γ and β included, running statistics
// not).
func (m *Model) ParamCount() int { return m.Store.Count() }
