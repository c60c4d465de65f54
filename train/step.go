package train

import (
	"fmt"
	"github.com/bnzoo/bnzoo/internal/machine"
	"math"

	"github.com/bnzoo/bnzoo/datasets"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// pass is a compiled graph for one batch size and phase: the model's forward pass, the loss and, for training, the
// gradients of every parameter. Values are read with gorgonia.Read (a plain node.Value() can show another node's
// buffer after the run) into targets allocated apart from the pass: a Read node pointing into the pass itself would
// close the cycle machine → graph → Read node → pass → machine, and Go never collects a cycle through an object
// with a finalizer (Gorgonia's tape machine has one), so every pass would leak all its tensors.
type pass struct {
	graph    *zoo.Graph
	input    *tensor.Dense
	targets  *tensor.Dense
	loss     *G.Value
	logits   *G.Value
	params   []*layers.Param
	grads    []G.Value
	vm       G.VM
	training bool
}

// useTapeMachine runs passes on Gorgonia's tape machine instead of bnzoo's (tests compare the two).
var useTapeMachine = false

// newPass builds and compiles a pass of the model for batches of n samples, to run on bnzoo's machine with its
// output buffers from pool.
func newPass(m *zoo.Model, n int, o zoo.BuildOptions, pool *machine.Pool) (*pass, error) {
	training := o.Training
	g, err := m.BuildWith(n, o)
	if err != nil {
		return nil, err
	}
	dt := m.Store.Dtype()
	c := m.Config.InputShape
	p := &pass{graph: g, training: training,
		input:   tensor.New(tensor.Of(dt), tensor.WithShape(n, c[0], c[1], c[2])),
		targets: tensor.New(tensor.Of(dt), tensor.WithShape(n, m.Config.Classes))}
	if err := G.Let(g.Input, p.input); err != nil {
		return nil, err
	}
	y := G.NewTensor(g.Graph, dt, 2, G.WithShape(n, m.Config.Classes), G.WithName("targets"), G.WithValue(p.targets))
	loss, err := layers.CrossEntropy(g.Logits, y)
	if err != nil {
		return nil, err
	}
	p.loss, p.logits = new(G.Value), new(G.Value)
	G.Read(loss, p.loss)
	G.Read(g.Logits, p.logits)
	if training {
		nodes, params := g.Learnables()
		grads, err := G.Grad(loss, nodes...)
		if err != nil {
			return nil, fmt.Errorf("gradients of %s: %w", m.Config.Arch, err)
		}
		p.params = params
		p.grads = make([]G.Value, len(grads))
		for i := range grads {
			G.Read(grads[i], &p.grads[i])
		}
	}
	if useTapeMachine {
		p.vm = G.NewTapeMachine(g.Graph)
		return p, nil
	}
	if p.vm, err = machine.New(g.Graph, pool); err != nil {
		return nil, err
	}
	return p, nil
}

// run loads a batch, runs the graph once and returns the summed loss and the number of correct predictions.
func (p *pass) run(b *datasets.Batch) (lossSum float64, correct int, err error) {
	if err := p.forward(b, true); err != nil {
		return 0, 0, err
	}
	loss, err := scalarOf(*p.loss)
	if err != nil {
		return 0, 0, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return 0, 0, &DivergenceError{Tensor: "loss", Index: -1, Value: loss}
	}
	logits, err := p.logitsTensor()
	if err != nil {
		return 0, 0, err
	}
	return loss * float64(b.N), countCorrect(logits, b.Y[:b.N], p.targets.Shape()[1]), nil
}

// forward loads a batch (its labels as one-hot targets when labelled, all-zero targets otherwise, which make the
// loss 0) and runs the graph once. The batch must have been checked against the model (checkBatch).
func (p *pass) forward(b *datasets.Batch, labelled bool) error {
	if b.N != p.graph.Batch {
		return fmt.Errorf("batch of %d samples for a graph of %d", b.N, p.graph.Batch)
	}
	if len(b.X) != p.input.Shape().TotalSize() {
		return fmt.Errorf("batch of %d values for a graph input of %v", len(b.X), p.input.Shape())
	}
	k := p.targets.Shape()[1]
	switch p.input.Dtype() {
	case tensor.Float64:
		in := p.input.Float64s()
		for i, v := range b.X {
			in[i] = float64(v)
		}
		if labelled {
			fillOneHot(p.targets.Float64s(), b.Y[:b.N], k)
		} else {
			clear(p.targets.Float64s())
		}
	default:
		copy(p.input.Float32s(), b.X)
		if labelled {
			fillOneHot(p.targets.Float32s(), b.Y[:b.N], k)
		} else {
			clear(p.targets.Float32s())
		}
	}
	p.vm.Reset()
	return p.vm.RunAll()
}

// logitsTensor returns the logits of the last run.
func (p *pass) logitsTensor() (*tensor.Dense, error) {
	logits, ok := (*p.logits).(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("logits are %T", *p.logits)
	}
	return logits, nil
}

func fillOneHot[T float32 | float64](dst []T, labels []int, k int) {
	clear(dst)
	for i, l := range labels {
		dst[i*k+l] = 1
	}
}

func scalarOf(v G.Value) (float64, error) {
	switch x := v.(type) {
	case *G.F32:
		return float64(*x), nil
	case *G.F64:
		return float64(*x), nil
	case *tensor.Dense:
		if x.Shape().TotalSize() == 1 {
			switch x.Dtype() {
			case tensor.Float32:
				return float64(x.Float32s()[0]), nil
			case tensor.Float64:
				return x.Float64s()[0], nil
			}
		}
	}
	return 0, fmt.Errorf("loss value is %T, not a scalar", v)
}

// countCorrect counts rows whose arg-max (first on ties) equals the label.
func countCorrect(logits *tensor.Dense, labels []int, k int) int {
	correct := 0
	row := make([]float64, k)
	for i, l := range labels {
		for j := range row {
			switch logits.Dtype() {
			case tensor.Float64:
				row[j] = logits.Float64s()[i*k+j]
			default:
				row[j] = float64(logits.Float32s()[i*k+j])
			}
		}
		best := 0
		for j := 1; j < k; j++ {
			if row[j] > row[best] {
				best = j
			}
		}
		if best == l {
			correct++
		}
	}
	return correct
}

// close releases the machine and drops the pass's references, so that its tensors are freed even while the pass
// itself is still referenced. (Before the Read targets were allocated apart, a closed pass leaked all its tensors:
// about 140 MB per vgg_mini run on 500 images, 15 GB over a 24-run study.)
func (p *pass) close() {
	if p.vm != nil {
		p.vm.Close()
	}
	p.vm, p.graph, p.loss, p.logits, p.grads = nil, nil, nil, nil, nil
}
