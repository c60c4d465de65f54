// Package zoo builds bnzoo's architectures as Gorgonia graphs, each parameterised by activation and BatchNorm
// placement. A Model owns the parameters (a layers.Store); Build makes a graph for one batch size and phase over
// them, as many times as needed. Architectures are registered by name (see Names) and their parameter names follow
// PyTorch state-dict conventions so checkpoints and analysis rows line up. New takes the parameter type as
// zoo.Float32 or zoo.Float64 (ParseDtype reads it by name); Save and Load write and rebuild a model from one file.
package zoo
