// Package analysis turns tapped activations into per-layer statistics that
// compare BatchNorm placements around bounded activations.
//
// A model's units (weight layers) are tapped during evaluation. For every
// mini-batch the caller hands an [Accumulator] (usually through a
// [Collector]) two tensors laid out [n][C][hw]:
//
//   - a, the activation output of the unit, and
//   - t, what the next weight layer receives: the BatchNorm output when the
//     placement is "swapped" (conv → act → BN), or a itself when it is
//     "conventional" (conv → BN → act) or "none".
//
// The accumulators keep a fixed amount of state per channel, independent of
// how many samples stream through, and [Accumulator.Metrics] derives the
// layer's metrics from that state:
//
//   - saturation: the measure of Rakitianskaia & Engelbrecht (2015) on the
//     normalised output z = (2a − (U+L)) / (U − L) ∈ [−1, 1], binned into
//     Options.Bins equal bins: φ = Σ_b |Σ_{z∈b} z| / N;
//   - upper_fraction and lower_fraction: P(z > 1 − δ) and P(z < −1 + δ);
//   - asymmetric_saturation: the mean over channels of
//     |upper_fraction_c − lower_fraction_c|;
//   - skewness_abs_mean: the mean over channels of |g1_c|, the population
//     skewness of z, computed in one numerically stable streaming pass;
//   - center: the mean of z;
//   - sparsity: the fraction of |t| ≤ τ.
//
// Layers with an unbounded activation (relu, identity) report only sparsity;
// every other metric is null in their JSON. No metric is ever NaN.
//
// Results are deterministic for a fixed sequence of batches: nothing depends
// on map iteration order or on scheduling.
package analysis
