package datasets

import (
	"fmt"
	"slices"
	"strings"
)

// dataset is a registered dataset: its canonical name, accepted aliases and
// loader.
type dataset struct {
	name    string
	aliases []string
	load    func(dir string) (train, test *Split, err error)
}

// registry holds the known datasets, in the order Names reports them.
var registry = []dataset{
	{name: "mnist", load: LoadMNIST},
	{name: "fashion-mnist", aliases: []string{"fashion_mnist", "fmnist"}, load: LoadFashionMNIST},
}

// Names returns the canonical names of the known datasets, sorted:
// "fashion-mnist" and "mnist".
func Names() []string {
	out := make([]string, len(registry))
	for i, d := range registry {
		out[i] = d.name
	}
	slices.Sort(out)
	return out
}

// Load loads the train and test splits of the dataset called name from dir
// ("" means the dataset's default location). Names are matched without
// regard to case or surrounding spaces; "mnist" and "fashion-mnist" (also
// "fashion_mnist" and "fmnist") are known. An unknown name gives an error
// listing the valid ones.
func Load(name, dir string) (train, test *Split, err error) {
	key := strings.ToLower(strings.TrimSpace(name))
	for _, d := range registry {
		if key == d.name || slices.Contains(d.aliases, key) {
			return d.load(dir)
		}
	}
	var valid []string
	for _, d := range registry {
		v := d.name
		if len(d.aliases) > 0 {
			v += " (or " + strings.Join(d.aliases, ", ") + ")"
		}
		valid = append(valid, v)
	}
	slices.Sort(valid)
	return nil, nil, fmt.Errorf("datasets: unknown dataset %q; valid names: %s", name, strings.Join(valid, ", "))
}
