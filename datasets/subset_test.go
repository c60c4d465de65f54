package datasets

import (
	"math"
	"slices"
	"testing"
)

func TestSubset(t *testing.T) {
	s := tinySplit(5)
	tests := []struct {
		n, wantN int
		wantName string
	}{
		{3, 3, "tiny[:3 stratified]"},
		{5, 5, "tiny[:5 stratified]"},
		{100, 5, "tiny[:5 stratified]"},
		{0, 0, "tiny[:0 stratified]"},
		{-2, 0, "tiny[:0 stratified]"},
	}
	for _, tc := range tests {
		sub := Subset(s, tc.n)
		if sub.N != tc.wantN || len(sub.Labels) != tc.wantN || len(sub.Images) != tc.wantN*6 || sub.Name != tc.wantName {
			t.Errorf("Subset(%d): N=%d labels=%d images=%d name=%q, want N=%d name=%q", tc.n, sub.N, len(sub.Labels), len(sub.Images), sub.Name, tc.wantN, tc.wantName)
		}
		if err := sub.Validate(); err != nil {
			t.Errorf("Subset(%d): %v", tc.n, err)
		}
		// One sample of each class: the stratified subset is the first samples.
		if tc.wantN > 0 && (!slices.Equal(sub.Images, s.Images[:tc.wantN*6]) || !slices.Equal(sub.Labels, s.Labels[:tc.wantN])) {
			t.Errorf("Subset(%d): content differs from the first samples", tc.n)
		}
	}
	// The subset is a copy: writing to it leaves the parent alone.
	sub := Subset(s, 2)
	sub.Labels[0], sub.Images[0] = 42, 42
	if s.Labels[0] != 0 || s.Images[0] != 0 {
		t.Fatalf("writing to the subset changed the parent: label %d pixel %d", s.Labels[0], s.Images[0])
	}
	if Subset(nil, 3) != nil {
		t.Fatal("Subset(nil) != nil")
	}
}

