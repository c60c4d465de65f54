package analysis

import (
	"github.com/bnzoo/bnzoo/internal/plotkit"

	"bytes"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bnzoo/bnzoo/internal/atomicfile"
)

// File names inside the directories written by WriteReportDir and
// WriteComparisonDir.
const (
	ReportJSONFile     = "report.json"
	LayersCSVFile      = "layers.csv"
	ChannelsCSVFile    = "channels.csv"
	ReportMarkdownFile = "report.md"
	ComparisonMDFile   = "comparison.md"
	ComparisonCSVFile  = "comparison.csv"
	FiguresDir         = "figures"
	// LayerMetricsFigure is the per-layer metrics figure, in FiguresDir.
	LayerMetricsFigure = "layer_metrics.png"
)

// layersCSVHeader and channelsCSVHeader are the header rows of layers.csv
// and channels.csv.
var (
	layersCSVHeader = []string{"layer_index", "layer", "activation", "placement", "channels", "samples",
		"saturation", "upper_fraction", "lower_fraction", "asymmetric_saturation", "skewness_abs_mean",
		"center", "sparsity", "next_mean", "next_std"}
	channelsCSVHeader = []string{"layer_index", "layer", "channel", "upper_fraction", "lower_fraction",
		"skewness", "center", "saturation", "sparsity", "next_mean", "next_std"}
)

// csvFloat formats a number for CSV in the shortest form that reads back
// exactly; null is the empty cell.
func csvFloat(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'g', -1, 64)
}

// encodeCSV returns the records as CSV (RFC 4180, "\n" line ends).
func encodeCSV(records [][]string) ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.WriteAll(records); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// layersCSV returns layers.csv: one row per layer, in model order.
func layersCSV(r *Report) ([]byte, error) {
	recs := [][]string{layersCSVHeader}
	for i, l := range r.Layers {
		sp := l.Sparsity
		recs = append(recs, []string{strconv.Itoa(i), l.Name, l.Activation, l.Placement,
			strconv.Itoa(l.Channels), strconv.FormatInt(l.Samples, 10),
			csvFloat(l.Saturation), csvFloat(l.UpperFraction), csvFloat(l.LowerFraction),
			csvFloat(l.AsymmetricSaturation), csvFloat(l.SkewnessAbsMean), csvFloat(l.Center),
			csvFloat(&sp), csvFloat(l.NextMean), csvFloat(l.NextStd)})
	}
	return encodeCSV(recs)
}

// channelsCSV returns channels.csv: one row per layer and channel.
func channelsCSV(r *Report) ([]byte, error) {
	recs := [][]string{channelsCSVHeader}
	for i, l := range r.Layers {
		for _, c := range l.PerChannel {
			recs = append(recs, []string{strconv.Itoa(i), l.Name, strconv.Itoa(c.Index),
				csvFloat(c.UpperFraction), csvFloat(c.LowerFraction), csvFloat(c.Skewness),
				csvFloat(c.Center), csvFloat(c.Saturation), csvFloat(c.Sparsity),
				csvFloat(c.NextMean), csvFloat(c.NextStd)})
		}
	}
	return encodeCSV(recs)
}

// fileStem returns "<index>_<name>" for a layer's figure files: the index
// zero-padded to the width of the largest index (at least two digits), and
// the name with every byte other than ASCII letters, digits, '.', '-' and
// '_' replaced by '_' (at most 80 bytes). The index keeps stems distinct.
func fileStem(i, n int, name string) string {
	width := max(2, len(strconv.Itoa(max(n-1, 0))))
	var b strings.Builder
	for j := 0; j < len(name) && b.Len() < 80; j++ {
		c := name[j]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '-', c == '_':
			b.WriteByte(c)
		default:
			b.WriteByte('_')
		}
	}
	return fmt.Sprintf("%0*d_%s", width, i, b.String())
}

// mdCell escapes text for a Markdown table cell.
func mdCell(s string) string {
	s = strings.ReplaceAll(s, "\\", "\\\\")
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\r", " ")
	return strings.ReplaceAll(s, "\n", " ")
}

// mdNum formats a metric for Markdown with four decimals, "—" when null.
func mdNum(v *float64) string {
	if v == nil {
		return "—"
	}
	return fmt.Sprintf("%.4f", *v)
}

