package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Builder adds layers to one Gorgonia graph, taking their parameters from a shared Store. A Builder is for one
// graph (one batch size, one phase); build as many as needed over the same Store.
type Builder struct {
	Graph *G.ExprGraph
	Store *Store
	Phase *Phase
	// Taps, when not nil, receives each unit's intermediate values after every forward pass.
	Taps *Taps
	// Placements, when not nil, overrides the placement of the units it names: ConvUnit and ResidualConvUnit build
	// a unit named there in the mapped placement (conv bias included) whatever ConvUnit.Placement says. It is how
	// a model mixes placements without its architecture knowing (zoo.Config.PlacementRules).
	Placements map[string]Placement
	// Fuse builds each unit of an evaluation graph without taps as one fused op (fused_eval.go) where the kernels
	// can: float32 with -tags dnnl. Call Finish when the graph is built.
	Fuse bool

	fused      []*G.Node // the fused units' nodes, for Finish
	nodes      []*G.Node
	nodeParams []*Param
	bound      map[string]*G.Node
}

// NewBuilder returns a builder for a new graph over store. training sets the graph's initial phase.
func NewBuilder(store *Store, training bool) *Builder {
	return &Builder{Graph: G.NewGraph(), Store: store, Phase: NewPhase(training), bound: map[string]*G.Node{}}
}

// ParamNode returns the graph node bound to the parameter called name, creating the parameter if needed. The
// node's value is the parameter's tensor itself (no copy): updating the tensor updates every graph.
func (b *Builder) ParamNode(name string, kind ParamKind, shape []int, init Initializer) (*G.Node, error) {
	if n, ok := b.bound[name]; ok {
		if !n.Shape().Eq(tensor.Shape(shape)) {
			return nil, fmt.Errorf("parameter %q used with shapes %v and %v", name, n.Shape(), shape)
		}
		return n, nil
	}
	p, err := b.Store.Param(name, kind, shape, init)
	if err != nil {
		return nil, err
	}
	opts := []G.NodeConsOpt{G.WithShape(shape...), G.WithName(name)}
	if p.Value != nil { // nil in a shape-only store: the node has a shape and no value
		opts = append(opts, G.WithValue(p.Value))
	}
	n := G.NewTensor(b.Graph, b.Store.Dtype(), len(shape), opts...)
	b.bound[name] = n
	b.nodes = append(b.nodes, n)
	b.nodeParams = append(b.nodeParams, p)
	return n, nil
}

// Learnables returns this graph's parameter nodes and the parameters they are bound to, in creation order.
func (b *Builder) Learnables() ([]*G.Node, []*Param) {
	return append([]*G.Node(nil), b.nodes...), append([]*Param(nil), b.nodeParams...)
}

// Input adds an input placeholder of the given shape, named name.
func (b *Builder) Input(name string, shape ...int) *G.Node {
	return G.NewTensor(b.Graph, b.Store.Dtype(), len(shape), G.WithShape(shape...), G.WithName(name))
}

// Conv2d adds a square k×k convolution named name (its weight is name+".weight", [out, in, k, k], Kaiming normal
// fan-out) and, when bias is true, name+".bias" (zeros, as torchvision initialises conv biases).
func (b *Builder) Conv2d(x *G.Node, name string, out, k, stride, pad int, bias bool) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("conv %q: input must be (N, C, H, W), got %v", name, s)
	}
	if out < 1 || k < 1 || stride < 1 || pad < 0 {
		return nil, fmt.Errorf("conv %q: invalid out=%d kernel=%d stride=%d pad=%d", name, out, k, stride, pad)
	}
	if s[2]+2*pad < k || s[3]+2*pad < k {
		return nil, fmt.Errorf("conv %q: kernel %d does not fit input %v with padding %d", name, k, s, pad)
	}
	w, err := b.ParamNode(name+".weight", WeightParam, []int{out, s[1], k, k}, KaimingNormalFanOut)
	if err != nil {
		return nil, err
	}
	y, err := Conv2dOp(x, w, stride, pad)
	if err != nil {
		return nil, fmt.Errorf("conv %q: %w", name, err)
	}
	if !bias {
		return y, nil
	}
	bn, err := b.ParamNode(name+".bias", BiasParam, []int{out}, Constant(0))
	if err != nil {
		return nil, err
	}
	return AddChannelBias(y, bn)
}

