package analysis

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (rerun with -update if intended):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

// jsonStructure lists every path of a JSON document with the types found
// there ("." for object keys, "[]" for array elements, types sorted and
// joined by "|"), in order of first appearance.
func jsonStructure(data []byte) (string, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var order []string
	types := map[string][]string{} // looked up; printed in order
	add := func(path, typ string) {
		if _, ok := types[path]; !ok {
			order = append(order, path)
		}
		if !slices.Contains(types[path], typ) {
			types[path] = append(types[path], typ)
		}
	}
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch v := tok.(type) {
		case json.Delim:
			if v == '{' {
				add(path, "object")
				for dec.More() {
					k, err := dec.Token()
					if err != nil {
						return err
					}
					if err := walk(path + "." + k.(string)); err != nil {
						return err
					}
				}
			} else {
				add(path, "array")
				for dec.More() {
					if err := walk(path + "[]"); err != nil {
						return err
					}
				}
			}
			_, err = dec.Token() // closing delimiter
			return err
		case string:
			add(path, "string")
		case float64:
			add(path, "number")
		case bool:
			add(path, "bool")
		case nil:
			add(path, "null")
		}
		return nil
	}
	if err := walk(""); err != nil {
		return "", err
	}
	var b strings.Builder
	for _, p := range order {
		ts := slices.Clone(types[p])
		slices.Sort(ts)
		if p == "" {
			p = "."
		}
		fmt.Fprintf(&b, "%s: %s\n", p, strings.Join(ts, "|"))
	}
	return b.String(), nil
}

// withEmptyLayer returns a report of the synthetic model plus a tanh layer
// that saw no values.
func withEmptyLayer(t *testing.T) *Report {
	r := synthReport(t, PlacementConventional, 1)
	a := newAcc(t, LayerSpec{Name: "classifier.3", Activation: "tanh", Placement: PlacementConventional, Lower: -1, Upper: 1}, 2, DefaultOptions())
	r.Layers = append(r.Layers, a.Metrics())
	return r
}

func TestReportJSONStructureGolden(t *testing.T) {
	path := filepath.Join(t.TempDir(), "report.json")
	if err := withEmptyLayer(t).WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := jsonStructure(data)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report_structure.golden", got)
}

// firstLine returns the first line of a file.
func firstLine(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Scan()
	return s.Text()
}

func TestCSVHeadersGolden(t *testing.T) {
	dir := t.TempDir()
	r := withEmptyLayer(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	lc, err := layersCSV(r)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := channelsCSV(r)
	if err != nil {
		t.Fatal(err)
	}
	rows := comparisonRows([]*Report{r, r}, layerNames([]*Report{r}))
	c2, err := comparisonCSV([]string{"conventional", "swapped"}, rows)
	if err != nil {
		t.Fatal(err)
	}
	rows3 := comparisonRows([]*Report{r, r, r}, layerNames([]*Report{r}))
	c3, err := comparisonCSV([]string{"tanh conventional", "tanh swapped", "lecun_tanh, swapped"}, rows3)
	if err != nil {
		t.Fatal(err)
	}
	head := func(b []byte) string { l, _, _ := strings.Cut(string(b), "\n"); return l }
	got := "layers.csv: " + head(lc) + "\n" +
		"channels.csv: " + head(cc) + "\n" +
		"comparison.csv (2 reports): " + head(c2) + "\n" +
		"comparison.csv (3 reports): " + head(c3) + "\n"
	golden(t, "csv_headers.golden", got)
}

// pngSize decodes a PNG file and returns its size.
func pngSize(t *testing.T, path string) (int, int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	return b.Dx(), b.Dy()
}

// wantFigureSize returns the documented size of a figure from its name.
func wantFigureSize(name string) (int, int) {
	switch {
	case name == LayerMetricsFigure:
		return metricsFigureW, metricsFigureH
	case strings.HasPrefix(name, "z_hist_"), strings.HasPrefix(name, "next_hist_"):
		return histFigureW, histFigureH
	case strings.HasPrefix(name, "saturated_fractions_"):
		return scatterFigureW, scatterFigureH
	case strings.HasPrefix(name, "pooled_hist_"):
		return pooledFigureW, pooledFigureH
	}
	return 0, 0
}

// checkFigures decodes every PNG in dir/figures, checks its size and that
// the Markdown file links exactly these figures, and returns their names.
func checkFigures(t *testing.T, dir, mdFile string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(dir, FiguresDir))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
		w, h := pngSize(t, filepath.Join(dir, FiguresDir, e.Name()))
		ww, wh := wantFigureSize(e.Name())
		if w != ww || h != wh {
			t.Errorf("%s is %d×%d, want %d×%d", e.Name(), w, h, ww, wh)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, mdFile))
	if err != nil {
		t.Fatal(err)
	}
	var linked []string
	for _, m := range regexp.MustCompile(`\]\(figures/([^)]+)\)`).FindAllStringSubmatch(string(md), -1) {
		linked = append(linked, m[1])
	}
	slices.Sort(linked)
	if !reflect.DeepEqual(linked, names) {
		t.Errorf("%s links %v, figures/ holds %v", mdFile, linked, names)
	}
	return names
}

