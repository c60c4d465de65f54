package analysis

import (
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/bnzoo/bnzoo/internal/plotkit"
)

// Figure sizes in pixels. Every figure is a PNG rendered at plotkit.DPI with
// a white background and a fixed size per figure type, independent of the
// number of layers, channels or reports.
const (
	// The 2×2 grid of per-layer metric curves.
	metricsFigureW, metricsFigureH = 1200, 900
	// The grid of histograms of one layer (pooled + top channels).
	histFigureW, histFigureH = 1200, 800
	// The upper-vs-lower scatter of one layer (square, so that the
	// diagonal is at 45°).
	scatterFigureW, scatterFigureH = 800, 800
	// The pooled histograms of one layer for several reports, z and next
	// side by side.
	pooledFigureW, pooledFigureH = 1200, 550
)

// HistogramKind selects the histograms of WriteHistogramFigure.
type HistogramKind string

const (
	// HistogramZ is the histogram of z, the normalised activation output.
	HistogramZ HistogramKind = "z"
	// HistogramNext is the histogram of next, what the next layer
	// receives (the BatchNorm output for the swapped placement).
	HistogramNext HistogramKind = "next"
)

// labels when labels is nil. It fails on a nil report.
func checkLabels(reports []*Report, labels []string) ([]string, error) {
	if len(reports) == 0 {
		return nil, fmt.Errorf("no reports")
	}
	for i, r := range reports {
		if r == nil {
			return nil, fmt.Errorf("report %d is nil", i)
		}
	}
	if labels == nil {
		return tableLabels(reports), nil
	}
	if len(labels) != len(reports) {
		return nil, fmt.Errorf("%d labels for %d reports", len(labels), len(reports))
	}
	seen := make(map[string]bool, len(labels))
	for i, l := range labels {
		if strings.TrimSpace(l) == "" {
			return nil, fmt.Errorf("label %d is empty", i)
		}
		if seen[l] {
			return nil, fmt.Errorf("label %q is used twice", l)
		}
		seen[l] = true
	}
	return labels, nil
}

// layerNames returns the layer names of the reports in the order they first
// appear (the first report's model order, then layers only later reports
// have).
func layerNames(reports []*Report) []string {
	var names []string
	seen := make(map[string]bool)
	for _, r := range reports {
		for _, l := range r.Layers {
			if !seen[l.Name] {
				seen[l.Name] = true
				names = append(names, l.Name)
			}
		}
	}
	return names
}

// optionsNote describes δ and τ (and the saturation bins) of the reports,
// or says that they differ.
func optionsNote(reports []*Report) string {
	o := reports[0].Options
	for _, r := range reports[1:] {
		if r.Delta != o.Delta || r.Tau != o.Tau || r.Bins != o.Bins {
			return "δ, τ or bins differ between the reports"
		}
	}
	return fmt.Sprintf("δ = %g, τ = %g, %d saturation bins", o.Delta, o.Tau, o.Bins)
}

// metricPanel describes one panel of the per-layer metrics figure.
type metricPanel struct {
	title, ylabel string
	value         func(l LayerMetrics) *float64
	note          string // shown when no report has a value
}

// layerMetricPanels are the four panels of the per-layer metrics figure.
func layerMetricPanels(reports []*Report) []metricPanel {
	bins, tau := reports[0].Bins, reports[0].Tau
	return []metricPanel{
		{fmt.Sprintf("Saturation φ (Rakitianskaia & Engelbrecht, %d bins)", bins),
			"φ (0 = centred, 1 = saturated)",
			func(l LayerMetrics) *float64 { return l.Saturation }, "no bounded layers"},
		{"Asymmetric saturation: mean over channels of |upper − lower|",
			"mean |upper − lower| fraction",
			func(l LayerMetrics) *float64 { return l.AsymmetricSaturation }, "no bounded layers"},
		{"Skewness: mean over channels of |skewness of z|",
			"mean |skewness|",
			func(l LayerMetrics) *float64 { return l.SkewnessAbsMean }, "no bounded layers"},
		{fmt.Sprintf("Sparsity of the next layer's input: |next| ≤ τ = %g", tau),
			"fraction of values",
			func(l LayerMetrics) *float64 { v := l.Sparsity; return &v }, "no layers"},
	}
}

