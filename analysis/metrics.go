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
	// NextMean and NextStd are the mean and the population standard
	// deviation (divided by N) of next, pooled over all channels. next is
	// the BatchNorm output only for the swapped placement; for the others
	// it is the activation output a. Null when the layer saw no values.
	NextMean *float64 `json:"next_mean"`
	NextStd  *float64 `json:"next_std"`
	// PerChannel holds one entry per channel, in channel order. (The JSON
	// key is not "channels", which already holds the channel count.)
	PerChannel []ChannelMetrics `json:"per_channel"`
	// Histograms are the pooled histograms and those of the most
	// asymmetric channels. Null in reports written before they existed.
	Histograms *LayerHistograms `json:"histograms"`
}

// ChannelMetrics are the metrics of one channel of a layer. The pointer
// fields are null when the layer saw no values; the z metrics (upper and
// lower fraction, skewness, center, saturation) are also null when the
// activation is unbounded. No field is ever NaN.
type ChannelMetrics struct {
	// Index is the channel's index in [0, Channels).
	Index int `json:"index"`
	// UpperFraction and LowerFraction are the channel's P(z > 1 − δ) and
	// P(z < −1 + δ).
	UpperFraction *float64 `json:"upper_fraction"`
	LowerFraction *float64 `json:"lower_fraction"`
	// Skewness is the signed population skewness g1 of the channel's z
	// (0 for a constant channel).
	Skewness *float64 `json:"skewness"`
	// Center is the mean of the channel's z.
	Center *float64 `json:"center"`
	// Saturation is the channel's φ over Options.Bins bins.
	Saturation *float64 `json:"saturation"`
	// Sparsity is the fraction of the channel's next values with |t| ≤ τ.
	Sparsity *float64 `json:"sparsity"`
	// NextMean and NextStd are the mean and the population standard
	// deviation of the channel's next values (the BatchNorm output for
	// the swapped placement, the activation output otherwise).
	NextMean *float64 `json:"next_mean"`
	NextStd  *float64 `json:"next_std"`
}

// Histogram is a histogram with equal bins over [Lo, Hi]: bin k of
// len(Counts) covers [Lo + k·w, Lo + (k+1)·w) with w = (Hi − Lo)/len(Counts),
// the last bin also holding Hi. A value v falls in bin
// ⌊(v − Lo)·len(Counts)/(Hi − Lo)⌋, computed in float64. Values below Lo
// and above Hi are counted in Underflow and Overflow (always 0 for z, which
// is clamped to [−1, 1]).
type Histogram struct {
	Lo        float64 `json:"lo"`
	Hi        float64 `json:"hi"`
	Counts    []int64 `json:"counts"`
	Underflow int64   `json:"underflow"`
	Overflow  int64   `json:"overflow"`
}

// Total returns the number of values counted, underflow and overflow
// included.
func (h *Histogram) Total() int64 {
	if h == nil {
		return 0
	}
	t := h.Underflow + h.Overflow
	for _, c := range h.Counts {
		t += c
	}
	return t
}

// ChannelHistograms are the histograms of one channel.
type ChannelHistograms struct {
	// Channel is the channel's index.
	Channel int `json:"channel"`
	// Z is the histogram of the channel's z over [−1, 1]
	// (Options.HistBins bins).
	Z *Histogram `json:"z"`
	// Next is the histogram of the channel's next values over
	// [−Options.NextRange, Options.NextRange] (Options.NextBins bins).
	Next *Histogram `json:"next"`
}

// LayerHistograms are a layer's histograms.
type LayerHistograms struct {
	// Z is the histogram of z pooled over all channels; null when the
	// activation is unbounded or the layer saw no values.
	Z *Histogram `json:"z"`
	// Next is the histogram of next pooled over all channels; null when
	// the layer saw no values.
	Next *Histogram `json:"next"`
	// TopChannels are the histograms of the Options.TopChannels most
	// asymmetric channels (largest |upper_fraction_c − lower_fraction_c|,
	// ties by channel index), most asymmetric first. Empty when the
	// activation is unbounded or the layer saw no values.
	TopChannels []ChannelHistograms `json:"top_channels"`
}
