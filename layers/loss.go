package layers

import (
	"fmt"

	G "gorgonia.org/gorgonia"
)

// CrossEntropy adds the mean softmax cross-entropy −(1/N)·Σ_n Σ_k t[n,k]·log softmax(z)[n,k] of (N, K) logits
// against (N, K) one-hot (or soft) targets — PyTorch's nn.CrossEntropyLoss with mean reduction. It is composed of
// LogSoftMax over the last axis and reductions over the last and first axes, which are correct in Gorgonia 0.9.18.
func CrossEntropy(logits, targets *G.Node) (*G.Node, error) {
	if !logits.Shape().Eq(targets.Shape()) || logits.Dims() != 2 {
		return nil, fmt.Errorf("cross-entropy: logits %v and targets %v must both be (N, K)", logits.Shape(), targets.Shape())
	}
	logp, err := G.LogSoftMax(logits, 1)
	if err != nil {
		return nil, err
	}
	prod, err := G.HadamardProd(targets, logp)
	if err != nil {
		return nil, err
	}
	perSample, err := G.Sum(prod, 1)
	if err != nil {
		return nil, err
	}
	mean, err := G.Mean(perSample)
	if err != nil {
		return nil, err
	}
	return G.Neg(mean)
}
