package zoo

import (
	"fmt"
	"io"
	"path"
	"text/tabwriter"

	"github.com/bnzoo/bnzoo/layers"
	"gorgonia.org/tensor"
)

// Description summarises a model without running it: its units (the tapped weight layers, in order) with their
// output shapes, and the parameter count.
type Description struct {
	Config     Config
	Units      []layers.UnitInfo
	Params     int
	StateNames []string // every tensor a checkpoint holds
}

// Describe builds cfg's graph symbolically over a shape-only store (neither parameters nor activations are
// allocated) and describes it. A model over DefaultLimits is refused, as New would.
func Describe(cfg Config) (*Description, error) {
	f, err := checkFootprint(cfg, tensor.Float32, true)
	if err != nil {
		return nil, err
	}
	return &Description{Config: cfg, Units: f.Units, Params: int(f.Params), StateNames: sortedNames(f.Shapes)}, nil
}

// Write prints the description as a table: unit, output shape, activation, placement.
func (d *Description) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%s on %v, %d classes: %d parameters, %d units\n", d.Config, d.Config.InputShape, d.Config.Classes,
		d.Params, len(d.Units))
	fmt.Fprintln(tw, "unit\toutput\tactivation\tplacement")
	for _, u := range d.Units {
		fmt.Fprintf(tw, "%s\t%v\t%s\t%s\n", u.Name, u.Shape, u.Activation, u.Placement)
	}
	return tw.Flush()
}

// Match lists the registered names matching a shell pattern such as "resnet*" (path.Match syntax), sorted.
func Match(pattern string) ([]string, error) {
	var out []string
	for _, n := range Names() {
		ok, err := path.Match(pattern, n)
		if err != nil {
			return nil, fmt.Errorf("model pattern %q: %w", pattern, err)
		}
		if ok {
			out = append(out, n)
		}
	}
	return out, nil
}
