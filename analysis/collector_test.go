package analysis

import (
	"math"
	"strings"
	"sync"
	"testing"
)

func testSpecs() []LayerSpec {
	return []LayerSpec{
		{Name: "features.0", Activation: "tanh", Placement: PlacementSwapped, Channels: 2, Lower: -1, Upper: 1},
		{Name: "features.3", Activation: "relu", Placement: PlacementSwapped, Channels: 1, Lower: 0, Upper: math.Inf(1)},
		{Name: "classifier.0", Activation: "tanh", Placement: PlacementSwapped, Channels: 3, Lower: -1, Upper: 1},
	}
}

func TestCollectorReportOrderAndValues(t *testing.T) {
	c, err := NewCollector(testSpecs(), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	// features.0: n=2, C=2, hw=1; channel 0 = {1, 1}, channel 1 = {−1, −1}:
	// asym 1, center 0 (see TestOneSidedChannels).
	if err := c.Add("features.0", []float32{1, -1, 1, -1}, []float32{0, 0, 1, 1}, 2, 1); err != nil {
		t.Fatal(err)
	}
	// features.3 (relu): t = {0, 0.5, 0, 3} → sparsity 1/2.
	if err := c.AddFloat64("features.3", []float64{0, 0.5, 0, 3}, []float64{0, 0.5, 0, 3}, 4, 1); err != nil {
		t.Fatal(err)
	}
	r := c.Report(ReportMeta{Model: "vgg", Placement: PlacementSwapped})
	names := []string{}
	for _, l := range r.Layers {
		names = append(names, l.Name)
	}
	if strings.Join(names, ",") != "features.0,features.3,classifier.0" {
		t.Fatalf("layers in order %v, want model order", names)
	}
	l0 := r.Layers[0]
	if *l0.AsymmetricSaturation != 1 || *l0.Center != 0 || l0.Sparsity != 0.5 || l0.Samples != 2 {
		t.Errorf("features.0 = asym %v center %v sparsity %v samples %d, want 1, 0, 0.5, 2",
			*l0.AsymmetricSaturation, *l0.Center, l0.Sparsity, l0.Samples)
	}
	if l1 := r.Layers[1]; l1.Saturation != nil || l1.Sparsity != 0.5 {
		t.Errorf("features.3 = saturation %v sparsity %v, want null and 0.5", l1.Saturation, l1.Sparsity)
	}
	if l2 := r.Layers[2]; l2.Samples != 0 || l2.Saturation != nil {
		t.Errorf("classifier.0 saw nothing but reports samples %d saturation %v", l2.Samples, l2.Saturation)
	}
	if r.Options != DefaultOptions() || r.Model != "vgg" {
		t.Errorf("report options %+v model %q", r.Options, r.Model)
	}
	if got := c.Specs(); len(got) != 3 || got[2].Name != "classifier.0" {
		t.Errorf("Specs() = %+v", got)
	}
}

func TestCollectorErrors(t *testing.T) {
	specs := testSpecs()
	specs[2].Name = "features.0"
	if _, err := NewCollector(specs, DefaultOptions()); err == nil || !strings.Contains(err.Error(), `duplicate layer name "features.0"`) {
		t.Errorf("duplicate names: error %v", err)
	}
	if _, err := NewCollector(testSpecs(), Options{Delta: 0.1, Tau: 0.1}); err == nil || !strings.Contains(err.Error(), "Bins") {
		t.Errorf("bad options: error %v", err)
	}
	bad := testSpecs()
	bad[1].Channels = 0
	if _, err := NewCollector(bad, DefaultOptions()); err == nil || !strings.Contains(err.Error(), "features.3") {
		t.Errorf("bad spec: error %v", err)
	}
	c, err := NewCollector(testSpecs(), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Add("features.9", nil, nil, 0, 1); err == nil || !strings.Contains(err.Error(), `unknown layer "features.9"`) {
		t.Errorf("unknown layer: error %v", err)
	}
	if err := c.AddFloat64("nope", nil, nil, 0, 1); err == nil {
		t.Error("unknown layer accepted by AddFloat64")
	}
	if err := c.Add("features.0", make([]float32, 3), make([]float32, 4), 2, 1); err == nil || !strings.Contains(err.Error(), "features.0") {
		t.Errorf("length mismatch: error %v", err)
	}
}

func TestCollectorConcurrentLayers(t *testing.T) {
	// Different layers may be fed from different goroutines (run with -race).
	c, err := NewCollector(testSpecs(), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, s := range c.Specs() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := make([]float32, 4*s.Channels)
			for range 10 {
				if err := c.Add(s.Name, x, x, 4, 1); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for _, l := range c.Report(ReportMeta{}).Layers {
		if l.Samples != 40 || l.Sparsity != 1 {
			t.Errorf("%s: samples %d sparsity %v, want 40 and 1", l.Name, l.Samples, l.Sparsity)
		}
	}
}
