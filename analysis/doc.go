// Package analysis turns tapped activations into per-layer and per-channel
// statistics that compare BatchNorm placements around bounded activations,
// and writes them as JSON, CSV, Markdown and PNG figures.
//
// A model's units (weight layers) are tapped during evaluation. For every
// mini-batch the caller hands an [Accumulator] (usually through a
// [Collector]) two tensors laid out [n][C][hw]:
//
//   - a, the activation output of the unit, and
//   - t ("next"), what the next weight layer receives: the BatchNorm output
//     when the placement is "swapped" (conv → act → BN), or a itself when
//     it is "conventional" (conv → BN → act) or "none".
//
// The accumulators keep a fixed amount of state per channel, independent of
// how many samples stream through (moments, counters, Options.Bins
// saturation sums, a z histogram of Options.HistBins counts and a next
// histogram of Options.NextBins + 2 counts), and [Accumulator.Metrics]
// derives the layer's metrics from that state:
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
//   - sparsity: the fraction of |t| ≤ τ;
//   - next_mean and next_std: the mean and population standard deviation
//     of t. t is the BatchNorm output only for the swapped placement; for
//     the others these are the statistics of the activation output.
//
// Every layer also reports the same quantities per channel
// (LayerMetrics.PerChannel: upper and lower fraction, signed skewness,
// center, saturation φ_c, sparsity, next mean and std) and histograms
// (LayerMetrics.Histograms): z over [−1, 1] in Options.HistBins bins and t
// over [−Options.NextRange, Options.NextRange] (default [−4, 4]) in
// Options.NextBins bins with underflow and overflow counts, pooled over
// the channels and for the Options.TopChannels (k, default 4) most
// asymmetric channels, those with the largest |upper_c − lower_c|, ties
// broken by the lower channel index. The accumulator keeps both histograms
// for every channel, since the k channels are known only at the end.
//
// Layers with an unbounded activation (relu, identity) report only
// sparsity, the next statistics and the next histogram; every z metric is
// null in their JSON (and an empty cell in CSV), per layer and per
// channel. A layer that saw no values reports nulls. No metric is ever NaN
// (a constant channel has skewness 0).
//
// Output: [Report.WriteJSON] writes report.json; [WriteReportDir] writes a
// directory with report.json, layers.csv, channels.csv, report.md and
// figures/*.png; [WriteComparisonDir] compares two or more reports in
// comparison.md, comparison.csv and shared-axis figures. The figures are
// PNGs of a fixed size per type (at 96 dpi): the per-layer metrics grid
// 1200×900, a layer's histogram grid 1200×800, the upper-vs-lower scatter
// 800×800 and the pooled-histogram comparison 1200×550 pixels.
//
// Results are deterministic for a fixed sequence of batches: nothing depends
// on map iteration order or on scheduling, and the files written for a
// report are byte-identical from run to run.
package analysis
