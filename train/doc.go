// Package train runs zoo models on datasets: mini-batch SGD with momentum and weight decay on the softmax
// cross-entropy, a progress bar per epoch, an evaluation pass in evaluation mode after each epoch, and the
// per-epoch history returned to the caller. Every step is deterministic for a seed: the same seed gives
// bit-identical weights.
package train
