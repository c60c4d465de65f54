package analysis

// LayerMetrics are the metrics of one layer. The pointer fields are null in
// JSON when the layer's activation is unbounded or the layer saw no values;
// no field is ever NaN.
type LayerMetrics struct {
	// Name, Activation, Placement and Channels are copied from the
	// LayerSpec.
	Name       string `json:"name"`
	Activation string `json:"activation"`
	Placement  string `json:"placement"`
	Channels   int    `json:"channels"`
	// Saturation is φ = Σ_b |Σ_{z∈b} z| / N over Options.Bins equal bins
	// of [−1, 1], pooled over all channels (Rakitianskaia & Engelbrecht,
	// 2015).
	Saturation *float64 `json:"saturation"`
	// UpperFraction is P(z > 1 − δ), pooled over all channels.
	UpperFraction *float64 `json:"upper_fraction"`
	// LowerFraction is P(z < −1 + δ), pooled over all channels.
	LowerFraction *float64 `json:"lower_fraction"`
	// AsymmetricSaturation is the mean over channels of
	// |upper_fraction_c − lower_fraction_c|.
	AsymmetricSaturation *float64 `json:"asymmetric_saturation"`
	// SkewnessAbsMean is the mean over channels of the absolute
	// population skewness of z (0 for a constant channel).
	SkewnessAbsMean *float64 `json:"skewness_abs_mean"`
	// Center is the mean of z, pooled over all channels.
	Center *float64 `json:"center"`
	// Sparsity is the fraction of values t received by the next weight
	// layer with |t| ≤ τ, pooled over all channels; 0 when no values were
	// seen.
	Sparsity float64 `json:"sparsity"`
	// Samples is the number of values seen per channel (batch size times
	// spatial size, summed over batches); the layer saw Samples·Channels
	// values in all.
	Samples int64 `json:"samples"`
}
