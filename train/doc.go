// Package train runs zoo models on datasets: mini-batch training on the softmax cross-entropy with SGD (momentum,
// Nesterov), Adam or AdamW following torch.optim's update rules exactly, a learning-rate schedule (constant,
// multi-step, cosine, linear warm-up) evaluated per step from the run's position, progress bars with an ETA, an
// evaluation pass in evaluation mode after each epoch that counts every test sample once, and the per-epoch
// history.
//
// Trainer.Fit trains in memory. A Run trains in a directory (NewRun, Resume): run.json holds the full run config,
// log.csv and log.jsonl one row per epoch, checkpoints/ atomic checkpoints (weights and BatchNorm statistics in
// the zoo's safetensors format, optimizer state, position, history, config) of which the Keep newest and the best
// by test accuracy are kept. A cancelled context (SignalContext maps SIGINT and SIGTERM to one) lets the current
// step finish, writes a checkpoint and returns an *InterruptedError; a NaN or infinite loss, gradient or updated
// parameter stops the run with a *DivergenceError and writes nothing. A run directory is locked while a Run has
// it open, and a checkpoint is checked (checksums, finite tensors, a state consistent with its run) before it is
// resumed.
//
// A Predictor runs a model forward without a training recipe — one built with zoo.New or loaded with zoo.Load —
// and returns logits and probabilities for a batch or a split, top-1 and top-5 accuracy, and the per-layer
// analysis, on the same compiled graphs a Trainer evaluates with. Every call that takes data checks it against
// the model first (sample shape, batch size, labels) and returns an *InputError naming both sides.
//
// Every step is deterministic for a seed: the data order is a pure function of (seed, epoch) and the kernels do
// not depend on scheduling, so the same seed gives bit-identical weights, and a run resumed from any checkpoint
// ends bit-identical to an uninterrupted one.
package train
