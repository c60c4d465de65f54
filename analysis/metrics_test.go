package analysis

import (
	"encoding/json"
	"testing"
)

func TestLayerMetricsJSONGolden(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	m := LayerMetrics{
		Name: "features.3", Activation: "tanh", Placement: "swapped", Channels: 64,
		Saturation: f(0.5), UpperFraction: f(0.25), LowerFraction: f(0.125),
		AsymmetricSaturation: f(0.0625), SkewnessAbsMean: f(1.5), Center: f(-0.75),
		Sparsity: 0.375, Samples: 2560000,
	}
	got, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"name":"features.3","activation":"tanh","placement":"swapped","channels":64,` +
		`"saturation":0.5,"upper_fraction":0.25,"lower_fraction":0.125,"asymmetric_saturation":0.0625,` +
		`"skewness_abs_mean":1.5,"center":-0.75,"sparsity":0.375,"samples":2560000,` +
		`"next_mean":null,"next_std":null,"per_channel":null,"histograms":null}`
	if string(got) != want {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}

	// Unbounded layers: the six bounded metrics are null.
	got, err = json.Marshal(LayerMetrics{Name: "fc", Activation: "relu", Placement: "none", Channels: 10, Sparsity: 0.5, Samples: 4})
	if err != nil {
		t.Fatal(err)
	}
	const wantNull = `{"name":"fc","activation":"relu","placement":"none","channels":10,` +
		`"saturation":null,"upper_fraction":null,"lower_fraction":null,"asymmetric_saturation":null,` +
		`"skewness_abs_mean":null,"center":null,"sparsity":0.5,"samples":4,` +
		`"next_mean":null,"next_std":null,"per_channel":null,"histograms":null}`
	if string(got) != wantNull {
		t.Errorf("JSON\n got %s\nwant %s", got, wantNull)
	}
}
