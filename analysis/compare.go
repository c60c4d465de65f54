package analysis

import (
	"github.com/bnzoo/bnzoo/internal/plotkit"

	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bnzoo/bnzoo/internal/atomicfile"
)

// comparedMetric is one per-layer metric of the comparison.
type comparedMetric struct {
	name  string
	value func(l LayerMetrics) *float64
}

// comparedMetrics are the per-layer metrics compared, in table order.
var comparedMetrics = []comparedMetric{
	{"saturation", func(l LayerMetrics) *float64 { return l.Saturation }},
	{"upper_fraction", func(l LayerMetrics) *float64 { return l.UpperFraction }},
	{"lower_fraction", func(l LayerMetrics) *float64 { return l.LowerFraction }},
	{"asymmetric_saturation", func(l LayerMetrics) *float64 { return l.AsymmetricSaturation }},
	{"skewness_abs_mean", func(l LayerMetrics) *float64 { return l.SkewnessAbsMean }},
	{"center", func(l LayerMetrics) *float64 { return l.Center }},
	{"sparsity", func(l LayerMetrics) *float64 {
		if l.Samples == 0 {
			return nil
		}
		v := l.Sparsity
		return &v
	}},
	{"next_mean", func(l LayerMetrics) *float64 { return l.NextMean }},
	{"next_std", func(l LayerMetrics) *float64 { return l.NextStd }},
}

// comparisonRow is one (layer, metric) row: one value per report (nil when
// the report lacks the layer or the metric is null).
type comparisonRow struct {
	index  int
	layer  string
	metric string
	values []*float64
}

// diff returns values[1] − values[0], or nil when either is null.
func (r comparisonRow) diff() *float64 {
	if len(r.values) != 2 || r.values[0] == nil || r.values[1] == nil {
		return nil
	}
	d := *r.values[1] - *r.values[0]
	return &d
}

// comparisonRows returns the rows for the layers in first-appearance order
// and the metrics in comparedMetrics order.
func comparisonRows(reports []*Report, names []string) []comparisonRow {
	var rows []comparisonRow
	for i, n := range names {
		for _, m := range comparedMetrics {
			row := comparisonRow{index: i, layer: n, metric: m.name, values: make([]*float64, len(reports))}
			for j, r := range reports {
				if l, ok := r.Layer(n); ok {
					row.values[j] = finitePtr(m.value(l))
				}
			}
			rows = append(rows, row)
		}
	}
	return rows
}

// finitePtr returns a copy of *v, or nil when v is nil, NaN or infinite.
func finitePtr(v *float64) *float64 {
	if v == nil {
		return nil
	}
	return finite(*v)
}

// comparisonCSV returns comparison.csv: the header
// "layer_index,layer,metric,<label 1>,…,<label n>" plus, for two reports,
// "<label 2> - <label 1>"; one row per layer and metric; null is the empty
// cell.
func comparisonCSV(labels []string, rows []comparisonRow) ([]byte, error) {
	head := append([]string{"layer_index", "layer", "metric"}, labels...)
	if len(labels) == 2 {
		head = append(head, labels[1]+" - "+labels[0])
	}
	recs := [][]string{head}
	for _, r := range rows {
		rec := []string{strconv.Itoa(r.index), r.layer, r.metric}
		for _, v := range r.values {
			rec = append(rec, csvFloat(v))
		}
		if len(labels) == 2 {
			rec = append(rec, csvFloat(r.diff()))
		}
		recs = append(recs, rec)
	}
	return encodeCSV(recs)
}

// mdDiff formats a difference with a sign and four decimals, "—" when null.
func mdDiff(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%+.4f", *v)
}

