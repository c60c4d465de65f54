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
		{3, 3, "tiny[:3]"},
		{5, 5, "tiny[:5]"},
		{100, 5, "tiny[:5]"},
		{0, 0, "tiny[:0]"},
		{-2, 0, "tiny[:0]"},
	}
	for _, tc := range tests {
		sub := Subset(s, tc.n)
		if sub.N != tc.wantN || len(sub.Labels) != tc.wantN || len(sub.Images) != tc.wantN*6 || sub.Name != tc.wantName {
			t.Errorf("Subset(%d): N=%d labels=%d images=%d name=%q, want N=%d name=%q", tc.n, sub.N, len(sub.Labels), len(sub.Images), sub.Name, tc.wantN, tc.wantName)
		}
		if err := sub.Validate(); err != nil {
			t.Errorf("Subset(%d): %v", tc.n, err)
		}
		if tc.wantN > 0 && (!slices.Equal(sub.Images, s.Images[:tc.wantN*6]) || !slices.Equal(sub.Labels, s.Labels[:tc.wantN])) {
			t.Errorf("Subset(%d): content differs from the first samples", tc.n)
		}
	}
	// Appending to a subset must not overwrite the parent.
	sub := Subset(s, 2)
	_ = append(sub.Labels, 42)
	_ = append(sub.Images, 42)
	if s.Labels[2] != 2 || s.Images[12] != 12 {
		t.Fatalf("append to subset overwrote parent: label %d pixel %d", s.Labels[2], s.Images[12])
	}
	if Subset(nil, 3) != nil {
		t.Fatal("Subset(nil) != nil")
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
