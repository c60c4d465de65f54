package train

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/bnzoo/bnzoo/analysis"
	"github.com/bnzoo/bnzoo/layers"
	"github.com/bnzoo/bnzoo/zoo"
)

// nullMetrics returns the names of a layer's null JSON fields (the pooled metrics, not the per-channel ones).
func nullMetrics(t *testing.T, l analysis.LayerMetrics) []string {
	t.Helper()
	b, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var out []string
	for k, v := range m {
		if v == nil {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// TestAnalyseReluLike checks that Analyse treats the ReLU-like activations as it treats relu: the same metrics are
// null (the saturation ones: the activations are unbounded), and sparsity and the next statistics are reported;
// tanh, bounded, has no null metric.
func TestAnalyseReluLike(t *testing.T) {
	split := synthSplit("synth", 8, 1, 8, 8, 3, 4)
	nulls := map[string][]string{}
	for _, act := range []string{"tanh", "relu", "leaky_relu", "elu", "silu", "gelu"} {
		m, err := zoo.New(zoo.Config{Arch: "vgg_mini", Classes: 3, InputShape: [3]int{1, 8, 8},
			Activation: layers.MustActivation(act), Placement: layers.Conventional, Seed: 1}, zoo.Float32)
		if err != nil {
			t.Fatal(err)
		}
		rep, _, err := newTestTrainer(t, m).Analyse(context.Background(), split, analysis.DefaultOptions(), "synth")
		if err != nil {
			t.Fatalf("%s: %v", act, err)
		}
		if len(rep.Layers) == 0 {
			t.Fatalf("%s: no layers analysed", act)
		}
		for _, l := range rep.Layers {
			if l.Samples == 0 || l.NextMean == nil || l.NextStd == nil || l.Sparsity < 0 || l.Sparsity > 1 {
				t.Errorf("%s %s: samples %d, next mean %v, std %v, sparsity %v", act, l.Name, l.Samples, l.NextMean,
					l.NextStd, l.Sparsity)
			}
			n := nullMetrics(t, l)
			if prev, ok := nulls[act]; ok && !slices.Equal(prev, n) {
				t.Errorf("%s: layers differ in their null metrics: %v and %v", act, prev, n)
			}
			nulls[act] = n
		}
	}
	if len(nulls["tanh"]) != 0 {
		t.Errorf("tanh: null metrics %v", nulls["tanh"])
	}
	if !slices.Contains(nulls["relu"], "saturation") || !slices.Contains(nulls["relu"], "asymmetric_saturation") {
		t.Fatalf("relu: null metrics %v, want the saturation ones", nulls["relu"])
	}
	for _, act := range []string{"leaky_relu", "elu", "silu", "gelu"} {
		if !slices.Equal(nulls[act], nulls["relu"]) {
			t.Errorf("%s: null metrics %v, relu's %v", act, nulls[act], nulls["relu"])
		}
	}
}
