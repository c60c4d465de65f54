package zoo

import (
	"fmt"
	"sort"

	"github.com/bnzoo/bnzoo/layers"
	G "gorgonia.org/gorgonia"
)

// BuildFunc adds an architecture's layers to b, from the input x (N, C, H, W) to the logits (N, classes).
type BuildFunc func(b *layers.Builder, x *G.Node, cfg Config) (*G.Node, error)

var registry = map[string]BuildFunc{}

// widthArchs are the architectures that take Config.Width.
var widthArchs = map[string]bool{}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Register adds an architecture under name; registering a name twice is a programming error and panics (it only
// happens from init functions).
func Register(name string, build BuildFunc) {
	if _, dup := registry[name]; dup {
		panic(fmt.Sprintf("zoo: model %q registered twice", name))
	}
	registry[name] = build
}

// Names lists the registered architectures, sorted.
func Names() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
