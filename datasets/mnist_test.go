package datasets

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// synthFiles holds the four file names of a synthetic IDX dataset.
type synthFiles struct {
	trainImages, trainLabels, testImages, testLabels string
}

// officialNames are the names of the original MNIST/Fashion-MNIST files.
var officialNames = synthFiles{
	"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
	"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
}

// writeSynthDataset writes a dataset of 4×3 images to dir: nTrain training
// samples whose pixels are seq(.., 0) and labels i%10, and nTest test
// samples whose pixels are seq(.., 100) and labels 9-i%10. Files are gzipped
// when their name ends in ".gz".
func writeSynthDataset(t *testing.T, dir string, f synthFiles, nTrain, nTest int) {
	t.Helper()
	labels := func(n int, f func(int) int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(f(i))
		}
		return b
	}
	gz := func(name string) bool { return strings.HasSuffix(name, ".gz") }
	writeIDX(t, dir, f.trainImages, IDXImagesMagic, []uint32{uint32(nTrain), 4, 3}, seq(nTrain*12, 0), gz(f.trainImages))
	writeIDX(t, dir, f.trainLabels, IDXLabelsMagic, []uint32{uint32(nTrain)}, labels(nTrain, func(i int) int { return i % 10 }), gz(f.trainLabels))
	writeIDX(t, dir, f.testImages, IDXImagesMagic, []uint32{uint32(nTest), 4, 3}, seq(nTest*12, 100), gz(f.testImages))
	writeIDX(t, dir, f.testLabels, IDXLabelsMagic, []uint32{uint32(nTest)}, labels(nTest, func(i int) int { return 9 - i%10 }), gz(f.testLabels))
}