// mdRow writes one Markdown table row.
func mdRow(b *strings.Builder, cells ...string) {
	b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
}

// mdHeader writes a Markdown table header: the cells and the separator,
// numeric columns (from index numFrom on) right-aligned.
func mdHeader(b *strings.Builder, numFrom int, cells ...string) {
	mdRow(b, cells...)
	seps := make([]string, len(cells))
	for i := range seps {
		seps[i] = "---"
		if i >= numFrom {
			seps[i] = "---:"
		}
	}
	mdRow(b, seps...)
}

// mdImage returns a Markdown image link to a figure in FiguresDir.
func mdImage(alt, file string) string {
	return fmt.Sprintf("![%s](%s/%s)\n\n", strings.NewReplacer("[", "(", "]", ")").Replace(alt), FiguresDir, file)
}

// reportLabel names a single report in figures: "model activation
// placement" from its meta, or "report".
func reportLabel(r *Report) string {
	var parts []string
	for _, s := range []string{r.Model, r.Dataset, r.Activation, r.Placement} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return "report"
	}
	return strings.Join(parts, " ")
}

// layerFigures are the figure files written for one layer.
type layerFigures struct {
	z, next, scatter, pooled string
}

// reportMarkdown returns report.md.
func reportMarkdown(r *Report, figs []layerFigures) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Activation analysis: %s\n\n", mdCell(reportLabel(r)))
	mdHeader(&b, 99, "model", "dataset", "activation", "placement", "seed", "test accuracy", "evaluation samples")
	mdRow(&b, mdCell(r.Model), mdCell(r.Dataset), mdCell(r.Activation), mdCell(r.Placement),
		strconv.FormatInt(r.Seed, 10), fmt.Sprintf("%.4f", r.TestAccuracy), strconv.Itoa(r.Samples))
	o := r.Options
	fmt.Fprintf(&b, "\nOptions: δ = %g (saturated bands z > 1 − δ and z < −1 + δ), τ = %g (sparse: |next| ≤ τ), "+
		"%d saturation bins; histograms: %d bins of z over [−1, 1], %d bins of next over [−%g, %g] "+
		"(under/overflow counted), the %d most asymmetric channels kept.\n\n",
		o.Delta, o.Tau, o.Bins, o.HistBins, o.NextBins, o.NextRange, o.NextRange, o.TopChannels)
	b.WriteString("z = (2a − (U + L)) / (U − L) is the activation output a normalised to [−1, 1]; " +
		"next is what the next weight layer receives: the BatchNorm output for the swapped placement, " +
		"the activation output otherwise. — marks a metric that is undefined (unbounded activation) or a layer without values.\n\n")

	b.WriteString("## Per-layer metrics\n\n")
	mdHeader(&b, 4, "#", "layer", "activation", "placement", "channels", "saturation", "upper", "lower",
		"asym. saturation", "mean abs skewness", "center", "sparsity", "next mean", "next std")
	for i, l := range r.Layers {
		sp := l.Sparsity
		mdRow(&b, strconv.Itoa(i), mdCell(l.Name), mdCell(l.Activation), mdCell(l.Placement), strconv.Itoa(l.Channels),
			mdNum(l.Saturation), mdNum(l.UpperFraction), mdNum(l.LowerFraction), mdNum(l.AsymmetricSaturation),
			mdNum(l.SkewnessAbsMean), mdNum(l.Center), mdNum(&sp), mdNum(l.NextMean), mdNum(l.NextStd))
	}

	b.WriteString("\n## Most asymmetric channels\n\n")
	have := false
	for _, l := range r.Layers {
		if l.Histograms == nil || len(l.Histograms.TopChannels) == 0 {
			continue
		}
		if !have {
			mdHeader(&b, 1, "layer", "channel", "upper", "lower", "skewness", "center", "next mean", "next std")
			have = true
		}
		for _, tc := range l.Histograms.TopChannels {
			if tc.Channel < 0 || tc.Channel >= len(l.PerChannel) {
				continue
			}
			c := l.PerChannel[tc.Channel]
			mdRow(&b, mdCell(l.Name), strconv.Itoa(c.Index), mdNum(c.UpperFraction), mdNum(c.LowerFraction),
				mdNum(c.Skewness), mdNum(c.Center), mdNum(c.NextMean), mdNum(c.NextStd))
		}
	}
	if !have {
		b.WriteString("No bounded layer with values.\n")
	}
	fmt.Fprintf(&b, "\nPer-channel values of every layer are in [%s](%s); per-layer values in [%s](%s).\n",
		ChannelsCSVFile, ChannelsCSVFile, LayersCSVFile, LayersCSVFile)

	b.WriteString("\n## Figures\n\n")
	b.WriteString(mdImage("Per-layer metrics", LayerMetricsFigure))
	for i, l := range r.Layers {
		f := figs[i]
		if f.z == "" && f.next == "" && f.scatter == "" {
			continue
		}
		fmt.Fprintf(&b, "\n### %s\n\n", mdCell(l.Name))
		if f.z != "" {
			b.WriteString(mdImage(l.Name+": histograms of z", f.z))
		}
		if f.next != "" {
			b.WriteString(mdImage(l.Name+": histograms of next", f.next))
		}
		if f.scatter != "" {
			b.WriteString(mdImage(l.Name+": upper vs lower saturated fraction per channel", f.scatter))
		}
	}
	return b.String()
}