// DepthwiseConv2d adds a k×k depthwise convolution named name (weight name+".weight", [C, 1, k, k], Kaiming normal
// fan-out as torchvision computes it for grouped convs) and, when bias is true, name+".bias" (zeros).
func (b *Builder) DepthwiseConv2d(x *G.Node, name string, k, stride, pad int, bias bool) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("depthwise conv %q: input must be (N, C, H, W), got %v", name, s)
	}
	if k < 1 || stride < 1 || pad < 0 || s[2]+2*pad < k || s[3]+2*pad < k {
		return nil, fmt.Errorf("depthwise conv %q: kernel %d, stride %d, padding %d do not fit input %v", name, k, stride, pad, s)
	}
	w, err := b.ParamNode(name+".weight", WeightParam, []int{s[1], 1, k, k}, KaimingNormalFanOut)
	if err != nil {
		return nil, err
	}
	y, err := DepthwiseConv2d(x, w, stride, pad)
	if err != nil {
		return nil, fmt.Errorf("depthwise conv %q: %w", name, err)
	}
	if !bias {
		return y, nil
	}
	bn, err := b.ParamNode(name+".bias", BiasParam, []int{s[1]}, Constant(0))
	if err != nil {
		return nil, err
	}
	return AddChannelBias(y, bn)
}

// Dense adds y = x·Wᵀ + b for an (N, in) input, with W [out, in] and b [out] named name+".weight" and name+".bias",
// both initialised as PyTorch's nn.Linear.
func (b *Builder) Dense(x *G.Node, name string, out int) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 2 {
		return nil, fmt.Errorf("dense %q: input must be (N, features), got %v", name, s)
	}
	w, err := b.ParamNode(name+".weight", WeightParam, []int{out, s[1]}, LinearDefault)
	if err != nil {
		return nil, err
	}
	bias, err := b.ParamNode(name+".bias", BiasParam, []int{out}, LinearBiasDefault(s[1]))
	if err != nil {
		return nil, err
	}
	wt, err := G.Transpose(w)
	if err != nil {
		return nil, fmt.Errorf("dense %q: %w", name, err)
	}
	y, err := G.Mul(x, wt)
	if err != nil {
		return nil, fmt.Errorf("dense %q: %w", name, err)
	}
	return AddChannelBias(y, bias)
}

// BatchNorm adds a BatchNorm named name (γ = name+".weight" = 1, β = name+".bias" = 0, running statistics in the
// store under name) over axis 1 of x.
func (b *Builder) BatchNorm(x *G.Node, name string) (*G.Node, error) {
	s := x.Shape()
	if len(s) < 2 {
		return nil, fmt.Errorf("batchnorm %q: input must be (N, C, ...), got %v", name, s)
	}
	c := s[1]
	gamma, err := b.ParamNode(name+".weight", BNGammaParam, []int{c}, Constant(1))
	if err != nil {
		return nil, err
	}
	beta, err := b.ParamNode(name+".bias", BNBetaParam, []int{c}, Constant(0))
	if err != nil {
		return nil, err
	}
	st, err := b.Store.BNStats(name, c)
	if err != nil {
		return nil, err
	}
	y, err := BatchNorm(x, gamma, beta, st, b.Phase)
	if err != nil {
		return nil, fmt.Errorf("batchnorm %q: %w", name, err)
	}
	return y, nil
}

// MaxPool2d adds a k×k max-pool with the given stride and no padding (bnzoo's MaxPool2dOp, which computes what
// Gorgonia's MaxPool2D does).
func (b *Builder) MaxPool2d(x *G.Node, k, stride int) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 4 || s[2] < k || s[3] < k {
		return nil, fmt.Errorf("max-pool %d×%d: input %v is too small (the model is too deep for this input size)", k, k, s)
	}
	if b.fusing() && stride >= 1 {
		return b.fusedMaxPool(x, k, stride)
	}
	return MaxPool2dOp(x, k, stride, 0)
}

// GlobalAvgPool reduces (N, C, H, W) to (N, C) by averaging each channel. Built as Mean(Reshape(x, N, C, H·W), 2)
// because Gorgonia's GlobalAveragePool2D has no gradient.
func (b *Builder) GlobalAvgPool(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if len(s) != 4 {
		return nil, fmt.Errorf("global average pool: input must be (N, C, H, W), got %v", s)
	}
	r, err := G.Reshape(x, tensor.Shape{s[0], s[1], s[2] * s[3]})
	if err != nil {
		return nil, err
	}
	return G.Mean(r, 2)
}

// Flatten reshapes (N, ...) to (N, features).
func (b *Builder) Flatten(x *G.Node) (*G.Node, error) {
	s := x.Shape()
	return G.Reshape(x, tensor.Shape{s[0], s.TotalSize() / s[0]})
}
