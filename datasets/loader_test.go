package datasets

import (
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// epochBatches runs one epoch through l and returns the batch sizes and
// the sample indices in visiting order, checking that X and Y agree with
// the split for every sample.
func epochBatches(t *testing.T, l *Loader, epoch int) (sizes, visited []int) {
	t.Helper()
	s := l.Split()
	order := l.Epoch(epoch)
	var b Batch
	want := make([]float32, s.ImageSize())
	for i := range l.NumBatches() {
		l.Batch(order, i, &b)
		sizes = append(sizes, b.N)
		if len(b.X) != b.N*s.ImageSize() || len(b.Y) != b.N || len(b.Index) != b.N {
			t.Fatalf("batch %d: N=%d but len X/Y/Index = %d/%d/%d", i, b.N, len(b.X), len(b.Y), len(b.Index))
		}
		for k, idx := range b.Index {
			if b.Y[k] != s.Labels[idx] {
				t.Fatalf("batch %d sample %d: Y=%d, label of %d is %d", i, k, b.Y[k], idx, s.Labels[idx])
			}
			if err := s.Normalise(want, idx); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(b.X[k*len(want):(k+1)*len(want)], want) {
				t.Fatalf("batch %d sample %d (index %d): X differs from Normalise", i, k, idx)
			}
		}
		visited = append(visited, b.Index...)
	}
	return sizes, visited
}

func TestLoaderCoversEverySampleOnce(t *testing.T) {
	tests := []struct {
		n, batch  int
		shuffle   bool
		wantSizes []int
	}{
		{10, 4, false, []int{4, 4, 2}},
		{10, 4, true, []int{4, 4, 2}},
		{10, 5, true, []int{5, 5}},
		{10, 10, false, []int{10}},
		{10, 64, true, []int{10}},
		{7, 1, true, []int{1, 1, 1, 1, 1, 1, 1}},
		{0, 3, true, nil},
	}
	for _, tc := range tests {
		l, err := NewLoader(tinySplit(tc.n), tc.batch, tc.shuffle, 42)
		if err != nil {
			t.Fatal(err)
		}
		if got := l.NumBatches(); got != len(tc.wantSizes) {
			t.Errorf("N=%d batch=%d: NumBatches = %d, want %d", tc.n, tc.batch, got, len(tc.wantSizes))
		}
		for epoch := range 3 {
			sizes, visited := epochBatches(t, l, epoch)
			if !slices.Equal(sizes, tc.wantSizes) {
				t.Errorf("N=%d batch=%d epoch %d: sizes %v, want %v", tc.n, tc.batch, epoch, sizes, tc.wantSizes)
			}
			sorted := slices.Sorted(slices.Values(visited))
			for i, v := range sorted {
				if v != i {
					t.Fatalf("N=%d batch=%d epoch %d: visited %v is not each sample exactly once", tc.n, tc.batch, epoch, visited)
				}
			}
			if len(sorted) != tc.n {
				t.Fatalf("N=%d batch=%d epoch %d: visited %d samples", tc.n, tc.batch, epoch, len(sorted))
			}
			if !tc.shuffle && !slices.Equal(visited, sorted) {
				t.Errorf("N=%d unshuffled epoch %d: order %v is not the identity", tc.n, epoch, visited)
			}
		}
	}
}

func TestLoaderEpochOrder(t *testing.T) {
	s := tinySplit(10)
	a, _ := NewLoader(s, 4, true, 7)
	b, _ := NewLoader(s, 3, true, 7) // batch size does not affect the order
	c, _ := NewLoader(s, 4, true, 8)
	plain, _ := NewLoader(s, 4, false, 7)

	e1 := a.Epoch(1)
	_ = a.Epoch(5) // asking for other epochs first must not matter
	if got := b.Epoch(1); !slices.Equal(got, e1) {
		t.Errorf("same seed and epoch: %v vs %v", got, e1)
	}
	if got := a.Epoch(1); !slices.Equal(got, e1) {
		t.Errorf("repeated Epoch(1): %v vs %v", got, e1)
	}
	if want := rand.New(rand.NewSource(7 + 1*1000003)).Perm(10); !slices.Equal(e1, want) {
		t.Errorf("Epoch(1) = %v, want math/rand permutation %v", e1, want)
	}
	if e0 := a.Epoch(0); slices.Equal(e0, e1) {
		t.Errorf("epochs 0 and 1 have the same order %v", e0)
	}
	if got := c.Epoch(1); slices.Equal(got, e1) {
		t.Errorf("seeds 7 and 8 give the same order %v", got)
	}
	if got := plain.Epoch(3); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Errorf("unshuffled Epoch(3) = %v, want identity", got)
	}
	// The returned order is the caller's to modify.
	e1[0] = -5
	if a.Epoch(1)[0] == -5 {
		t.Error("Epoch returns shared state")
	}
}

