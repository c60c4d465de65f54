package layers

import (
	"fmt"
	"math/rand"
	"sort"

	"gorgonia.org/tensor"
)

// ParamKind tells an optimiser what a parameter is (weight decay is often skipped for BN parameters and biases).
type ParamKind int

const (
	WeightParam  ParamKind = iota // a conv or linear weight
	BiasParam                     // a conv or linear bias
	BNGammaParam                  // a BatchNorm scale γ
	BNBetaParam                   // a BatchNorm shift β
)

// Param is one learnable tensor, named as in a PyTorch state dict ("features.0.conv.weight").
type Param struct {
	Name  string
	Kind  ParamKind
	Value *tensor.Dense // nil in a shape-only store
	shape tensor.Shape
}

// Shape is the parameter's shape (also known in a shape-only store, where Value is nil).
func (p *Param) Shape() tensor.Shape {
	if p.Value != nil {
		return p.Value.Shape()
	}
	return p.shape
}

// Initializer fills a freshly created parameter from rng.
type Initializer func(rng *rand.Rand, p *Param) error

// Store owns a model's parameters and BatchNorm statistics, independent of any graph: graphs for training,
// evaluation and other batch sizes all bind the same tensors, so an optimiser step or a loaded checkpoint is seen
// by every graph. Parameters are created (and initialised from the store's seeded RNG) in the order graphs first
// ask for them, so the same seed and architecture give bit-identical weights.
type Store struct {
	dtype   tensor.Dtype
	rng     *rand.Rand
	seed    int64
	params  []*Param
	byName  map[string]*Param
	bnNames []string
	bn      map[string]*BNStats
	drops   int
	// shapeOnly stores record parameter shapes without allocating or initialising them (see NewShapeStore).
	shapeOnly bool
}

// NewStore returns an empty store for float32 or float64 parameters, initialised from seed.
func NewStore(dtype tensor.Dtype, seed int64) (*Store, error) {
	if dtype != tensor.Float32 && dtype != tensor.Float64 {
		return nil, fmt.Errorf("parameter store: dtype %v is not float32 or float64", dtype)
	}
	return &Store{dtype: dtype, rng: rand.New(rand.NewSource(seed)), seed: seed,
		byName: map[string]*Param{}, bn: map[string]*BNStats{}}, nil
}

// NewShapeStore returns a store whose parameters have a name, kind and shape but no tensor (Value is nil): building
// a graph over it costs no parameter memory, so a model's size can be measured before it is allocated. Its graphs
// cannot run.
func NewShapeStore(dtype tensor.Dtype) (*Store, error) {
	s, err := NewStore(dtype, 0)
	if err != nil {
		return nil, err
	}
	s.shapeOnly = true
	return s, nil
}

// Dtype is the element type of every parameter.
func (s *Store) Dtype() tensor.Dtype { return s.dtype }

// Seed is the seed the store was created with.
func (s *Store) Seed() int64 { return s.seed }

// Param returns the parameter called name, creating and initialising it on first use. Asking again with another
// shape or kind is an error naming the parameter.
func (s *Store) Param(name string, kind ParamKind, shape []int, init Initializer) (*Param, error) {
	if p, ok := s.byName[name]; ok {
		if !p.Shape().Eq(tensor.Shape(shape)) || p.Kind != kind {
			return nil, fmt.Errorf("parameter %q: requested shape %v, but it exists with shape %v", name, shape, p.Shape())
		}
		return p, nil
	}
	p := &Param{Name: name, Kind: kind, shape: tensor.Shape(shape).Clone()}
	if !s.shapeOnly {
		p.Value = tensor.New(tensor.Of(s.dtype), tensor.WithShape(shape...))
	}
	if init != nil && !s.shapeOnly {
		if err := init(s.rng, p); err != nil {
			return nil, fmt.Errorf("parameter %q: %w", name, err)
		}
	}
	s.params = append(s.params, p)
	s.byName[name] = p
	return p, nil
}

// BNStats returns the running statistics of the BatchNorm called name (e.g. "features.0.bn"), creating them for
// c channels on first use.
func (s *Store) BNStats(name string, c int) (*BNStats, error) {
	if st, ok := s.bn[name]; ok {
		if len(st.Mean) != c {
			return nil, fmt.Errorf("batchnorm %q: requested %d channels, but it has %d", name, c, len(st.Mean))
		}
		return st, nil
	}
	st := NewBNStats(c)
	s.bn[name] = st
	s.bnNames = append(s.bnNames, name)
	return st, nil
}

// nextDropoutSeed gives each dropout op of the store its own seed derived from the store's, in creation order.
func (s *Store) nextDropoutSeed() int64 {
	s.drops++
	return s.seed*1_000_003 + int64(s.drops)
}

// Params lists the learnable parameters in creation order.
func (s *Store) Params() []*Param { return append([]*Param(nil), s.params...) }

// Lookup returns the parameter called name, if it exists.
func (s *Store) Lookup(name string) (*Param, bool) {
	p, ok := s.byName[name]
	return p, ok
}

// BNNames lists the BatchNorms in creation order.
func (s *Store) BNNames() []string { return append([]string(nil), s.bnNames...) }

// LookupBN returns the running statistics of the BatchNorm called name, if it exists.
func (s *Store) LookupBN(name string) (*BNStats, bool) {
	st, ok := s.bn[name]
	return st, ok
}

// Count is the number of learnable scalars (PyTorch's sum of p.numel() over parameters(); running statistics are
// buffers and not counted).
func (s *Store) Count() int {
	n := 0
	for _, p := range s.params {
		n += p.Shape().TotalSize()
	}
	return n
}

// StateNames lists every tensor a checkpoint holds, as PyTorch's state_dict names them: parameters and, per
// BatchNorm, "<bn>.running_mean", "<bn>.running_var" and "<bn>.num_batches_tracked" (an int64 scalar), sorted by
// name.
func (s *Store) StateNames() []string {
	var names []string
	for _, p := range s.params {
		names = append(names, p.Name)
	}
	for _, b := range s.bnNames {
		names = append(names, b+".running_mean", b+".running_var", b+".num_batches_tracked")
	}
	sort.Strings(names)
	return names
}
