package datasets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Holdout splits s into a training part and a validation part: for each label, round(fraction × count) of its
// samples (rounding halves up, at least one when fraction > 0 and the label has two or more samples, and never all
// of them) are drawn at random with seed and go to val, the rest to train. It is stratified, so the validation
// part has the class balance of s even when s is sorted by class, and it depends only on (s, fraction, seed): every
// run of a study that holds out with the same seed validates on the same images. Both parts keep the samples'
// relative order and share s's Classes, Mean and Std (the normalisation constants stay those of the whole training
// set, as a held-out set must be normalised like the data the model trains on). The images are copied.
//
// fraction must be in (0, 1); s must be consistent (Split.Validate).
func Holdout(s *Split, fraction float64, seed int64) (train, val *Split, err error) {
	if !(fraction > 0 && fraction < 1) {
		return nil, nil, fmt.Errorf("datasets: validation fraction must be in (0, 1), got %v", fraction)
	}
	if err := s.Validate(); err != nil {
		return nil, nil, err
	}
	byLabel := map[int][]int{}
	var labels []int // in order of first appearance, so the draw does not depend on map order
	for i, l := range s.Labels[:s.N] {
		if _, ok := byLabel[l]; !ok {
			labels = append(labels, l)
		}
		byLabel[l] = append(byLabel[l], i)
	}
	inVal := make([]bool, s.N)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x686f6c646f7574)) // "holdout"
	for _, l := range labels {
		idx := byLabel[l]
		k := int(math.Floor(fraction*float64(len(idx)) + 0.5))
		if k == 0 && len(idx) >= 2 {
			k = 1
		}
		k = min(k, len(idx)-1)
		// A partial Fisher–Yates shuffle picks k of the label's samples uniformly.
		perm := append([]int(nil), idx...)
		for j := 0; j < k; j++ {
			r := j + rng.IntN(len(perm)-j)
			perm[j], perm[r] = perm[r], perm[j]
			inVal[perm[j]] = true
		}
	}
	frac := strconv.FormatFloat(fraction, 'g', -1, 64)
	train = take(s, s.Name+"[train, val="+frac+" seed="+strconv.FormatInt(seed, 10)+"]", func(i int) bool { return !inVal[i] })
	val = take(s, s.Name+"[val="+frac+" seed="+strconv.FormatInt(seed, 10)+"]", func(i int) bool { return inVal[i] })
	return train, val, nil
}

// take copies the samples i of s with keep(i) into a new split named name.
func take(s *Split, name string, keep func(i int) bool) *Split {
	sz := s.ImageSize()
	out := *s
	out.Name = name
	out.Images, out.Labels = nil, nil
	for i := 0; i < s.N; i++ {
		if keep(i) {
			out.Labels = append(out.Labels, s.Labels[i])
			out.Images = append(out.Images, s.Images[i*sz:(i+1)*sz]...)
		}
	}
	out.N = len(out.Labels)
	return &out
}
