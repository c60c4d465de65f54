// Package layers holds bnzoo's building blocks: Gorgonia ops with their own forward and backward kernels
// (activations, batch normalisation, per-channel bias, dropout), graph fragments built from them (Conv2d, Dense,
// pooling, the weight → BN → activation "unit" in either placement), seeded initialisers, the parameter store that
// several graphs share, and taps that read a unit's intermediate values safely after a forward pass.
//
// bnzoo writes its own ops where Gorgonia 0.9.18 is wrong or stateful in a way that breaks the study (its BatchNorm
// op wipes running statistics whenever a machine is built; its Dropout scales the backward pass wrongly and seeds
// from the clock). Every op here is gradient-checked against finite differences in float64.
package layers
