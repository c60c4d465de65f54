package datasets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DefaultFashionMNISTDir is where the Debian package dataset-fashion-mnist
// installs the Fashion-MNIST IDX files.
const DefaultFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// MNISTClasses are the MNIST class names: the digits "0" to "9".
var MNISTClasses = []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// FashionMNISTClasses are the Fashion-MNIST class names, index = label.
var FashionMNISTClasses = []string{
	"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
}

// Per-channel normalisation constants (of x/255 over the training set).
const (
	MNISTMean        = 0.1307 // MNIST training pixel mean of x/255
	MNISTStd         = 0.3081 // MNIST training pixel standard deviation of x/255
	FashionMNISTMean = 0.2860 // Fashion-MNIST training pixel mean of x/255
	FashionMNISTStd  = 0.3530 // Fashion-MNIST training pixel standard deviation of x/255
)

// idxNames lists the accepted file names of one split's images and labels,
// in order of preference: the official gzip names, the same without .gz,
// the dotted names of some unpacked archives ("train-images.idx3-ubyte"),
// and for the test split "test-" variants of "t10k-".
type idxNames struct {
	images, labels []string
}

// idxSplitNames returns the accepted file names for split "train" or "test".
func idxSplitNames(split string) idxNames {
	prefixes := []string{split}
	if split == "test" {
		prefixes = []string{"t10k", "test"}
	}
	var n idxNames
	for _, p := range prefixes {
		n.images = append(n.images, p+"-images-idx3-ubyte.gz", p+"-images-idx3-ubyte", p+"-images.idx3-ubyte")
		n.labels = append(n.labels, p+"-labels-idx1-ubyte.gz", p+"-labels-idx1-ubyte", p+"-labels.idx1-ubyte")
	}
	return n
}

// idxDataset describes a single-channel dataset stored as IDX files.
type idxDataset struct {
	name      string   // "mnist"
	classes   []string // class names
	mean, std float64  // normalisation constants
	howToGet  string   // advice appended to "directory not found" errors
}

var (
	mnistSpec = idxDataset{
		name: "mnist", classes: MNISTClasses, mean: MNISTMean, std: MNISTStd,
		howToGet: fmt.Sprintf("download it with `go mod download %s@%s` or pass -data-dir", GoMNISTModule, GoMNISTVersion),
	}
	fashionMNISTSpec = idxDataset{
		name: "fashion-mnist", classes: FashionMNISTClasses, mean: FashionMNISTMean, std: FashionMNISTStd,
		howToGet: "install it with `apt-get install dataset-fashion-mnist` or pass -data-dir",
	}
)

// LoadMNIST loads the MNIST train (60000) and test (10000) splits from the
// IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
// t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz in dir (the same
// names without .gz are accepted when the .gz files are absent). If dir is
// "", the data/ folder of the GoMNIST module in the Go module cache is used
// (see DefaultMNISTDir). Splits are named "mnist/train" and "mnist/test",
// with C=1, classes "0".."9" and Mean/Std 0.1307/0.3081.
func LoadMNIST(dir string) (train, test *Split, err error) {
	if dir == "" {
		if dir, err = DefaultMNISTDir(); err != nil {
			return nil, nil, fmt.Errorf("mnist: %w", err)
		}
	}
	return loadIDXDataset(mnistSpec, dir)
}

// LoadFashionMNIST loads the Fashion-MNIST train (60000) and test (10000)
// splits from dir, which holds the same IDX file names as MNIST (the test
// files may also be named test-* instead of t10k-*). If dir is "",
// DefaultFashionMNISTDir is used. Splits are named "fashion-mnist/train" and
// "fashion-mnist/test", with C=1, FashionMNISTClasses and Mean/Std
// 0.2860/0.3530.
func LoadFashionMNIST(dir string) (train, test *Split, err error) {
	if dir == "" {
		dir = DefaultFashionMNISTDir
	}
	return loadIDXDataset(fashionMNISTSpec, dir)
}

// loadIDXDataset loads both splits of ds from dir and checks they agree on
// the image size.
func loadIDXDataset(ds idxDataset, dir string) (train, test *Split, err error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: data directory %s is not available (%s): %w", ds.name, dir, ds.howToGet, err)
	}
	if !fi.IsDir() {
		return nil, nil, fmt.Errorf("%s: data directory %s is not a directory (%s)", ds.name, dir, ds.howToGet)
	}
	if train, err = loadIDXSplit(ds, dir, "train"); err != nil {
		return nil, nil, err
	}
	if test, err = loadIDXSplit(ds, dir, "test"); err != nil {
		return nil, nil, err
	}
	if train.H != test.H || train.W != test.W {
		return nil, nil, fmt.Errorf("%s: %s: train images are %d×%d but test images are %d×%d", ds.name, dir, train.H, train.W, test.H, test.W)
	}
	return train, test, nil
}

// loadIDXSplit loads split "train" or "test" of ds from dir.
func loadIDXSplit(ds idxDataset, dir, split string) (*Split, error) {
	names := idxSplitNames(split)
	imgPath, err := findIDXFile(dir, names.images)
	if err != nil {
		return nil, fmt.Errorf("%s: %s images: %w", ds.name, split, err)
	}
	lblPath, err := findIDXFile(dir, names.labels)
	if err != nil {
		return nil, fmt.Errorf("%s: %s labels: %w", ds.name, split, err)
	}
	pix, n, rows, cols, err := ReadIDXImages(imgPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ds.name, err)
	}
	raw, err := ReadIDXLabels(lblPath)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ds.name, err)
	}
	if len(raw) != n {
		return nil, fmt.Errorf("%s: %s holds %d images but %s holds %d labels", ds.name, imgPath, n, lblPath, len(raw))
	}
	labels := make([]int, n)
	for i, l := range raw {
		if int(l) >= len(ds.classes) {
			return nil, fmt.Errorf("%s: %s: label %d of sample %d out of range [0, %d)", ds.name, lblPath, l, i, len(ds.classes))
		}
		labels[i] = int(l)
	}
	return &Split{
		Name:    ds.name + "/" + split,
		Images:  pix,
		Labels:  labels,
		N:       n,
		C:       1,
		H:       rows,
		W:       cols,
		Classes: append([]string(nil), ds.classes...),
		Mean:    []float64{ds.mean},
		Std:     []float64{ds.std},
	}, nil
}

// findIDXFile returns the path of the first of names present in dir. A name
// whose existence cannot be determined (e.g. permission denied) is returned
// as is so that reading it reports the real problem.
func findIDXFile(dir string, names []string) (string, error) {
	for _, n := range names {
		p := filepath.Join(dir, n)
		_, err := os.Stat(p)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return p, nil
		}
	}
	return "", fmt.Errorf("none of %s found in %s", strings.Join(names, ", "), dir)
}
