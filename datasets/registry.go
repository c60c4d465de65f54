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
	load    func(path string, opts LoadOptions) (train, test *Split, err error)
}

// registry holds the known datasets, in the order Names reports them.
var registry = []dataset{
	{name: "mnist", load: func(dir string, _ LoadOptions) (*Split, *Split, error) { return LoadMNIST(dir) }},
	{name: "fashion-mnist", aliases: []string{"fashion_mnist", "fmnist"},
		load: func(dir string, _ LoadOptions) (*Split, *Split, error) { return LoadFashionMNIST(dir) }},
	{name: "cifar10", aliases: []string{"cifar-10", "cifar_10"}, load: needPath("cifar10", LoadCIFAR10)},
	{name: "cifar100", aliases: []string{"cifar-100", "cifar_100", "cifar100-fine"},
		load: needPath("cifar100", func(p string, _ LoadOptions) (*Split, *Split, error) { return LoadCIFAR100(p, CIFAR100Fine) })},
	{name: "cifar100-coarse", aliases: []string{"cifar-100-coarse", "cifar100_coarse"},
		load: needPath("cifar100-coarse", func(p string, _ LoadOptions) (*Split, *Split, error) { return LoadCIFAR100(p, CIFAR100Coarse) })},
	{name: "tiny-imagenet", aliases: []string{"tinyimagenet", "tiny_imagenet"}, load: needPath("tiny-imagenet", LoadTinyImageNet)},
	{name: "imagefolder", aliases: []string{"image-folder", "image_folder"}, load: needPath("imagefolder", LoadImageFolder)},
}

// needPath wraps the loader of a dataset that has no default location so
// that an empty path is a clear error.
func needPath(name string, load func(string, LoadOptions) (*Split, *Split, error)) func(string, LoadOptions) (*Split, *Split, error) {
	return func(p string, opts LoadOptions) (*Split, *Split, error) {
		if p == "" {
			return nil, nil, fmt.Errorf("%s: no path given: pass the directory or .tar/.tar.gz archive holding the dataset", name)
		}
		return load(p, opts)
	}
}

// Names returns the canonical names of the known datasets, sorted:
// "cifar10", "cifar100", "cifar100-coarse", "fashion-mnist", "imagefolder",
// "mnist" and "tiny-imagenet".
func Names() []string {
	out := make([]string, len(registry))
	for i, d := range registry {
		out[i] = d.name
	}
	slices.Sort(out)
	return out
}

// Load loads the train and test splits of the dataset called name from dir
// ("" means the dataset's default location, which only MNIST and
// Fashion-MNIST have), decoding image datasets in full every time. It is
// LoadWithOptions(name, dir, LoadOptions{}).
func Load(name, dir string) (train, test *Split, err error) {
	return LoadWithOptions(name, dir, LoadOptions{})
}

// LoadWithOptions loads the train and test splits of the dataset called
// name from path. Names are matched without regard to case or surrounding
// spaces; an unknown name gives an error listing the valid ones:
//
//	mnist, fashion-mnist  IDX files in a directory (LoadMNIST, LoadFashionMNIST)
//	cifar10               binary batches or the JPEG image folders, directory or .tar/.tar.gz (LoadCIFAR10)
//	cifar100              binary train.bin/test.bin, fine labels (LoadCIFAR100)
//	cifar100-coarse       the same with the 20 coarse labels
//	tiny-imagenet         Tiny ImageNet layout, directory or .tar/.tar.gz (LoadTinyImageNet); test = val
//	imagefolder           train/ and test/ (or val/) class folders, directory or .tar/.tar.gz (LoadImageFolder)
//
// opts (a decoded cache, decoding workers) applies to the image datasets.
func LoadWithOptions(name, path string, opts LoadOptions) (train, test *Split, err error) {
	key := strings.ToLower(strings.TrimSpace(name))
	for _, d := range registry {
		if key == d.name || slices.Contains(d.aliases, key) {
			return d.load(path, opts)
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
