package datasets

import (
	"fmt"
	"slices"
)

// LoadOptions tunes the loading of image datasets (image folders, the JPEG
// copy of CIFAR-10, Tiny ImageNet). The zero value decodes every image on
// every load, with one goroutine per CPU, and writes nothing to disk.
// Formats that need no decoding (IDX, CIFAR binary) ignore it.
type LoadOptions struct {
	// CacheDir, when not empty, keeps a decoded copy of each image
	// dataset in this directory (created if needed) and loads from it
	// afterwards: one sequential read instead of decoding every image
	// again. A cache file ("<source name>.<layout>.<hash of the source's
	// absolute path>.bnzcache", so one directory serves many sources) holds
	// a checksummed header (layout, source path, size and modification
	// time, shapes, counts, classes) and the raw uint8 pixels and labels
	// with their CRC-32C. A cache that is stale (the source changed: size,
	// modification time or, for a directory, any file's) or corrupt is
	// rebuilt; caches are written atomically (temporary file, fsync,
	// rename). Failing to write the cache is an error.
	CacheDir string
	// CacheBesideSource, when CacheDir is empty, keeps the cache next to
	// the source instead: "<source>.<layout>.bnzcache" in the same
	// directory as a source archive or source directory (beside it, not
	// inside it). Loading then needs write access there.
	CacheBesideSource bool
	// Workers is the number of goroutines decoding images; 0 means
	// runtime.GOMAXPROCS(0). The result does not depend on it.
	Workers int
}

// Image layouts that can be decoded and cached. The layout, not the
// dataset name, keys a cache: "cifar10" and "imagefolder" over the same
// JPEG folders share one cache.
const (
	layoutImageFolder  = "imagefolder"
	layoutTinyImageNet = "tiny-imagenet"
)

// layoutDecoders maps each image layout to its decoder.
var layoutDecoders = map[string]func(src source, workers int) (*decodedSet, error){
	layoutImageFolder:  decodeImageFolder,
	layoutTinyImageNet: decodeTinyImageNet,
}

// decodedSet is a decoded image dataset: the two splits' pixels, labels and
// classes, before naming and normalisation (which are the dataset's, not
// the layout's, and so are not cached).
type decodedSet struct {
	layout      string
	roles       [2]string // the splits' folder roles: "train" and "test" or "val"
	train, test *Split    // Name, Mean and Std unset
}

// check verifies that the two splits are consistent with each other and
// with themselves, so that a decoder bug or a corrupt cache cannot produce
// an unusable Split.
func (d *decodedSet) check(src string) error {
	for _, s := range []*Split{d.train, d.test} {
		c := *s
		c.Name = src
		c.Mean, c.Std = make([]float64, s.C), make([]float64, s.C)
		for i := range c.Std {
			c.Std[i] = 1
		}
		if err := c.Validate(); err != nil {
			return err
		}
	}
	if d.train.C != d.test.C || d.train.H != d.test.H || d.train.W != d.test.W {
		return fmt.Errorf("%s: %s images are %d×%d×%d but %s images are %d×%d×%d", src,
			d.roles[0], d.train.C, d.train.H, d.train.W, d.roles[1], d.test.C, d.test.H, d.test.W)
	}
	if !slices.Equal(d.train.Classes, d.test.Classes) {
		return fmt.Errorf("%s: %s and %s have different class lists", src, d.roles[0], d.roles[1])
	}
	return nil
}

// finish names the splits "<name>/<role>" and sets their normalisation:
// mean/std when given, otherwise ChannelStats of the training split for
// both. Each split gets its own copy of the class list and constants.
func (d *decodedSet) finish(name string, mean, std []float64) (train, test *Split) {
	if mean == nil || std == nil {
		mean, std = ChannelStats(d.train)
	}
	for i, s := range []*Split{d.train, d.test} {
		s.Name = name + "/" + d.roles[i]
		s.Classes = slices.Clone(s.Classes)
		s.Mean, s.Std = slices.Clone(mean), slices.Clone(std)
	}
	return d.train, d.test
}

// loadDecoded returns the decoded dataset of the given layout at path:
// from the cache that opts asks for when it is present and valid,
// otherwise by decoding the source (and then writing the cache if opts asks
// for one).
func loadDecoded(path, layout string, opts LoadOptions) (*decodedSet, error) {
	d, _, err := loadDecodedStatus(path, layout, opts)
	return d, err
}

// loadDecodedStatus is loadDecoded that also reports what happened to
// the cache (for tests).
func loadDecodedStatus(path, layout string, opts LoadOptions) (*decodedSet, cacheStatus, error) {
	decode, ok := layoutDecoders[layout]
	if !ok {
		return nil, cacheNone, fmt.Errorf("unknown image layout %q", layout)
	}
	if opts.Workers < 0 {
		return nil, cacheNone, fmt.Errorf("LoadOptions.Workers = %d, want >= 0", opts.Workers)
	}
	cpath, err := cacheFile(path, layout, opts)
	if err != nil {
		return nil, cacheNone, err
	}
	var (
		fp     sourceFingerprint
		status = cacheNone
	)
	if cpath != "" {
		if fp, err = fingerprintSource(path); err != nil {
			return nil, cacheNone, err
		}
		var d *decodedSet
		d, status = readCache(cpath, layout, fp)
		if status == cacheHit {
			return d, status, nil
		}
	}
	src, err := openSource(path)
	if err != nil {
		return nil, status, err
	}
	d, err := decodeChecked(src, decode, opts.Workers)
	if err != nil {
		return nil, status, err
	}
	if cpath != "" {
		if err := writeCache(cpath, d, fp); err != nil {
			return nil, status, err
		}
	}
	return d, status, nil
}

// decodeChecked decodes src with decode and checks the result.
func decodeChecked(src source, decode func(source, int) (*decodedSet, error), workers int) (*decodedSet, error) {
	d, err := decode(src, workers)
	if err != nil {
		return nil, err
	}
	if err := d.check(src.name); err != nil {
		return nil, err
	}
	return d, nil
}