func TestLoadSynthetic(t *testing.T) {
	tests := []struct {
		name      string
		files     synthFiles
		load      func(string) (*Split, *Split, error)
		prefix    string
		mean, std float64
		class9    string
	}{
		{name: "mnist gz", files: officialNames, load: LoadMNIST, prefix: "mnist", mean: 0.1307, std: 0.3081, class9: "9"},
		{name: "mnist raw", files: synthFiles{"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"},
			load: LoadMNIST, prefix: "mnist", mean: 0.1307, std: 0.3081, class9: "9"},
		{name: "mnist dotted raw", files: synthFiles{"train-images.idx3-ubyte", "train-labels.idx1-ubyte", "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte"},
			load: LoadMNIST, prefix: "mnist", mean: 0.1307, std: 0.3081, class9: "9"},
		{name: "fashion gz", files: officialNames, load: LoadFashionMNIST, prefix: "fashion-mnist", mean: 0.2860, std: 0.3530, class9: "Ankle boot"},
		{name: "fashion test- names mixed gz/raw", files: synthFiles{"train-images-idx3-ubyte", "train-labels-idx1-ubyte.gz", "test-images-idx3-ubyte.gz", "test-labels-idx1-ubyte"},
			load: LoadFashionMNIST, prefix: "fashion-mnist", mean: 0.2860, std: 0.3530, class9: "Ankle boot"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeSynthDataset(t, dir, tc.files, 7, 3)
			train, test, err := tc.load(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				s          *Split
				name       string
				n          int
				first      []uint8
				labelsWant []int
			}{
				{train, tc.prefix + "/train", 7, []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, []int{0, 1, 2, 3, 4, 5, 6}},
				{test, tc.prefix + "/test", 3, []uint8{100, 101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111}, []int{9, 8, 7}},
			} {
				s := c.s
				if s.Name != c.name || s.N != c.n || s.C != 1 || s.H != 4 || s.W != 3 {
					t.Fatalf("%s: got name %q shape %d×%d×%d×%d", c.name, s.Name, s.N, s.C, s.H, s.W)
				}
				if !slices.Equal(s.Image(0), c.first) || !slices.Equal(s.Labels, c.labelsWant) {
					t.Fatalf("%s: image 0 = %v labels = %v, want %v / %v", c.name, s.Image(0), s.Labels, c.first, c.labelsWant)
				}
				if len(s.Classes) != 10 || s.Classes[9] != tc.class9 || !slices.Equal(s.Mean, []float64{tc.mean}) || !slices.Equal(s.Std, []float64{tc.std}) {
					t.Fatalf("%s: classes %q mean %v std %v", c.name, s.Classes, s.Mean, s.Std)
				}
				if err := s.Validate(); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestLoadPrefersGzip(t *testing.T) {
	dir := t.TempDir()
	writeSynthDataset(t, dir, officialNames, 2, 1)
	// A broken raw file next to the .gz must be ignored.
	writeRaw(t, dir, "train-images-idx3-ubyte", []byte("garbage"))
	train, _, err := LoadMNIST(dir)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 2 || train.Images[13] != 13 {
		t.Fatalf("train N=%d pixel[13]=%d, want 2 and 13", train.N, train.Images[13])
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the directory to load
		load  func(string) (*Split, *Split, error)
		want  func(dir string) []string
	}{
		{
			name:  "fashion missing dir",
			setup: func(t *testing.T, dir string) string { return filepath.Join(dir, "nope") },
			load:  LoadFashionMNIST,
			want: func(dir string) []string {
				return []string{filepath.Join(dir, "nope"), "apt-get install dataset-fashion-mnist", "-data-dir"}
			},
		},
		{
			name:  "mnist missing dir",
			setup: func(t *testing.T, dir string) string { return filepath.Join(dir, "nope") },
			load:  LoadMNIST,
			want: func(dir string) []string {
				return []string{filepath.Join(dir, "nope"), "go mod download " + GoMNISTModule, "-data-dir"}
			},
		},
		{
			name: "dir is a file",
			setup: func(t *testing.T, dir string) string {
				return writeRaw(t, dir, "file", []byte("x"))
			},
			load: LoadMNIST,
			want: func(dir string) []string { return []string{filepath.Join(dir, "file"), "not a directory"} },
		},
		{
			name: "missing test labels",
			setup: func(t *testing.T, dir string) string {
				writeSynthDataset(t, dir, officialNames, 3, 2)
				if err := os.Remove(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz")); err != nil {
					t.Fatal(err)
				}
				return dir
			},
			load: LoadMNIST,
			want: func(dir string) []string {
				return []string{"test labels", "t10k-labels-idx1-ubyte.gz", "t10k-labels-idx1-ubyte,", dir}
			},
		},
		{
			name: "count mismatch",
			setup: func(t *testing.T, dir string) string {
				writeSynthDataset(t, dir, officialNames, 3, 2)
				writeIDX(t, dir, "train-labels-idx1-ubyte.gz", IDXLabelsMagic, []uint32{2}, []byte{1, 2}, true)
				return dir
			},
			load: LoadFashionMNIST,
			want: func(dir string) []string {
				return []string{filepath.Join(dir, "train-images-idx3-ubyte.gz"), "3 images", filepath.Join(dir, "train-labels-idx1-ubyte.gz"), "2 labels"}
			},
		},
		{
			name: "labels swapped with images",
			setup: func(t *testing.T, dir string) string {
				writeSynthDataset(t, dir, officialNames, 3, 2)
				writeIDX(t, dir, "t10k-images-idx3-ubyte.gz", IDXLabelsMagic, []uint32{2}, []byte{1, 2}, true)
				return dir
			},
			load: LoadMNIST,
			want: func(dir string) []string {
				return []string{filepath.Join(dir, "t10k-images-idx3-ubyte.gz"), "wrong magic", "expected 2051", "got 2049"}
			},
		},
		{
			name: "truncated images",
			setup: func(t *testing.T, dir string) string {
				writeSynthDataset(t, dir, officialNames, 3, 2)
				writeIDX(t, dir, "train-images-idx3-ubyte.gz", IDXImagesMagic, []uint32{3, 4, 3}, seq(30, 0), true)
				return dir
			},
			load: LoadMNIST,
			want: func(dir string) []string {
				return []string{filepath.Join(dir, "train-images-idx3-ubyte.gz"), "truncated data", "expected 36 bytes", "got 30"}
			},
		},
		{
			name: "label out of range",
			setup: func(t *testing.T, dir string) string {
				writeSynthDataset(t, dir, officialNames, 3, 2)
				writeIDX(t, dir, "train-labels-idx1-ubyte.gz", IDXLabelsMagic, []uint32{3}, []byte{1, 10, 2}, true)
				return dir
			},
			load: LoadMNIST,
			want: func(dir string) []string {
				return []string{filepath.Join(dir, "train-labels-idx1-ubyte.gz"), "label 10 of sample 1 out of range [0, 10)"}
			},
		},
		{
			name: "train and test sizes differ",
			setup: func(t *testing.T, dir string) string {
				writeSynthDataset(t, dir, officialNames, 3, 2)
				writeIDX(t, dir, "t10k-images-idx3-ubyte.gz", IDXImagesMagic, []uint32{2, 3, 4}, seq(24, 0), true)
				return dir
			},
			load: LoadMNIST,
			want: func(dir string) []string { return []string{"train images are 4×3 but test images are 3×4"} },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmp := t.TempDir()
			dir := tc.setup(t, tmp)
			train, test, err := tc.load(dir)
			if err == nil {
				t.Fatal("no error")
			}
			if train != nil || test != nil {
				t.Errorf("splits returned with error: %v, %v", train, test)
			}
			for _, w := range tc.want(tmp) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// checkRealSplit checks a real 60000/10000 28×28 dataset, its first
// labels, and its training pixel mean and standard deviation (of x/255).
func checkRealSplit(t *testing.T, train, test *Split, wantMean, wantStd float64, firstTrain, firstTest int) {
	t.Helper()
	for _, c := range []struct {
		s *Split
		n int
	}{{train, 60000}, {test, 10000}} {
		if c.s.N != c.n || c.s.C != 1 || c.s.H != 28 || c.s.W != 28 || len(c.s.Images) != c.n*784 || len(c.s.Labels) != c.n {
			t.Fatalf("%s: N=%d C=%d H=%d W=%d, %d pixels, %d labels; want %d×1×28×28", c.s.Name, c.s.N, c.s.C, c.s.H, c.s.W, len(c.s.Images), len(c.s.Labels), c.n)
		}
		if err := c.s.Validate(); err != nil {
			t.Fatal(err)
		}
		var counts [10]int
		for _, l := range c.s.Labels {
			counts[l]++
		}
		for k, n := range counts {
			if n < c.n/20 {
				t.Errorf("%s: class %d has only %d samples", c.s.Name, k, n)
			}
		}
	}
	if train.Labels[0] != firstTrain || test.Labels[0] != firstTest {
		t.Errorf("first labels train/test = %d/%d, want %d/%d", train.Labels[0], test.Labels[0], firstTrain, firstTest)
	}
	var sum, sumSq int64
	for _, p := range train.Images {
		sum += int64(p)
		sumSq += int64(p) * int64(p)
	}
	n := float64(len(train.Images))
	mean := float64(sum) / n / 255
	std := math.Sqrt(float64(sumSq)/n/(255*255) - mean*mean)
	if math.Abs(mean-wantMean) > 0.001 || math.Abs(std-wantStd) > 0.001 {
		t.Errorf("train pixel mean/255 = %.5f, std = %.5f; want %.4f and %.4f ± 0.001", mean, std, wantMean, wantStd)
	}
	if train.Mean[0] != wantMean || train.Std[0] != wantStd {
		t.Errorf("split Mean/Std = %v/%v, want %v/%v", train.Mean, train.Std, wantMean, wantStd)
	}
	t.Logf("%s: train mean/255 = %.5f, std = %.5f", train.Name, mean, std)
}

func TestLoadMNISTReal(t *testing.T) {
	dir, err := DefaultMNISTDir()
	if err != nil {
		t.Skipf("real MNIST not available: %v", err)
	}
	train, test, err := LoadMNIST("")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("MNIST from %s", dir)
	checkRealSplit(t, train, test, 0.1307, 0.3081, 5, 7)
}

func TestLoadFashionMNISTReal(t *testing.T) {
	if _, err := os.Stat(DefaultFashionMNISTDir); err != nil {
		t.Skipf("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): %v", err)
	}
	train, test, err := LoadFashionMNIST("")
	if err != nil {
		t.Fatal(err)
	}
	checkRealSplit(t, train, test, 0.2860, 0.3530, 9, 9)
}