// layerMetricsFigure builds the 2×2 grid of per-layer curves: x = layer
// index (layer names as tick labels), one series per report. Layers a
// report lacks or whose metric is null (unbounded activations) are left
// out of that series, which breaks its line there.
func layerMetricsFigure(reports []*Report, labels []string) *plotkit.Figure {
	names := layerNames(reports)
	panels := layerMetricPanels(reports)
	f := &plotkit.Figure{Rows: 2, Cols: 2, W: metricsFigureW, H: metricsFigureH,
		Title: fmt.Sprintf("Per-layer metrics: %s\n(%s; z = activation output normalised to [−1, 1])",
			strings.Join(labels, " vs "), optionsNote(reports))}
	// At most maxTickLabels labelled layers per axis; the others get an
	// unlabelled tick.
	const maxTickLabels = 24
	step := (len(names) + maxTickLabels - 1) / maxTickLabels
	ticks := make([]plot.Tick, len(names))
	for i, n := range names {
		ticks[i] = plot.Tick{Value: float64(i)}
		if i%max(step, 1) == 0 {
			ticks[i].Label = n
		}
	}
	for i := range reports {
		f.Legend = append(f.Legend, plotkit.LegendItem{Name: labels[i], Thumbs: plotkit.SeriesThumbs(i)})
	}
	for _, mp := range panels {
		p := plotkit.NewPanel(mp.title, "layer (model order)", mp.ylabel)
		maxY := 0.0
		have := false
		for ri, r := range reports {
			vals := make([]*float64, len(names))
			for xi, n := range names {
				if l, ok := r.Layer(n); ok {
					if v := mp.value(l); v != nil && !math.IsNaN(*v) && !math.IsInf(*v, 0) {
						vals[xi] = v
					}
				}
			}
			var seg, all plotter.XYs
			flush := func() {
				if len(seg) > 1 {
					if ln, err := plotter.NewLine(seg); err == nil {
						ln.LineStyle = plotkit.SeriesLine(ri)
						p.Add(ln)
					}
				}
				seg = nil
			}
			for xi, v := range vals {
				if v == nil {
					flush()
					continue
				}
				pt := plotter.XY{X: float64(xi), Y: *v}
				seg = append(seg, pt)
				all = append(all, pt)
				maxY = math.Max(maxY, *v)
			}
			flush()
			if len(all) > 0 {
				have = true
				if sc, err := plotter.NewScatter(all); err == nil {
					sc.GlyphStyle = plotkit.SeriesGlyph(ri)
					if len(names) > 20 {
						sc.GlyphStyle.Radius = vg.Points(2.5)
					}
					p.Add(sc)
				}
			}
		}
		p.X.Min, p.X.Max = -0.5, math.Max(float64(len(names))-0.5, 0.5)
		p.Y.Min, p.Y.Max = 0, plotkit.Headroom(maxY)
		if !have {
			plotkit.EmptyNote(p, mp.note)
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		if len(names) > 3 {
			p.X.Tick.Label.Rotation = math.Pi / 4
			p.X.Tick.Label.XAlign = draw.XRight
			p.X.Tick.Label.YAlign = draw.YCenter
		}
		f.Panels = append(f.Panels, p)
	}
	return f
}

// scatterFigure builds the per-channel scatter of upper vs lower saturated
// fraction of one layer, one series per report, with the diagonal.
func scatterFigure(reports []*Report, labels []string, layer string) (*plotkit.Figure, error) {
	var act string
	type series struct {
		i   int
		pts plotter.XYs
	}
	var ss []series
	maxV := 0.0
	for i, r := range reports {
		l, ok := r.Layer(layer)
		if !ok {
			continue
		}
		if act == "" {
			act = l.Activation
		}
		var pts plotter.XYs
		for _, c := range l.PerChannel {
			if c.UpperFraction == nil || c.LowerFraction == nil {
				continue
			}
			pts = append(pts, plotter.XY{X: *c.LowerFraction, Y: *c.UpperFraction})
			maxV = math.Max(maxV, math.Max(*c.LowerFraction, *c.UpperFraction))
		}
		if len(pts) > 0 {
			ss = append(ss, series{i, pts})
		}
	}
	if len(ss) == 0 {
		return nil, fmt.Errorf("layer %q has no per-channel saturated fractions (missing, unbounded or no values)", layer)
	}
	delta := reports[0].Delta
	f := &plotkit.Figure{Rows: 1, Cols: 1, W: scatterFigureW, H: scatterFigureH,
		Title: fmt.Sprintf("%s (%s): saturated fractions per channel\n(one point per channel, δ = %g)", layer, act, delta)}
	p := plotkit.NewPanel("", "fraction of z < −1 + δ (lower saturated)", "fraction of z > 1 − δ (upper saturated)")
	lim := math.Min(1, plotkit.Headroom(maxV))
	if maxV == 0 {
		lim = 0.05
	}
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: lim, Y: lim}})
	if err == nil {
		diag.LineStyle = draw.LineStyle{Color: plotkit.Gray, Width: vg.Points(1.5), Dashes: plotkit.DashStyle}
		p.Add(diag)
	}
	for _, s := range ss {
		sc, err := plotter.NewScatter(s.pts)
		if err != nil {
			continue
		}
		g := plotkit.SeriesGlyph(s.i)
		g.Color = plotkit.WithAlpha(plotkit.SeriesColor(s.i), 0xb0)
		sc.GlyphStyle = g
		p.Add(sc)
		f.Legend = append(f.Legend, plotkit.LegendItem{Name: fmt.Sprintf("%s (%d channels)", labels[s.i], len(s.pts)),
			Thumbs: []plot.Thumbnailer{&plotter.Scatter{GlyphStyle: plotkit.SeriesGlyph(s.i)}}})
	}
	f.Legend = append(f.Legend, plotkit.LegendItem{Name: "upper = lower (symmetric saturation)", Thumbs: []plot.Thumbnailer{plotkit.DashedThumb()}})
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, lim, 0, lim
	f.Panels = []*plot.Plot{p}
	return f, nil
}

