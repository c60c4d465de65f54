package datasets

import (
	"bytes"
	"strings"
	"testing"
)

// sortedSplit is a class-sorted split of n images per class for 3 classes; image i is filled with byte i.
func sortedSplit(n int) *Split {
	s := &Split{Name: "toy/train", C: 1, H: 1, W: 1, Classes: []string{"a", "b", "c"}, Mean: []float64{0.5}, Std: []float64{0.25}}
	for c := 0; c < 3; c++ {
		for i := 0; i < n; i++ {
			s.Labels = append(s.Labels, c)
			s.Images = append(s.Images, byte(len(s.Images)))
		}
	}
	s.N = len(s.Labels)
	return s
}

func TestHoldoutIsStratifiedDisjointAndSeeded(t *testing.T) {
	s := sortedSplit(20)
	tr, val, err := Holdout(s, 0.1, 7)
	if err != nil {
		t.Fatal(err)
	}
	if tr.N != 54 || val.N != 6 {
		t.Fatalf("train %d, val %d; want 54 and 6", tr.N, val.N)
	}
	perClass := map[int]int{}
	for _, l := range val.Labels {
		perClass[l]++
	}
	if perClass[0] != 2 || perClass[1] != 2 || perClass[2] != 2 {
		t.Fatalf("validation classes %v, want 2 of each", perClass)
	}
	seen := map[byte]bool{}
	for _, part := range []*Split{tr, val} {
		for i := 0; i < part.N; i++ {
			b := part.Images[i]
			if seen[b] || s.Labels[b] != part.Labels[i] {
				t.Fatalf("image %d appears twice or lost its label", b)
			}
			seen[b] = true
		}
		if part.Images[0] > part.Images[part.N-1] {
			t.Fatal("the parts do not keep the split's order")
		}
	}
	if len(seen) != 60 {
		t.Fatalf("%d images in the two parts, want all 60", len(seen))
	}
	_, again, _ := Holdout(s, 0.1, 7)
	_, other, _ := Holdout(s, 0.1, 8)
	if !bytes.Equal(again.Images, val.Images) {
		t.Fatal("the same seed drew another validation split")
	}
	if bytes.Equal(other.Images, val.Images) {
		t.Fatal("another seed drew the same validation split")
	}
	if bytes.Equal(val.Images[:2], []byte{0, 1}) && bytes.Equal(val.Images[2:4], []byte{20, 21}) {
		t.Fatal("the validation split is the first images of each class, not a random draw")
	}
	if !strings.Contains(val.Name, "val=0.1") || tr.Mean[0] != 0.5 || val.Std[0] != 0.25 {
		t.Fatalf("name %q or normalisation constants not kept", val.Name)
	}
}

func TestHoldoutRefusesBadFractions(t *testing.T) {
	for _, f := range []float64{0, 1, -0.1, 2} {
		if _, _, err := Holdout(sortedSplit(5), f, 1); err == nil || !strings.Contains(err.Error(), "fraction") {
			t.Errorf("fraction %v: %v", f, err)
		}
	}
	// A class of one image stays in training; a class of two gives one to validation.
	s := sortedSplit(1)
	tr, val, err := Holdout(s, 0.1, 1)
	if err != nil || tr.N != 3 || val.N != 0 {
		t.Fatalf("one image per class: train %d val %d (%v)", tr.N, val.N, err)
	}
	tr, val, _ = Holdout(sortedSplit(2), 0.1, 1)
	if tr.N != 3 || val.N != 3 {
		t.Fatalf("two images per class: train %d val %d", tr.N, val.N)
	}
}