func TestLoaderNormalisedValues(t *testing.T) {
	s := &Split{
		Name: "two-channel", N: 3, C: 2, H: 1, W: 2,
		Images: []uint8{
			0, 255, 128, 64, // sample 0: channel 0 = {0, 255}, channel 1 = {128, 64}
			1, 2, 3, 4,
			51, 102, 204, 153,
		},
		Labels: []int{2, 0, 1},
		Mean:   []float64{0.1307, 0.5},
		Std:    []float64{0.3081, 0.25},
	}
	l, err := NewLoader(s, 2, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	l.Batch(l.Epoch(0), 1, &b) // the partial batch: sample 2 only
	want := []float32{
		float32((51.0/255 - 0.1307) / 0.3081), float32((102.0/255 - 0.1307) / 0.3081),
		float32((204.0/255 - 0.5) / 0.25), float32((153.0/255 - 0.5) / 0.25), // 1.2, 0.4
	}
	if b.N != 1 || !slices.Equal(b.X, want) || !slices.Equal(b.Y, []int{1}) || !slices.Equal(b.Index, []int{2}) {
		t.Fatalf("batch 1 = %+v, want N=1 X=%v Y=[1] Index=[2]", b, want)
	}
	if d := b.X[2] - 1.2; d > 1e-6 || d < -1e-6 {
		t.Errorf("X[2] = %v, want 1.2", b.X[2])
	}
	l.Batch(l.Epoch(0), 0, &b)
	if b.N != 2 || b.X[0] != float32(-0.1307/0.3081) || b.X[1] != float32((1-0.1307)/0.3081) || b.X[2] != float32((128.0/255-0.5)/0.25) {
		t.Errorf("batch 0 X = %v", b.X)
	}
}

func TestLoaderReusesBatch(t *testing.T) {
	l, err := NewLoader(tinySplit(10), 4, true, 1)
	if err != nil {
		t.Fatal(err)
	}
	order := l.Epoch(0)
	var b Batch
	l.Batch(order, 0, &b)
	x0, y0, i0 := &b.X[0], &b.Y[0], &b.Index[0]
	l.Batch(order, 2, &b) // smaller: must reuse
	if b.N != 2 || &b.X[0] != x0 || &b.Y[0] != y0 || &b.Index[0] != i0 {
		t.Fatalf("partial batch did not reuse dst's slices (N=%d)", b.N)
	}
	l.Batch(order, 1, &b) // full again: capacity still suffices
	if b.N != 4 || &b.X[0] != x0 || !slices.Equal(b.Index, order[4:8]) {
		t.Fatalf("batch 1: N=%d Index=%v, want 4 and %v, same array", b.N, b.Index, order[4:8])
	}
}

func TestLoaderBatchEdgeCases(t *testing.T) {
	l, err := NewLoader(tinySplit(5), 2, false, 0)
	if err != nil {
		t.Fatal(err)
	}
	var b Batch
	for _, bi := range []int{-1, 3, 1 << 62} {
		l.Batch(l.Epoch(0), bi, &b)
		if b.N != 0 || len(b.X) != 0 || len(b.Y) != 0 || len(b.Index) != 0 {
			t.Errorf("Batch(%d) out of range: N=%d", bi, b.N)
		}
	}
	// Invalid indices in a caller-made order are skipped.
	l.Batch([]int{4, 99, -3, 1}, 0, &b)
	if b.N != 1 || !slices.Equal(b.Index, []int{4}) {
		t.Errorf("order with bad indices: N=%d Index=%v, want 1 and [4]", b.N, b.Index)
	}
	l.Batch([]int{4, 99, -3, 1}, 1, &b)
	if b.N != 1 || !slices.Equal(b.Index, []int{1}) || b.Y[0] != 1 {
		t.Errorf("order with bad indices, batch 1: N=%d Index=%v Y=%v", b.N, b.Index, b.Y)
	}
	l.Batch(l.Epoch(0), 0, nil) // must not panic
}

func TestNewLoaderErrors(t *testing.T) {
	bad := tinySplit(4)
	bad.Labels = bad.Labels[:3]
	tests := []struct {
		name  string
		s     *Split
		batch int
		want  string
	}{
		{"batch size 0", tinySplit(4), 0, "batch size must be positive, got 0"},
		{"batch size -1", tinySplit(4), -1, "batch size must be positive, got -1"},
		{"nil split", nil, 4, "nil split"},
		{"inconsistent split", bad, 4, `split "tiny": 3 labels, want N = 4`},
	}
	for _, tc := range tests {
		l, err := NewLoader(tc.s, tc.batch, true, 0)
		if err == nil || l != nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: NewLoader = %v, %v; want error containing %q", tc.name, l, err, tc.want)
		}
	}
	l, err := NewLoader(tinySplit(4), 3, true, 0)
	if err != nil || l.BatchSize() != 3 || l.Split().N != 4 {
		t.Fatalf("NewLoader valid: %v", err)
	}
}

// BenchmarkLoaderBatch fills one 128-sample batch of MNIST-shaped data
// (1×28×28) per iteration.
func BenchmarkLoaderBatch(b *testing.B) {
	const n = 4096
	rng := rand.New(rand.NewSource(1))
	s := &Split{
		Name: "bench", N: n, C: 1, H: 28, W: 28,
		Images: make([]uint8, n*784), Labels: make([]int, n),
		Classes: MNISTClasses, Mean: []float64{MNISTMean}, Std: []float64{MNISTStd},
	}
	for i := range s.Images {
		s.Images[i] = uint8(rng.Intn(256))
	}
	for i := range s.Labels {
		s.Labels[i] = rng.Intn(10)
	}
	l, err := NewLoader(s, 128, true, 1)
	if err != nil {
		b.Fatal(err)
	}
	order := l.Epoch(0)
	var batch Batch
	b.SetBytes(128 * 784)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		l.Batch(order, i%l.NumBatches(), &batch)
		i++
	}
	if batch.N != 128 {
		b.Fatalf("batch N = %d", batch.N)
	}
}