// WriteLayerMetricsFigure writes to path a PNG (1200×900 pixels) of a 2×2
// grid of per-layer curves: saturation, asymmetric_saturation,
// skewness_abs_mean and sparsity, with x = layer (names as tick labels, in
// first-appearance order over the reports) and one series per report on
// shared axes, labelled by labels (nil: as FormatTable labels them).
// Null metrics (unbounded layers) are left out of the saturation panels
// and kept in the sparsity panel. The file is written atomically; errors
// name the path.
func WriteLayerMetricsFigure(path string, reports []*Report, labels []string) error {
	labels, err := checkLabels(reports, labels)
	if err != nil {
		return fmt.Errorf("analysis: figure %s: %w", path, err)
	}
	return plotkit.Write(path, layerMetricsFigure(reports, labels))
}

// WriteHistogramFigure writes to path a PNG (1200×800 pixels) of the named
// layer's histograms of the given kind: the pooled histogram and those of
// the most asymmetric channels the report kept, as fractions of the values
// per bin, with dashed lines at ±(1 − δ) for z and at ±τ for next. It
// fails, naming the path, when the layer is missing or has no such
// histogram (e.g. z of an unbounded layer).
func WriteHistogramFigure(path string, r *Report, layer string, kind HistogramKind) error {
	if r == nil {
		return fmt.Errorf("analysis: figure %s: nil report", path)
	}
	l, ok := r.Layer(layer)
	if !ok {
		return fmt.Errorf("analysis: figure %s: no layer %q", path, layer)
	}
	f, err := histogramFigure(r, l, kind)
	if err != nil {
		return fmt.Errorf("analysis: figure %s: %w", path, err)
	}
	return plotkit.Write(path, f)
}

// WriteSaturationScatter writes to path a PNG (800×800 pixels) of the
// named layer's channels as points (lower saturated fraction, upper
// saturated fraction), one series per report (labels as in
// WriteLayerMetricsFigure), with the diagonal upper = lower. It fails,
// naming the path, when no report has per-channel fractions for the layer.
func WriteSaturationScatter(path string, reports []*Report, labels []string, layer string) error {
	labels, err := checkLabels(reports, labels)
	if err != nil {
		return fmt.Errorf("analysis: figure %s: %w", path, err)
	}
	f, err := scatterFigure(reports, labels, layer)
	if err != nil {
		return fmt.Errorf("analysis: figure %s: %w", path, err)
	}
	return plotkit.Write(path, f)
}

// WritePooledHistogramFigure writes to path a PNG (1200×550 pixels) of the
// named layer's pooled histograms of z (left) and next (right), one step
// line per report (labels as in WriteLayerMetricsFigure). It fails, naming
// the path, when no report has histograms for the layer.
func WritePooledHistogramFigure(path string, reports []*Report, labels []string, layer string) error {
	labels, err := checkLabels(reports, labels)
	if err != nil {
		return fmt.Errorf("analysis: figure %s: %w", path, err)
	}
	f, err := pooledFigure(reports, labels, layer)
	if err != nil {
		return fmt.Errorf("analysis: figure %s: %w", path, err)
	}
	return plotkit.Write(path, f)
}
