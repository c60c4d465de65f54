package datasets

import (
	"fmt"
	"math"
	"math/rand"
	"sort"
	"strconv"
)

// Subsets of a split for quick runs: n samples in the split's class
// proportions (Subset, or Sample drawn at random), the first n samples of
// each class (SubsetPerClass), or a fraction of each class
// (SubsetFraction). All keep the class balance even when the split is
// sorted by class (image folders, Tiny ImageNet and CIFAR-10's JPEG copy
// are), where the first n samples would all be of one class. All keep the
// samples' relative order, and the Classes, Mean and Std of the split.

// Subset returns a split of n samples of s (all of them if n >= s.N, none
// if n <= 0) stratified by label: each label gets its share of n in
// proportion to its count in s (largest remainders first, the lower label
// on ties), and its first samples in s fill it. On a shuffled split this
// is close to the first n samples; on a split sorted by class it is not
// one class. It is deterministic (see Sample for a random draw). The
// images and labels are copied; Classes, Mean and Std are shared. Its Name
// is s.Name with "[:n stratified]" appended.
func Subset(s *Split, n int) *Split {
	if s == nil {
		return nil
	}
	n = max(0, min(n, usable(s)))
	byLabel, labels := indicesByLabel(s)
	quota := stratified(byLabel, labels, n)
	keep := make([]int, 0, n)
	for _, l := range labels {
		keep = append(keep, byLabel[l][:quota[l]]...)
	}
	return gather(s, fmt.Sprintf("%s[:%d stratified]", s.Name, n), keep)
}

// Sample returns a split of n samples of s drawn at random without
// replacement, stratified by label as Subset is (the same number of each
// label), from a math/rand source seeded with seed: the same seed gives
// the same sample. The samples keep their order in s and are copied. Its
// Name is s.Name with "[n sampled, seed S]" appended.
func Sample(s *Split, n int, seed int64) *Split {
	if s == nil {
		return nil
	}
	n = max(0, min(n, usable(s)))
	byLabel, labels := indicesByLabel(s)
	quota := stratified(byLabel, labels, n)
	rng := rand.New(rand.NewSource(seed))
	keep := make([]int, 0, n)
	for _, l := range labels {
		idx := byLabel[l]
		for _, j := range rng.Perm(len(idx))[:quota[l]] {
			keep = append(keep, idx[j])
		}
	}
	return gather(s, fmt.Sprintf("%s[%d sampled, seed %d]", s.Name, n, seed), keep)
}

// usable is the number of leading samples of s that have both an image
// and a label (all N of a consistent split).
func usable(s *Split) int {
	sz := s.ImageSize()
	if sz <= 0 {
		return 0
	}
	return min(max(s.N, 0), len(s.Labels), len(s.Images)/sz)
}

// indicesByLabel returns the indices of the usable samples of each label,
// in order, and the labels in increasing order.
func indicesByLabel(s *Split) (map[int][]int, []int) {
	byLabel := map[int][]int{}
	for i, l := range s.Labels[:usable(s)] {
		byLabel[l] = append(byLabel[l], i)
	}
	labels := make([]int, 0, len(byLabel))
	for l := range byLabel {
		labels = append(labels, l)
	}
	sort.Ints(labels)
	return byLabel, labels
}

// stratified splits n among the labels in proportion to their counts:
// each gets the floor of its exact share, and the samples left over go
// one each to the largest remainders (the lower label on ties).
func stratified(byLabel map[int][]int, labels []int, n int) map[int]int {
	total := 0
	for _, l := range labels {
		total += len(byLabel[l])
	}
	quota := make(map[int]int, len(labels))
	if total == 0 {
		return quota
	}
	left := n
	rems := make([]int, len(labels))
	for i, l := range labels {
		share := n * len(byLabel[l])
		quota[l] = share / total
		rems[i] = share % total
		left -= quota[l]
	}
	order := make([]int, len(labels))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return rems[order[a]] > rems[order[b]] })
	for _, i := range order[:left] {
		quota[labels[i]]++
	}
	return quota
}

// gather returns the split of the samples keep (indices into s, in any
// order), copied in increasing index order.
func gather(s *Split, name string, keep []int) *Split {
	sort.Ints(keep)
	sz := s.ImageSize()
	out := *s
	out.Name = name
	out.N = len(keep)
	out.Images = make([]uint8, 0, len(keep)*max(sz, 0))
	out.Labels = make([]int, 0, len(keep))
	for _, i := range keep {
		out.Labels = append(out.Labels, s.Labels[i])
		out.Images = append(out.Images, s.Images[i*sz:(i+1)*sz]...)
	}
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
