package train

// RunState is where a run stands: everything besides tensors (weights, BatchNorm statistics, optimizer state) that
// a resumed run needs to continue exactly as an uninterrupted one. A checkpoint's state.json holds it.
type RunState struct {
	Position Position `json:"position"`
	// GlobalStep counts the optimizer steps taken since the start of the run.
	GlobalStep    int `json:"global_step"`
	StepsPerEpoch int `json:"steps_per_epoch"`
	// LR is the learning rate of the next step (informative: the schedule recomputes it from the position).
	LR  float64  `json:"lr"`
	RNG RNGState `json:"rng"`
	// EpochProgress accumulates the epoch in progress, so that its logged train loss and accuracy come out the same
	// when it is interrupted and resumed.
	EpochProgress EpochProgress   `json:"epoch_progress"`
	History       []EpochStats    `json:"history"`
	Best          *BestCheckpoint `json:"best,omitempty"`
	// Data identifies the splits the run trains and evaluates on; resuming with others is an error.
	Data *DataRecord `json:"data,omitempty"`
}

// RNGState is a run's whole random state. The data order is a pure function of (seed, epoch) — see
// datasets.Loader.Epoch — and the zoo's models have no dropout, so the seed and the position in the epoch's order
// are all there is.
type RNGState struct {
	Seed  int64 `json:"seed"`
	Epoch int   `json:"epoch"` // the epoch whose order is in use (0-based, as Loader.Epoch takes it)
	Step  int   `json:"step"`  // batches of that order already consumed
}

// EpochProgress sums the training batches of the epoch in progress.
type EpochProgress struct {
	LossSum      float64 `json:"loss_sum"` // Σ batch mean loss × batch size
	Correct      int     `json:"correct"`
	Seen         int     `json:"seen"`
	TrainSeconds float64 `json:"train_seconds"` // wall time spent on this epoch's steps so far
}

// BestCheckpoint names the end-of-epoch checkpoint with the highest accuracy on the evaluation split (the
// validation split when the run has one; the earliest on ties).
type BestCheckpoint struct {
	Checkpoint string  `json:"checkpoint"`
	Epoch      int     `json:"epoch"`
	EvalAcc    float64 `json:"eval_acc"`
}

// DataRecord identifies a run's splits by name and size.
type DataRecord struct {
	Train        string `json:"train"`
	TrainSamples int    `json:"train_samples"`
	Eval         string `json:"eval,omitempty"`
	EvalSamples  int    `json:"eval_samples,omitempty"`
}

// clone returns a deep copy (the history and best are shared otherwise).
func (s RunState) clone() RunState {
	s.History = append([]EpochStats(nil), s.History...)
	if s.Best != nil {
		b := *s.Best
		s.Best = &b
	}
	if s.Data != nil {
		d := *s.Data
		s.Data = &d
	}
	return s
}
