package datasets

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// Tests and benchmarks over the real archives of ../shared/data (relative to
// the repository root; see its README.md). They skip when the data is absent.

// sharedDataFile returns the path of a file in ../shared/data, skipping tb
// with a message when it is not there.
func sharedDataFile(tb testing.TB, name string) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("real data: repository root (go.mod) not found")
		}
		dir = parent
	}
	p := filepath.Join(dir, "..", "shared", "data", name)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("real data %s not available (%v); see ../shared/data/README.md", p, err)
	}
	return p
}

// classCounts returns the number of samples of each class of s.
func classCounts(s *Split) []int {
	out := make([]int, len(s.Classes))
	for _, l := range s.Labels {
		out[l]++
	}
	return out
}

// checkCounts fails t unless s has n samples, n/len(Classes) per class.
func checkCounts(t *testing.T, s *Split, n, classes int) {
	t.Helper()
	if s.N != n || len(s.Classes) != classes {
		t.Fatalf("%s: N=%d with %d classes, want %d with %d", s.Name, s.N, len(s.Classes), n, classes)
	}
	for c, k := range classCounts(s) {
		if k != n/classes {
			t.Errorf("%s: class %d (%s) has %d samples, want %d", s.Name, c, s.Classes[c], k, n/classes)
		}
	}
}

