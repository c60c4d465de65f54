package datasets

import (
	"fmt"
	"math"
	"strconv"
)

// Subsets of a split for quick runs: the first n samples (Subset), the
// first n samples of each class (SubsetPerClass), or a fraction of each
// class (SubsetFraction). The per-class forms keep the class balance even
// when the split is sorted by class (image folders and Tiny ImageNet are),
// where the first n samples would all be of one class. All keep the
// samples' relative order, and the Classes, Mean and Std of the split.

// Subset returns a split holding the first n samples of s (all of them if
// n >= s.N, none if n <= 0), for quick tests. The returned split shares its
// Images and Labels backing arrays with s (capacity-limited, so appending to
// them does not overwrite s); Classes, Mean and Std are shared too. Its Name
// is s.Name with "[:n]" appended.
func Subset(s *Split, n int) *Split {
	if s == nil {
		return nil
	}
	n = max(0, min(n, s.N, len(s.Labels)))
	sz := s.ImageSize()
	if sz < 0 || n*sz > len(s.Images) {
		n = 0
	}
	out := *s
	out.Name = fmt.Sprintf("%s[:%d]", s.Name, n)
	out.N = n
	out.Images = s.Images[: n*sz : n*sz]
	out.Labels = s.Labels[:n:n]
	return &out
}

// SubsetPerClass returns a split holding, for each label, the first n
// samples with that label (all of them if the label has fewer), in their
// order in s. The images and labels are copied. Its Name is s.Name with
// "[:n/class]" appended. A nil s gives nil; n <= 0 gives an empty split.
func SubsetPerClass(s *Split, n int) *Split {
	if s == nil {
		return nil
	}
	n = max(n, 0)
	return pick(s, fmt.Sprintf("%s[:%d/class]", s.Name, n), func(int) int { return n })
}

// SubsetFraction returns a split holding, for each label, the first
// round(f × count) of the samples with that label (rounding halves up),
// in their order in s: a stratified fraction, so that SubsetFraction(s,
// 0.1) of CIFAR-10's training split holds 500 images of each class. f is
// clamped to [0, 1] (NaN counts as 0). The images and labels are copied.
// Its Name is s.Name with "[frac=f]" appended. A nil s gives nil.
func SubsetFraction(s *Split, f float64) *Split {
	if s == nil {
		return nil
	}
	if !(f > 0) {
		f = 0
	}
	f = min(f, 1)
	name := s.Name + "[frac=" + strconv.FormatFloat(f, 'g', -1, 64) + "]"
	return pick(s, name, func(count int) int { return int(math.Floor(f*float64(count) + 0.5)) })
}

// pick returns the split of the first quota(count) samples of each label
// of s, where count is the number of samples with that label. Samples
// beyond the consistent part of s (images or labels missing) are ignored.
func pick(s *Split, name string, quota func(count int) int) *Split {
	sz := s.ImageSize()
	n := min(max(s.N, 0), len(s.Labels))
	if sz <= 0 {
		n = 0
	} else {
		n = min(n, len(s.Images)/sz)
	}
	count := map[int]int{}
	for _, l := range s.Labels[:n] {
		count[l]++
	}
	keep := make(map[int]int, len(count))
	total := 0
	for l, c := range count {
		keep[l] = min(max(quota(c), 0), c)
		total += keep[l]
	}
	out := *s
	out.Name = name
	out.Images = make([]uint8, 0, total*max(sz, 0))
	out.Labels = make([]int, 0, total)
	taken := map[int]int{}
	for i, l := range s.Labels[:n] {
		if taken[l] < keep[l] {
			taken[l]++
			out.Labels = append(out.Labels, l)
			out.Images = append(out.Images, s.Images[i*sz:(i+1)*sz]...)
		}
	}
	out.N = len(out.Labels)
	return &out
}