// comparisonMarkdown returns comparison.md.
func comparisonMarkdown(reports []*Report, labels []string, rows []comparisonRow, names []string, figs []layerFigures) string {
	var b strings.Builder
	two := len(reports) == 2
	fmt.Fprintf(&b, "# Comparison: %s\n\n", mdCell(strings.Join(labels, " vs ")))

	b.WriteString("## Runs\n\n")
	head := []string{""}
	for _, l := range labels {
		head = append(head, mdCell(l))
	}
	if two {
		head = append(head, mdCell(labels[1]+" − "+labels[0]))
	}
	mdHeader(&b, 1, head...)
	text := func(name string, f func(r *Report) string) {
		cells := []string{name}
		for _, r := range reports {
			cells = append(cells, mdCell(f(r)))
		}
		if two {
			cells = append(cells, "")
		}
		mdRow(&b, cells...)
	}
	text("model", func(r *Report) string { return r.Model })
	text("dataset", func(r *Report) string { return r.Dataset })
	text("activation", func(r *Report) string { return r.Activation })
	text("placement", func(r *Report) string { return r.Placement })
	text("seed", func(r *Report) string { return strconv.FormatInt(r.Seed, 10) })
	text("evaluation samples", func(r *Report) string { return strconv.Itoa(r.Samples) })
	acc := []string{"test accuracy"}
	for _, r := range reports {
		acc = append(acc, fmt.Sprintf("%.4f", r.TestAccuracy))
	}
	if two {
		d := reports[1].TestAccuracy - reports[0].TestAccuracy
		acc = append(acc, mdDiff(&d))
	}
	mdRow(&b, acc...)
	text("δ, τ, saturation bins", func(r *Report) string { return fmt.Sprintf("%g, %g, %d", r.Delta, r.Tau, r.Bins) })
	if note := optionsNote(reports); strings.Contains(note, "differ") {
		b.WriteString("\n**Warning:** " + note + "; the saturation and sparsity metrics are not directly comparable.\n")
	}

	b.WriteString("\n## Per-layer metrics\n\n")
	if two {
		fmt.Fprintf(&b, "Difference column: %s − %s. ", mdCell(labels[1]), mdCell(labels[0]))
	}
	b.WriteString("— marks a null metric (unbounded activation, no values, or a layer the report lacks); " +
		"rows null in every report are left out (they are in comparison.csv).\n\n")
	head = append([]string{"layer", "metric"}, head[1:]...)
	mdHeader(&b, 2, head...)
	for _, r := range rows {
		allNull := true
		cells := []string{mdCell(r.layer), r.metric}
		for _, v := range r.values {
			cells = append(cells, mdNum(v))
			allNull = allNull && v == nil
		}
		if allNull {
			continue
		}
		if two {
			cells = append(cells, mdDiff(r.diff()))
		}
		mdRow(&b, cells...)
	}

	b.WriteString("\n## Figures\n\n")
	b.WriteString(mdImage("Per-layer metrics", LayerMetricsFigure))
	for i, n := range names {
		f := figs[i]
		if f.pooled == "" && f.scatter == "" {
			continue
		}
		fmt.Fprintf(&b, "\n### %s\n\n", mdCell(n))
		if f.pooled != "" {
			b.WriteString(mdImage(n+": pooled histograms", f.pooled))
		}
		if f.scatter != "" {
			b.WriteString(mdImage(n+": upper vs lower saturated fraction per channel", f.scatter))
		}
	}
	return b.String()
}

// WriteComparisonDir writes a comparison of two or more reports into dir
// (created if needed, with its figures subdirectory): comparison.md (the
// runs, then one Markdown table with a row per layer and metric and a
// column per report, plus the difference B − A for two reports),
// comparison.csv (the same rows, see below) and, in figures/,
// layer_metrics.png (all reports on shared axes) and per layer
// "<index>_<name>" pooled_hist_*.png and saturated_fractions_*.png (when
// some report holds the data). Layers are matched by name, in the order
// they first appear. labels name the reports (one each, non-empty,
// distinct); nil labels them as FormatTable does. comparison.csv's header
// is layer_index,layer,metric, then the labels and, for two reports,
// "<label 2> - <label 1>". Every file is written atomically; errors name
// the file.
func WriteComparisonDir(dir string, reports []*Report, labels []string) error {
	if len(reports) < 2 {
		return fmt.Errorf("analysis: write comparison dir %s: need at least 2 reports, got %d", dir, len(reports))
	}
	labels, err := checkLabels(reports, labels)
	if err != nil {
		return fmt.Errorf("analysis: write comparison dir %s: %w", dir, err)
	}
	for i, r := range reports {
		if err := r.checkFinite(); err != nil {
			return fmt.Errorf("analysis: write comparison dir %s: report %d (%s): %w", dir, i, labels[i], err)
		}
	}
	figDir := filepath.Join(dir, FiguresDir)
	if err := os.MkdirAll(figDir, 0o755); err != nil {
		return fmt.Errorf("analysis: write comparison dir %s: %w", dir, err)
	}
	names := layerNames(reports)
	rows := comparisonRows(reports, names)
	path := filepath.Join(dir, ComparisonCSVFile)
	data, err := comparisonCSV(labels, rows)
	if err != nil {
		return fmt.Errorf("analysis: write %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("analysis: %w", err)
	}
	if err := plotkit.Write(filepath.Join(figDir, LayerMetricsFigure), layerMetricsFigure(reports, labels)); err != nil {
		return err
	}
	figs := make([]layerFigures, len(names))
	for i, n := range names {
		stem := fileStem(i, len(names), n)
		if f, err := pooledFigure(reports, labels, n); err == nil {
			name := "pooled_hist_" + stem + ".png"
			if err := plotkit.Write(filepath.Join(figDir, name), f); err != nil {
				return err
			}
			figs[i].pooled = name
		}
		if f, err := scatterFigure(reports, labels, n); err == nil {
			name := "saturated_fractions_" + stem + ".png"
			if err := plotkit.Write(filepath.Join(figDir, name), f); err != nil {
				return err
			}
			figs[i].scatter = name
		}
	}
	path = filepath.Join(dir, ComparisonMDFile)
	if err := atomicfile.Write(path, []byte(comparisonMarkdown(reports, labels, rows, names, figs))); err != nil {
		return fmt.Errorf("analysis: %w", err)
	}
	return nil
}