// TestRealCIFAR10JPEG loads the JPEG copy of CIFAR-10 from its tarball
// (decoding all 60,000 images once, about 5 s on 2 cores), checks counts, classes and training
// means against the README, then checks that the decoded cache written on
// the way reloads the identical data, also under the imagefolder name.
func TestRealCIFAR10JPEG(t *testing.T) {
	tarball := sharedDataFile(t, "cifar10-jpeg.tar.gz")
	opts := LoadOptions{CacheDir: t.TempDir()}
	start := time.Now()
	train, test, err := LoadWithOptions("cifar10", tarball, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("decoded %d+%d images from %s in %v", train.N, test.N, tarball, time.Since(start))
	checkCounts(t, train, 50000, 10)
	checkCounts(t, test, 10000, 10)
	if !slices.Equal(train.Classes, CIFAR10Classes) || train.C != 3 || train.H != 32 || train.W != 32 {
		t.Fatalf("classes %q shape %d×%d×%d", train.Classes, train.C, train.H, train.W)
	}
	if train.Name != "cifar10/train" || !slices.Equal(train.Mean, CIFAR10Mean[:]) || !slices.Equal(test.Std, CIFAR10Std[:]) {
		t.Errorf("name %q mean %v test std %v, want cifar10/train and the CIFAR-10 constants", train.Name, train.Mean, test.Std)
	}
	mean, std := ChannelStats(train)
	t.Logf("train mean %.5f std %.5f (README: 0.4912 0.4820 0.4464 / 0.2465 0.2438 0.2619)", mean, std)
	for c, want := range []float64{0.4912, 0.4820, 0.4464} {
		if math.Abs(mean[c]-want) > 0.002 {
			t.Errorf("train mean of channel %d = %.4f, want %.4f ± 0.002", c, mean[c], want)
		}
	}
	for c, want := range []float64{0.2465, 0.2438, 0.2619} {
		if math.Abs(std[c]-want) > 0.004 {
			t.Errorf("train std of channel %d = %.4f, want %.4f ± 0.004", c, std[c], want)
		}
	}

	start = time.Now()
	d, status, err := loadDecodedStatus(tarball, layoutImageFolder, opts)
	if err != nil || status != cacheHit {
		t.Fatalf("reload: status %v, err %v; want a cache hit", status, err)
	}
	t.Logf("reloaded from the cache in %v", time.Since(start))
	if !slices.Equal(d.train.Images, train.Images) || !slices.Equal(d.test.Labels, test.Labels) {
		t.Fatal("cached data differs from the decoded data")
	}
	ftrain, ftest, err := LoadImageFolder(tarball, opts)
	if err != nil {
		t.Fatal(err)
	}
	if ftrain.Name != "imagefolder/train" || ftest.Name != "imagefolder/test" || math.Abs(ftrain.Mean[0]-mean[0]) > 1e-12 {
		t.Errorf("imagefolder: names %q %q mean %v, want the training statistics %v", ftrain.Name, ftest.Name, ftrain.Mean, mean)
	}
}

// TestRealTinyImageNet loads the 10-class Tiny ImageNet subset from its
// tarball: counts, classes in wnids.txt order, grayscale images turned into
// three identical channels.
func TestRealTinyImageNet(t *testing.T) {
	tarball := sharedDataFile(t, "tiny-imagenet-subset10.tar.gz")
	start := time.Now()
	train, val, err := Load("tiny-imagenet", tarball)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("decoded %d+%d images from %s in %v", train.N, val.N, tarball, time.Since(start))
	checkCounts(t, train, 5000, 10)
	checkCounts(t, val, 500, 10)
	want := []string{"n02124075", "n04067472", "n04540053", "n04099969", "n07749582", "n01641577", "n02802426", "n09246464", "n07920052", "n03970156"}
	if !slices.Equal(train.Classes, want) || !slices.Equal(val.Classes, want) {
		t.Errorf("classes %q, want wnids.txt order %q", train.Classes, want)
	}
	if train.C != 3 || train.H != 64 || train.W != 64 || val.H != 64 {
		t.Fatalf("shape %d×%d×%d, want 3×64×64", train.C, train.H, train.W)
	}
	gray := 0
	for _, s := range []*Split{train, val} {
		for i := range s.N {
			img, hw := s.Image(i), s.H*s.W
			if slices.Equal(img[:hw], img[hw:2*hw]) && slices.Equal(img[:hw], img[2*hw:]) {
				gray++
			}
		}
	}
	if gray < 77 {
		t.Errorf("%d images with three identical channels, want at least the 77 grayscale JPEGs", gray)
	}
	mean, std := ChannelStats(train)
	t.Logf("%d gray images; subset train mean %.5f std %.5f (full set: 0.4802 0.4481 0.3975 / 0.2770 0.2691 0.2821)", gray, mean, std)
	if !slices.Equal(train.Mean, TinyImageNetMean[:]) || train.Name != "tiny-imagenet/train" || val.Name != "tiny-imagenet/val" {
		t.Errorf("names %q %q mean %v", train.Name, val.Name, train.Mean)
	}
}

// benchmarkCIFAR10 measures the whole pipeline on the real CIFAR-10 JPEG
// copy: load both splits (opts decides whether from the tarball or the
// cache) and stream one augmented, shuffled training epoch in batches of
// 128. images/s counts the 60,000 images loaded per second of the whole.
func benchmarkCIFAR10(b *testing.B, tarball string, opts LoadOptions) {
	var images int
	for b.Loop() {
		train, test, err := LoadWithOptions("cifar10", tarball, opts)
		if err != nil {
			b.Fatal(err)
		}
		l, err := NewLoaderOptions(train, 128, true, 1, LoaderOptions{Augment: true})
		if err != nil {
			b.Fatal(err)
		}
		st := l.Stream(context.Background(), 0)
		n := 0
		for batch, ok := st.Next(); ok; batch, ok = st.Next() {
			n += batch.N
		}
		st.Close()
		if err := st.Err(); err != nil || n != train.N {
			b.Fatalf("streamed %d of %d samples: %v", n, train.N, err)
		}
		images += train.N + test.N
	}
	b.ReportMetric(float64(images)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkCIFAR10Tarball decodes the 60,000 JPEGs from the tarball each
// time, then streams an augmented epoch.
func BenchmarkCIFAR10Tarball(b *testing.B) {
	benchmarkCIFAR10(b, sharedDataFile(b, "cifar10-jpeg.tar.gz"), LoadOptions{})
}

// BenchmarkCIFAR10Cache loads from a decoded cache (built before the timer
// starts), then streams an augmented epoch.
func BenchmarkCIFAR10Cache(b *testing.B) {
	tarball := sharedDataFile(b, "cifar10-jpeg.tar.gz")
	opts := LoadOptions{CacheDir: b.TempDir()}
	if _, _, err := LoadWithOptions("cifar10", tarball, opts); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	benchmarkCIFAR10(b, tarball, opts)
}
