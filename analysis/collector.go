package analysis

import "fmt"

// Collector holds one Accumulator per layer, in model order. Its set of
// layers is fixed at construction, so it is safe for concurrent use (each
// Accumulator locks itself).
type Collector struct {
	opt   Options
	accs  []*Accumulator
	index map[string]int // only looked up, never iterated
}

// NewCollector returns a collector for the layers, kept in the given (model)
// order. It fails on invalid options, an invalid spec or a duplicate name.
// Zero histogram options take their defaults; the reports record the
// effective options.
func NewCollector(specs []LayerSpec, opt Options) (*Collector, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	opt = opt.withDefaults()
	c := &Collector{opt: opt, accs: make([]*Accumulator, 0, len(specs)), index: make(map[string]int, len(specs))}
	for i, s := range specs {
		if j, dup := c.index[s.Name]; dup {
			return nil, fmt.Errorf("analysis: duplicate layer name %q (specs %d and %d)", s.Name, j, i)
		}
		a, err := NewAccumulator(s, opt)
		if err != nil {
			return nil, err
		}
		c.index[s.Name] = i
		c.accs = append(c.accs, a)
	}
	return c, nil
}

// Specs returns the layers' specs in model order.
func (c *Collector) Specs() []LayerSpec {
	out := make([]LayerSpec, len(c.accs))
	for i, a := range c.accs {
		out[i] = a.spec
	}
	return out
}

// Layer returns the accumulator of the named layer.
func (c *Collector) Layer(name string) (*Accumulator, bool) {
	i, ok := c.index[name]
	if !ok {
		return nil, false
	}
	return c.accs[i], true
}

// Add passes one batch to the named layer's Accumulator.Add. An unknown name
// is an error.
func (c *Collector) Add(name string, act, next []float32, n, hw int) error {
	a, ok := c.Layer(name)
	if !ok {
		return fmt.Errorf("analysis: unknown layer %q", name)
	}
	return a.Add(act, next, n, hw)
}

// AddFloat64 passes one batch to the named layer's Accumulator.AddFloat64.
// An unknown name is an error.
func (c *Collector) AddFloat64(name string, act, next []float64, n, hw int) error {
	a, ok := c.Layer(name)
	if !ok {
		return fmt.Errorf("analysis: unknown layer %q", name)
	}
	return a.AddFloat64(act, next, n, hw)
}

// Report returns the metrics of every layer, in model order, with the given
// run description and the collector's options (histogram defaults filled
// in).
func (c *Collector) Report(meta ReportMeta) *Report {
	r := &Report{ReportMeta: meta, Options: c.opt, Layers: make([]LayerMetrics, len(c.accs))}
	for i, a := range c.accs {
		r.Layers[i] = a.Metrics()
	}
	return r
}
