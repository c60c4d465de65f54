package analysis

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func sampleReport(t *testing.T, placement string) *Report {
	t.Helper()
	specs := []LayerSpec{
		{Name: "features.0", Activation: "tanh", Placement: placement, Channels: 2, Lower: -1, Upper: 1},
		{Name: "features.3", Activation: "relu", Placement: placement, Channels: 1, Lower: 0, Upper: math.Inf(1)},
	}
	c, err := NewCollector(specs, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddFloat64("features.0", []float64{1, -1, 0.5, -0.5}, []float64{0, 0, 1, 1}, 2, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.AddFloat64("features.3", []float64{0, 2}, []float64{0, 2}, 2, 1); err != nil {
		t.Fatal(err)
	}
	return c.Report(ReportMeta{Model: "vgg11", Dataset: "cifar10", Activation: "tanh", Placement: placement, Seed: 42, TestAccuracy: 0.875, Samples: 2})
}

func TestReportRoundTrip(t *testing.T) {
	r := sampleReport(t, PlacementSwapped)
	path := filepath.Join(t.TempDir(), "report.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
	}
	// Overwriting works and leaves no temporary files behind.
	r.Seed = 43
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != "report.json" {
		t.Errorf("directory holds %v, want only report.json", entries)
	}
	if got, _ := ReadReport(path); got.Seed != 43 {
		t.Errorf("seed after overwrite = %d, want 43", got.Seed)
	}
}

func TestReportJSONTopLevelFields(t *testing.T) {
	// ReportMeta and Options are flattened into the top-level object.
	r := sampleReport(t, PlacementConventional)
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"model": `"vgg11"`, "dataset": `"cifar10"`, "activation": `"tanh"`, "placement": `"conventional"`,
		"seed": `42`, "test_accuracy": `0.875`, "samples": `2`, "delta": `0.1`, "tau": `0.1`, "bins": `10`,
		"hist_bins": `50`, "next_bins": `80`, "next_range": `4`, "top_channels": `4`,
	}
	for k, v := range want {
		if string(top[k]) != v {
			t.Errorf("top-level %q = %s, want %s", k, top[k], v)
		}
	}
	if _, ok := top["layers"]; !ok || len(top) != len(want)+1 {
		t.Errorf("top-level keys: %d, want %d plus layers", len(top), len(want))
	}
	if strings.Contains(string(data), "NaN") {
		t.Errorf("JSON contains NaN:\n%s", data)
	}
}

func TestWriteJSONErrors(t *testing.T) {
	dir := t.TempDir()
	r := sampleReport(t, PlacementSwapped)
	r.TestAccuracy = math.NaN()
	path := filepath.Join(dir, "nan.json")
	if err := r.WriteJSON(path); err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "test_accuracy") {
		t.Errorf("NaN accuracy: error %v, want one naming the path and test_accuracy", err)
	}
	r = sampleReport(t, PlacementSwapped)
	v := math.Inf(1)
	r.Layers[0].Center = &v
	if err := r.WriteJSON(path); err == nil || !strings.Contains(err.Error(), "center") {
		t.Errorf("Inf center: error %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed write left %s behind", path)
	}
	missing := filepath.Join(dir, "no", "such", "dir", "r.json")
	if err := sampleReport(t, PlacementSwapped).WriteJSON(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing dir: error %v, want one naming %s", err, missing)
	}
	var nilReport *Report
	if err := nilReport.WriteJSON(path); err == nil {
		t.Error("nil report written")
	}
	// An empty report writes "layers": [].
	empty := filepath.Join(dir, "empty.json")
	if err := (&Report{Options: DefaultOptions()}).WriteJSON(empty); err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(empty); !strings.Contains(string(data), `"layers": []`) {
		t.Errorf("empty report:\n%s", data)
	}
}

func TestReadReportErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.json")
	if _, err := ReadReport(missing); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: error %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadReport(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("bad JSON: error %v", err)
	}
}

func TestReportLayer(t *testing.T) {
	r := sampleReport(t, PlacementSwapped)
	if l, ok := r.Layer("features.3"); !ok || l.Activation != "relu" {
		t.Errorf("Layer(features.3) = %+v, %v", l, ok)
	}
	if _, ok := r.Layer("nope"); ok {
		t.Error("Layer(nope) found")
	}
}

// TestReadReportRefusesIncomplete: any JSON object unmarshals into a Report, so `saturation-report -compare`
// accepted "{}" and failed later in a figure with "label 1 is empty". ReadReport now names the missing key.
func TestReadReportRefusesIncomplete(t *testing.T) {
	dir := t.TempDir()
	for body, want := range map[string]string{
		`{}`: `"model" is missing`,
		`{"model":"vgg_mini","activation":"tanh","placement":"swapped","samples":10}`:                        `"layers" is missing`,
		`{"model":"vgg_mini","activation":"tanh","placement":"swapped","samples":0,"layers":[{"name":"a"}]}`: `"samples" must be positive`,
		`{"model":"vgg_mini","activation":"tanh","placement":"swapped","samples":5,"layers":[{}]}`:           `layer 0 has no name`,
	} {
		path := filepath.Join(dir, "r.json")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadReport(path); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: %v, want an error naming the file and %s", body, err, want)
		}
	}
}