// WriteReportDir writes the report into dir (created if needed, with its
// figures subdirectory): report.json (as WriteJSON), layers.csv,
// channels.csv, report.md and, in figures/, layer_metrics.png and per
// layer "<index>_<name>" files z_hist_*.png (bounded layers),
// next_hist_*.png and saturated_fractions_*.png (bounded layers), each
// written only when the report holds the data. Every file is written
// atomically; other files in dir are left alone. Errors name the file.
func WriteReportDir(dir string, r *Report) error {
	if r == nil {
		return fmt.Errorf("analysis: write report dir %s: nil report", dir)
	}
	if err := r.checkFinite(); err != nil {
		return fmt.Errorf("analysis: write report dir %s: %w", dir, err)
	}
	figDir := filepath.Join(dir, FiguresDir)
	if err := os.MkdirAll(figDir, 0o755); err != nil {
		return fmt.Errorf("analysis: write report dir %s: %w", dir, err)
	}
	if err := r.WriteJSON(filepath.Join(dir, ReportJSONFile)); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		gen  func(*Report) ([]byte, error)
	}{{LayersCSVFile, layersCSV}, {ChannelsCSVFile, channelsCSV}} {
		path := filepath.Join(dir, f.name)
		data, err := f.gen(r)
		if err != nil {
			return fmt.Errorf("analysis: write %s: %w", path, err)
		}
		if err := atomicfile.Write(path, data); err != nil {
			return fmt.Errorf("analysis: %w", err)
		}
	}

	labels := []string{reportLabel(r)}
	reports := []*Report{r}
	if err := plotkit.Write(filepath.Join(figDir, LayerMetricsFigure), layerMetricsFigure(reports, labels)); err != nil {
		return err
	}
	figs := make([]layerFigures, len(r.Layers))
	for i, l := range r.Layers {
		stem := fileStem(i, len(r.Layers), l.Name)
		for _, k := range []struct {
			kind HistogramKind
			file *string
		}{{HistogramZ, &figs[i].z}, {HistogramNext, &figs[i].next}} {
			f, err := histogramFigure(r, l, k.kind)
			if err != nil {
				continue // no such histogram: no figure
			}
			name := string(k.kind) + "_hist_" + stem + ".png"
			if err := plotkit.Write(filepath.Join(figDir, name), f); err != nil {
				return err
			}
			*k.file = name
		}
		if f, err := scatterFigure(reports, labels, l.Name); err == nil {
			name := "saturated_fractions_" + stem + ".png"
			if err := plotkit.Write(filepath.Join(figDir, name), f); err != nil {
				return err
			}
			figs[i].scatter = name
		}
	}
	path := filepath.Join(dir, ReportMarkdownFile)
	if err := atomicfile.Write(path, []byte(reportMarkdown(r, figs))); err != nil {
		return fmt.Errorf("analysis: %w", err)
	}
	return nil
}

// ReadReportDir reads the report.json of a directory written by
// WriteReportDir.
func ReadReportDir(dir string) (*Report, error) {
	return ReadReport(filepath.Join(dir, ReportJSONFile))
}