// readAll returns the contents of every regular file under dir by
// relative path.
func readAll(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		b, err := os.ReadFile(p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestWriteReportDir(t *testing.T) {
	r := withEmptyLayer(t)
	dir := filepath.Join(t.TempDir(), "out", "conventional") // created
	if err := WriteReportDir(dir, r); err != nil {
		t.Fatal(err)
	}
	figs := checkFigures(t, dir, ReportMarkdownFile)
	// Per layer: z and next histograms and the scatter for the tanh
	// layers; only the next histogram for relu; nothing for the empty
	// layer (index 4).
	want := []string{"layer_metrics.png",
		"next_hist_00_features.0.png", "next_hist_01_features.3.png", "next_hist_02_features.6.png", "next_hist_03_classifier.0.png",
		"saturated_fractions_00_features.0.png", "saturated_fractions_01_features.3.png", "saturated_fractions_03_classifier.0.png",
		"z_hist_00_features.0.png", "z_hist_01_features.3.png", "z_hist_03_classifier.0.png"}
	if !reflect.DeepEqual(figs, want) {
		t.Errorf("figures %v\nwant %v", figs, want)
	}
	files := readAll(t, dir)
	for _, f := range []string{ReportJSONFile, LayersCSVFile, ChannelsCSVFile, ReportMarkdownFile} {
		if _, ok := files[f]; !ok {
			t.Errorf("%s not written", f)
		}
	}
	if len(files) != 4+len(want) {
		t.Errorf("%d files written, want %d (no temporary files)", len(files), 4+len(want))
	}
	for name, b := range files {
		if !strings.HasSuffix(name, ".png") && (bytes.Contains(b, []byte("NaN")) || bytes.Contains(b, []byte("Inf"))) {
			t.Errorf("%s contains NaN or Inf", name)
		}
	}

	got, err := ReadReportDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("ReadReportDir does not give back the report")
	}

	// CSV rows: one per layer and one per channel; the relu layer's z
	// cells and the empty layer's cells are empty.
	lines := strings.Split(strings.TrimSpace(string(files[LayersCSVFile])), "\n")
	if len(lines) != 1+len(r.Layers) {
		t.Fatalf("layers.csv has %d lines", len(lines))
	}
	if !strings.HasPrefix(lines[3], "2,features.6,relu,conventional,8,1536,,,,,,,0.4873046875,") {
		t.Errorf("relu row %q", lines[3])
	}
	if lines[5] != "4,classifier.3,tanh,conventional,2,0,,,,,,,0,," {
		t.Errorf("empty layer row %q", lines[5])
	}
	clines := strings.Split(strings.TrimSpace(string(files[ChannelsCSVFile])), "\n")
	nch := 0
	for _, l := range r.Layers {
		nch += l.Channels
	}
	if len(clines) != 1+nch {
		t.Fatalf("channels.csv has %d lines, want %d", len(clines), 1+nch)
	}
	if want := "4,classifier.3,1,,,,,,,,"; clines[len(clines)-1] != want {
		t.Errorf("empty layer channel row %q, want %q", clines[len(clines)-1], want)
	}
	relu := r.Layers[2].PerChannel[0]
	wantRow := fmt.Sprintf("2,features.6,0,,,,,,%s,%s,%s", strconv.FormatFloat(*relu.Sparsity, 'g', -1, 64),
		strconv.FormatFloat(*relu.NextMean, 'g', -1, 64), strconv.FormatFloat(*relu.NextStd, 'g', -1, 64))
	if !slices.Contains(clines, wantRow) {
		t.Errorf("channels.csv lacks the relu row %q", wantRow)
	}

	md := string(files[ReportMarkdownFile])
	for _, s := range []string{"# Activation analysis: vgg_mini cifar10 tanh conventional",
		"| 2 | features.6 | relu | conventional | 8 | — | — | — | — | — | — | 0.4873 |",
		"| 4 | classifier.3 | tanh | conventional | 2 | — |", "δ = 0.1", "τ = 0.1"} {
		if !strings.Contains(md, s) {
			t.Errorf("report.md lacks %q", s)
		}
	}

	// Writing again (over the old files, and into a fresh directory)
	// gives byte-identical files.
	if err := WriteReportDir(dir, r); err != nil {
		t.Fatal(err)
	}
	again := readAll(t, dir)
	if len(again) != len(files) {
		t.Errorf("rewrite left %d files, want %d", len(again), len(files))
	}
	for name, b := range files {
		if !bytes.Equal(again[name], b) {
			t.Errorf("%s differs between two writes", name)
		}
	}
}

func TestWriteComparisonDir(t *testing.T) {
	conv := synthReport(t, PlacementConventional, 1)
	swap := synthReport(t, PlacementSwapped, 2)
	dir := t.TempDir()
	if err := WriteComparisonDir(dir, []*Report{conv, swap}, []string{"tanh conventional", "tanh swapped"}); err != nil {
		t.Fatal(err)
	}
	figs := checkFigures(t, dir, ComparisonMDFile)
	if len(figs) != 1+4+3 {
		t.Errorf("figures %v: want layer_metrics, 4 pooled histograms, 3 scatters", figs)
	}
	md, err := os.ReadFile(filepath.Join(dir, ComparisonMDFile))
	if err != nil {
		t.Fatal(err)
	}
	csvData, err := os.ReadFile(filepath.Join(dir, ComparisonCSVFile))
	if err != nil {
		t.Fatal(err)
	}
	a, b := *conv.Layers[0].Saturation, *swap.Layers[0].Saturation
	for _, s := range []string{
		"# Comparison: tanh conventional vs tanh swapped",
		"| layer | metric | tanh conventional | tanh swapped | tanh swapped − tanh conventional |",
		fmt.Sprintf("| features.0 | saturation | %.4f | %.4f | %+.4f |", a, b, b-a),
		"| test accuracy | 0.8700 | 0.8900 | +0.0200 |",
		"| features.6 | sparsity |",
	} {
		if !strings.Contains(string(md), s) {
			t.Errorf("comparison.md lacks %q", s)
		}
	}
	if strings.Contains(string(md), "| features.6 | saturation |") {
		t.Error("comparison.md lists the relu layer's null saturation")
	}
	row := fmt.Sprintf("0,features.0,saturation,%s,%s,%s", strconv.FormatFloat(a, 'g', -1, 64),
		strconv.FormatFloat(b, 'g', -1, 64), strconv.FormatFloat(b-a, 'g', -1, 64))
	if !strings.Contains(string(csvData), row+"\n") {
		t.Errorf("comparison.csv lacks %q", row)
	}
	if !strings.Contains(string(csvData), "2,features.6,saturation,,,\n") {
		t.Errorf("comparison.csv lacks the null relu saturation row")
	}
	if !strings.HasPrefix(string(csvData), "layer_index,layer,metric,tanh conventional,tanh swapped,tanh swapped - tanh conventional\n") {
		t.Errorf("comparison.csv header %q", firstLine(t, filepath.Join(dir, ComparisonCSVFile)))
	}

	// Three reports, default labels: one column per report, no difference.
	lecun := synthReport(t, PlacementSwapped, 3)
	lecun.Activation = "lecun_tanh"
	dir3 := t.TempDir()
	if err := WriteComparisonDir(dir3, []*Report{conv, swap, lecun}, nil); err != nil {
		t.Fatal(err)
	}
	md3, err := os.ReadFile(filepath.Join(dir3, ComparisonMDFile))
	if err != nil {
		t.Fatal(err)
	}
	labels := tableLabels([]*Report{conv, swap, lecun})
	head := "| layer | metric | " + strings.Join(labels, " | ") + " |\n"
	if !strings.Contains(string(md3), head) {
		t.Errorf("comparison.md of 3 reports lacks the header %q:\n%s", head, md3)
	}
	if h := firstLine(t, filepath.Join(dir3, ComparisonCSVFile)); h != "layer_index,layer,metric,"+strings.Join(labels, ",") {
		t.Errorf("3-report CSV header %q", h)
	}
}

func TestOldReportsStillRender(t *testing.T) {
	// Reports without per-channel data and histograms (as written before
	// they existed) still give a directory, with the metrics figure only.
	conv, swap := tableReports()
	dir := t.TempDir()
	if err := WriteReportDir(dir, conv); err != nil {
		t.Fatal(err)
	}
	if figs := checkFigures(t, dir, ReportMarkdownFile); !reflect.DeepEqual(figs, []string{LayerMetricsFigure}) {
		t.Errorf("figures %v", figs)
	}
	cdir := t.TempDir()
	if err := WriteComparisonDir(cdir, []*Report{conv, swap}, nil); err != nil {
		t.Fatal(err)
	}
	checkFigures(t, cdir, ComparisonMDFile)
	// Only unbounded or empty layers: the saturation panels say so.
	r := &Report{Options: DefaultOptions(), Layers: []LayerMetrics{{Name: "fc", Activation: "relu", Sparsity: 0.5, Samples: 3}}}
	if err := WriteReportDir(t.TempDir(), r); err != nil {
		t.Fatal(err)
	}
	if err := WriteReportDir(t.TempDir(), &Report{Options: DefaultOptions()}); err != nil {
		t.Fatalf("report without layers: %v", err)
	}
}

func TestFigureFunctions(t *testing.T) {
	conv := synthReport(t, PlacementConventional, 1)
	swap := synthReport(t, PlacementSwapped, 2)
	dir := t.TempDir()
	p := func(name string) string { return filepath.Join(dir, name) }
	both := []*Report{conv, swap}
	for _, c := range []struct {
		name string
		err  error
		w, h int
	}{
		{"metrics.png", WriteLayerMetricsFigure(p("metrics.png"), both, []string{"A", "B"}), metricsFigureW, metricsFigureH},
		{"z.png", WriteHistogramFigure(p("z.png"), swap, "features.3", HistogramZ), histFigureW, histFigureH},
		{"next.png", WriteHistogramFigure(p("next.png"), swap, "features.6", HistogramNext), histFigureW, histFigureH},
		{"scatter.png", WriteSaturationScatter(p("scatter.png"), both, nil, "classifier.0"), scatterFigureW, scatterFigureH},
		{"pooled.png", WritePooledHistogramFigure(p("pooled.png"), both, nil, "features.0"), pooledFigureW, pooledFigureH},
	} {
		if c.err != nil {
			t.Errorf("%s: %v", c.name, c.err)
			continue
		}
		if w, h := pngSize(t, p(c.name)); w != c.w || h != c.h {
			t.Errorf("%s is %d×%d, want %d×%d", c.name, w, h, c.w, c.h)
		}
	}
}

func TestOutputErrors(t *testing.T) {
	conv := synthReport(t, PlacementConventional, 1)
	dir := t.TempDir()
	path := filepath.Join(dir, "f.png")
	for _, c := range []struct {
		name string
		err  error
		want string
	}{
		{"z of relu", WriteHistogramFigure(path, conv, "features.6", HistogramZ), "no z histogram"},
		{"unknown layer", WriteHistogramFigure(path, conv, "nope", HistogramNext), `no layer "nope"`},
		{"unknown kind", WriteHistogramFigure(path, conv, "features.0", "q"), "unknown histogram kind"},
		{"nil report", WriteHistogramFigure(path, nil, "features.0", HistogramZ), "nil report"},
		{"scatter of relu", WriteSaturationScatter(path, []*Report{conv}, nil, "features.6"), "no per-channel saturated fractions"},
		{"label count", WriteLayerMetricsFigure(path, []*Report{conv}, []string{"a", "b"}), "2 labels for 1 reports"},
		{"duplicate labels", WriteLayerMetricsFigure(path, []*Report{conv, conv}, []string{"a", "a"}), `label "a" is used twice`},
		{"empty label", WriteLayerMetricsFigure(path, []*Report{conv}, []string{" "}), "label 0 is empty"},
		{"nil in list", WriteLayerMetricsFigure(path, []*Report{conv, nil}, nil), "report 1 is nil"},
		{"no reports", WriteLayerMetricsFigure(path, nil, nil), "no reports"},
		{"one report compared", WriteComparisonDir(dir, []*Report{conv}, nil), "need at least 2 reports"},
		{"nil report dir", WriteReportDir(dir, nil), "nil report"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, c.err, c.want)
		}
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a failed figure left %s behind", path)
	}
	// A directory that cannot be created: the error names it.
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(file, "sub")
	if err := WriteReportDir(bad, conv); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("uncreatable dir: error %v, want one naming %s", err, bad)
	}
	if err := WriteComparisonDir(bad, []*Report{conv, conv}, []string{"a", "b"}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("uncreatable comparison dir: error %v", err)
	}
	// A non-finite value is refused before anything is written.
	v := math.Inf(1)
	broken := synthReport(t, PlacementSwapped, 2)
	broken.Layers[1].PerChannel[3].NextStd = &v
	out := filepath.Join(dir, "broken")
	if err := WriteReportDir(out, broken); err == nil || !strings.Contains(err.Error(), `layer "features.3" channel 3: next_std`) {
		t.Errorf("Inf next_std: error %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused report created %s", out)
	}
}

