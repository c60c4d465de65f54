package train

import "math"

// Output is what a model computes for a batch or a split: one row of logits per sample, in the data's order.
// Logits are float64 whatever the model's dtype (float32 logits are widened, which is exact), so outputs of
// float32 and float64 models are handled alike and two runs can be compared with ==.
type Output struct {
	N       int       // samples
	Classes int       // logits per sample
	Logits  []float64 // N×Classes, row-major
	Labels  []int     // the samples' labels, when the data had them; nil otherwise
}

// Row returns the logits of sample i (a sub-slice of Logits), or nil if i is out of range.
func (o *Output) Row(i int) []float64 {
	if i < 0 || i >= o.N {
		return nil
	}
	return o.Logits[i*o.Classes : (i+1)*o.Classes : (i+1)*o.Classes]
}

// Probabilities returns the softmax of every row (N×Classes, row-major, each row summing to 1), computed in
// float64 after subtracting the row's maximum so that large logits do not overflow.
func (o *Output) Probabilities() []float64 {
	p := make([]float64, len(o.Logits))
	for i := range o.N {
		row, dst := o.Row(i), p[i*o.Classes:(i+1)*o.Classes]
		hi := math.Inf(-1)
		for _, v := range row {
			hi = max(hi, v)
		}
		var sum float64
		for j, v := range row {
			dst[j] = math.Exp(v - hi)
			sum += dst[j]
		}
		for j := range dst {
			dst[j] /= sum
		}
	}
	return p
}

// Predicted returns each sample's predicted class: the index of its highest logit, the first one on ties (as the
// accuracy of Trainer.Evaluate counts).
func (o *Output) Predicted() []int {
	pred := make([]int, o.N)
	for i := range o.N {
		row, best := o.Row(i), 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		pred[i] = best
	}
	return pred
}

// TopK returns the fraction of samples whose label is among the k highest logits, ties broken towards the lower
// class index (so TopK(1) is Trainer.Evaluate's accuracy). It is 0 when the output has no labels or no samples.
func (o *Output) TopK(k int) float64 {
	if o.N == 0 || len(o.Labels) != o.N {
		return 0
	}
	hit := 0
	for i, l := range o.Labels {
		row := o.Row(i)
		if l < 0 || l >= len(row) {
			continue
		}
		// The label's rank: classes with a higher logit, and classes before it with an equal one.
		rank := 0
		for j, v := range row {
			if v > row[l] || (v == row[l] && j < l) {
				rank++
			}
		}
		if rank < k {
			hit++
		}
	}
	return float64(hit) / float64(o.N)
}