// TestSubsetOfSortedSplitIsStratified takes Subset of a split sorted by
// class, where the first n samples are one class: the subset has each
// class in proportion (largest remainders first), the first samples of
// each, in order.
func TestSubsetOfSortedSplitIsStratified(t *testing.T) {
	// 5 of class 0, 3 of class 1, 2 of class 2: sorted.
	s := classSplit(0, 0, 0, 0, 0, 1, 1, 1, 2, 2)
	tests := []struct {
		n      int
		pixels []uint8
	}{
		{2, []uint8{0, 5}},                // shares 1, 0.6, 0.4: class 1 has the larger remainder
		{4, []uint8{0, 1, 5, 8}},          // shares 2, 1.2, 0.8
		{5, []uint8{0, 1, 2, 5, 8}},       // shares 2.5, 1.5, 1: ties go to the lower label
		{7, []uint8{0, 1, 2, 3, 5, 6, 8}}, // shares 3.5, 2.1, 1.4
		{10, []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
	}
	for _, tc := range tests {
		sub := Subset(s, tc.n)
		if !slices.Equal(sub.Images, tc.pixels) || sub.N != tc.n {
			t.Errorf("Subset(%d) = %v, want %v", tc.n, sub.Images, tc.pixels)
		}
		for i, p := range sub.Images {
			if sub.Labels[i] != s.Labels[p] {
				t.Errorf("Subset(%d): label of pixel %d", tc.n, p)
			}
		}
		if err := sub.Validate(); err != nil {
			t.Error(err)
		}
	}
	// Inconsistent splits do not panic: only the samples with an image and a label count.
	bad := classSplit(0, 1, 2)
	bad.Images = bad.Images[:2]
	if sub := Subset(bad, 3); sub.N != 2 || !slices.Equal(sub.Labels, []int{0, 1}) {
		t.Errorf("short images: N=%d labels %v, want 2 [0 1]", sub.N, sub.Labels)
	}
}

// TestSample checks that a sample is stratified as Subset is, in the
// split's order, the same for a seed and different for another.
func TestSample(t *testing.T) {
	labels := make([]int, 0, 100)
	for c := range 3 {
		for range []int{50, 30, 20}[c] {
			labels = append(labels, c)
		}
	}
	s := classSplit(labels...)
	a, b, c := Sample(s, 10, 1), Sample(s, 10, 1), Sample(s, 10, 2)
	count := map[int]int{}
	for _, l := range a.Labels {
		count[l]++
	}
	if a.N != 10 || count[0] != 5 || count[1] != 3 || count[2] != 2 {
		t.Fatalf("Sample(10): N=%d, per class %v, want 5 3 2", a.N, count)
	}
	if !slices.IsSorted(a.Images) {
		t.Errorf("Sample does not keep the split's order: %v", a.Images)
	}
	if !slices.Equal(a.Images, b.Images) || a.Name != "cls[10 sampled, seed 1]" {
		t.Errorf("the same seed gives %v and %v (%q)", a.Images, b.Images, a.Name)
	}
	if slices.Equal(a.Images, c.Images) {
		t.Errorf("seeds 1 and 2 give the same sample %v", a.Images)
	}
	if slices.Equal(a.Images, Subset(s, 10).Images) {
		t.Errorf("the sample is the first samples of each class")
	}
	for i, p := range a.Images {
		if a.Labels[i] != s.Labels[p] {
			t.Errorf("label of pixel %d", p)
		}
	}
	if Sample(s, 1000, 1).N != 100 || Sample(s, -1, 1).N != 0 || Sample(nil, 3, 1) != nil {
		t.Error("Sample clamps n and takes nil")
	}
}

// classSplit returns a single-channel 1×1 split whose pixel i is i and
// whose labels are labels.
func classSplit(labels ...int) *Split {
	s := &Split{Name: "cls", N: len(labels), C: 1, H: 1, W: 1, Labels: labels, Images: make([]uint8, len(labels)),
		Classes: []string{"a", "b", "c"}, Mean: []float64{0.5}, Std: []float64{0.5}}
	for i := range s.Images {
		s.Images[i] = uint8(i)
	}
	return s
}

func TestSubsetPerClass(t *testing.T) {
	s := classSplit(0, 0, 0, 1, 2, 1, 0, 2, 2, 2)
	tests := []struct {
		n      int
		pixels []uint8
		name   string
	}{
		{1, []uint8{0, 3, 4}, "cls[:1/class]"},
		{2, []uint8{0, 1, 3, 4, 5, 7}, "cls[:2/class]"},
		{100, []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "cls[:100/class]"},
		{0, []uint8{}, "cls[:0/class]"},
		{-3, []uint8{}, "cls[:0/class]"},
	}
	for _, tc := range tests {
		sub := SubsetPerClass(s, tc.n)
		if !slices.Equal(sub.Images, tc.pixels) || sub.N != len(tc.pixels) || sub.Name != tc.name {
			t.Errorf("SubsetPerClass(%d) = %v N=%d %q, want %v %q", tc.n, sub.Images, sub.N, sub.Name, tc.pixels, tc.name)
		}
		for i, p := range sub.Images {
			if sub.Labels[i] != s.Labels[p] {
				t.Errorf("SubsetPerClass(%d): label of pixel %d", tc.n, p)
			}
		}
		if err := sub.Validate(); err != nil {
			t.Error(err)
		}
	}
	// The subset is a copy.
	sub := SubsetPerClass(s, 1)
	sub.Images[0], sub.Labels[0] = 99, 2
	if s.Images[0] != 0 || s.Labels[0] != 0 {
		t.Error("SubsetPerClass shares memory with its parent")
	}
	if SubsetPerClass(nil, 1) != nil {
		t.Error("nil split")
	}
}

func TestSubsetFraction(t *testing.T) {
	// 4 of class 0, 2 of class 1, 4 of class 2.
	s := classSplit(0, 0, 0, 1, 2, 1, 0, 2, 2, 2)
	tests := []struct {
		f      float64
		pixels []uint8
		name   string
	}{
		{0.5, []uint8{0, 1, 3, 4, 7}, "cls[frac=0.5]"},
		{0.25, []uint8{0, 3, 4}, "cls[frac=0.25]"}, // 1, round(0.5)=1, 1
		{1, []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "cls[frac=1]"},
		{7, []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, "cls[frac=1]"},
		{0, []uint8{}, "cls[frac=0]"},
		{-1, []uint8{}, "cls[frac=0]"},
		{math.NaN(), []uint8{}, "cls[frac=0]"},
	}
	for _, tc := range tests {
		sub := SubsetFraction(s, tc.f)
		if !slices.Equal(sub.Images, tc.pixels) || sub.Name != tc.name {
			t.Errorf("SubsetFraction(%v) = %v %q, want %v %q", tc.f, sub.Images, sub.Name, tc.pixels, tc.name)
		}
		if err := sub.Validate(); err != nil {
			t.Error(err)
		}
	}
	// Inconsistent splits do not panic.
	bad := classSplit(0, 1, 2)
	bad.Images = bad.Images[:1]
	if sub := SubsetFraction(bad, 1); sub.N != 1 {
		t.Errorf("short images: N=%d, want 1", sub.N)
	}
	if SubsetFraction(nil, 0.5) != nil {
		t.Error("nil split")
	}
}