func TestFileStem(t *testing.T) {
	for _, c := range []struct {
		i, n int
		name string
		want string
	}{
		{0, 4, "features.0", "00_features.0"},
		{7, 120, "blocks/1 conv", "007_blocks_1_conv"},
		{3, 5, "", "03_"},
		{1, 2, "Ä|x", "01____x"}, // Ä is two bytes
	} {
		if got := fileStem(c.i, c.n, c.name); got != c.want {
			t.Errorf("fileStem(%d, %d, %q) = %q, want %q", c.i, c.n, c.name, got, c.want)
		}
	}
}

func TestLayerMetricsFigureManyLayers(t *testing.T) {
	// 53 layers, every fifth unbounded, three reports: tick labels are
	// thinned out and the figure keeps its size.
	var rs []*Report
	for k, pl := range []string{PlacementConventional, PlacementSwapped, PlacementNone} {
		r := &Report{Options: DefaultOptions(), ReportMeta: ReportMeta{Placement: pl}}
		for i := 0; i < 53; i++ {
			v := 0.3 + 0.2*float64((i*7+k*3)%10)/10
			l := LayerMetrics{Name: fmt.Sprintf("layer%d.%d.conv%d", i/12+1, (i/3)%4, i%3+1), Sparsity: v / 3, Samples: 5}
			if i%5 != 4 {
				l.Saturation, l.AsymmetricSaturation, l.SkewnessAbsMean = f64(v), f64(v/2), f64(v*2)
			}
			r.Layers = append(r.Layers, l)
		}
		rs = append(rs, r)
	}
	path := filepath.Join(t.TempDir(), "many.png")
	if err := WriteLayerMetricsFigure(path, rs, nil); err != nil {
		t.Fatal(err)
	}
	if w, h := pngSize(t, path); w != metricsFigureW || h != metricsFigureH {
		t.Errorf("%d×%d", w, h)
	}
}
