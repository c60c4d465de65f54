package layers

// Phase is the training/evaluation switch shared by every stateful op of one graph (BatchNorm, Dropout). Unlike
// Gorgonia's own BatchNorm, whose mode is reset by every NewTapeMachine call, bnzoo's ops read the phase when they
// run, so building a machine never changes it and never touches running statistics.
type Phase struct{ training bool }

// NewPhase returns a phase in training mode when training is true, evaluation mode otherwise.
func NewPhase(training bool) *Phase { return &Phase{training: training} }

// Training reports whether ops use batch statistics (and update running ones) and apply dropout.
func (p *Phase) Training() bool { return p != nil && p.training }

// SetTraining switches the phase; it takes effect at the next forward pass.
func (p *Phase) SetTraining(training bool) { p.training = training }
