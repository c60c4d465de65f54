package analysis

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/bnzoo/bnzoo/internal/atomicfile"
)

// Figure sizes in pixels. Every figure is a PNG rendered at figureDPI with
// a white background and a fixed size per figure type, independent of the
// number of layers, channels or reports.
const (
	figureDPI = 96
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

// palette holds well separated colours for the reports' series.
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0xe3, 0x77, 0xc2, 0xff}, // pink
	{0x17, 0xbe, 0xcf, 0xff}, // cyan
}

// glyphs are the markers of the series: filled shapes first.
var glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.RingGlyph{},
	draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
}

func seriesColor(i int) color.RGBA { return palette[i%len(palette)] }

func withAlpha(c color.RGBA, a uint8) color.NRGBA {
	return color.NRGBA{R: c.R, G: c.G, B: c.B, A: a}
}

var (
	gray       = color.RGBA{0x55, 0x55, 0x55, 0xff}
	lightGray  = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	dashStyle  = []vg.Length{vg.Points(5), vg.Points(4)}
	histFill   = color.RGBA{0x4c, 0x72, 0xb0, 0xff}
	histFillBN = color.RGBA{0x55, 0xa8, 0x68, 0xff}
)

// legendItem is one entry of a figure's legend.
type legendItem struct {
	name   string
	thumbs []plot.Thumbnailer
}

// figure is a title, a legend strip and a grid of panels, rendered to PNG.
type figure struct {
	title      string
	legend     []legendItem
	rows, cols int
	panels     []*plot.Plot // row-major, rows·cols long; nil leaves a cell empty
	w, h       int          // pixels
}

// sans returns the sans-serif face (Liberation Sans, embedded in the
// plotting library) at the given size in points.
func sans(size vg.Length) font.Font {
	f := plot.DefaultFont
	f.Variant = "Sans"
	f.Size = size
	return f
}

// pxLen converts pixels at figureDPI to a vg length.
func pxLen(px int) vg.Length { return vg.Length(px) * vg.Inch / figureDPI }

// png renders the figure. A panic inside the plotting library becomes an
// error.
func (f *figure) png() (data []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("render %q: %v", f.title, r)
		}
	}()
	if f.rows < 1 || f.cols < 1 || len(f.panels) != f.rows*f.cols {
		return nil, fmt.Errorf("render %q: %d panels for a %d×%d grid", f.title, len(f.panels), f.rows, f.cols)
	}
	c := vgimg.NewWith(vgimg.UseWH(pxLen(f.w), pxLen(f.h)), vgimg.UseDPI(figureDPI))
	dc := draw.New(c)
	pad := vg.Points(8)
	y := dc.Max.Y - pad

	// Title, centred, one or more lines.
	ts := text.Style{Font: sans(15), Handler: plot.DefaultTextHandler,
		Color: color.Black, XAlign: draw.XCenter, YAlign: draw.YTop}
	if f.title != "" {
		dc.FillText(ts, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: y}, f.title)
		y -= ts.Height(f.title) + pad
	}

	// Legend: entries side by side, wrapped into centred lines, above the
	// panels so that it never covers data.
	if len(f.legend) > 0 {
		lg := plot.NewLegend()
		lg.Top, lg.Left = true, true
		lg.TextStyle.Font = sans(12)
		lg.ThumbnailWidth = vg.Points(28)
		gap := vg.Points(24)
		type placed struct {
			item  legendItem
			width vg.Length
		}
		var lines [][]placed
		var lineW []vg.Length
		maxW := dc.Max.X - dc.Min.X - 2*pad
		for _, it := range f.legend {
			w := lg.ThumbnailWidth + lg.TextStyle.Rectangle(" "+it.name).Max.X
			n := len(lines)
			if n == 0 || lineW[n-1]+gap+w > maxW {
				lines = append(lines, nil)
				lineW = append(lineW, -gap)
				n++
			}
			lines[n-1] = append(lines[n-1], placed{it, w})
			lineW[n-1] += gap + w
		}
		entryH := lg.TextStyle.Height("Mg") + vg.Points(4)
		for i, line := range lines {
			x := (dc.Min.X+dc.Max.X)/2 - lineW[i]/2
			for _, p := range line {
				l := plot.NewLegend()
				l.Top, l.Left = true, true
				l.TextStyle = lg.TextStyle
				l.ThumbnailWidth = lg.ThumbnailWidth
				l.Add(p.item.name, p.item.thumbs...)
				sub := dc
				sub.Min = vg.Point{X: x, Y: y - entryH}
				sub.Max = vg.Point{X: x + p.width + pad, Y: y}
				l.Draw(sub)
				x += p.width + gap
			}
			y -= entryH
		}
		y -= pad
	}

	body := draw.Crop(dc, 0, 0, 0, -(dc.Max.Y - y))
	tiles := draw.Tiles{Rows: f.rows, Cols: f.cols,
		PadTop: vg.Points(4), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(14),
		PadX: vg.Points(22), PadY: vg.Points(18)}
	// Each panel fills its tile (plot.Align would line up the data areas,
	// but shifts panels whose top tick label needs room).
	for j := 0; j < f.rows; j++ {
		for i := 0; i < f.cols; i++ {
			if p := f.panels[j*f.cols+i]; p != nil {
				p.Draw(tiles.At(body, i, j))
			}
		}
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("render %q: %w", f.title, err)
	}
	return buf.Bytes(), nil
}

// writeFigure renders f and writes it to path atomically.
func writeFigure(path string, f *figure) error {
	data, err := f.png()
	if err != nil {
		return fmt.Errorf("analysis: figure %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("analysis: figure: %w", err)
	}
	return nil
}

// newPanel returns a plot with a title, axis labels and a light grid.
func newPanel(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(13)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.X.Label.TextStyle.Font = sans(12)
	p.Y.Label.TextStyle.Font = sans(12)
	p.X.Tick.Label.Font = sans(10)
	p.Y.Tick.Label.Font = sans(10)
	p.X.Label.Padding = vg.Points(4)
	g := plotter.NewGrid()
	g.Vertical.Color = lightGray
	g.Horizontal.Color = lightGray
	p.Add(g)
	return p
}

// emptyNote marks a panel without data with a text centred in its (already
// set) axis ranges.
func emptyNote(p *plot.Plot, note string) {
	at := plotter.XY{X: (p.X.Min + p.X.Max) / 2, Y: (p.Y.Min + p.Y.Max) / 2}
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{at}, Labels: []string{note}})
	if err == nil {
		l.TextStyle[0].XAlign = draw.XCenter
		l.TextStyle[0].YAlign = draw.YCenter
		l.TextStyle[0].Font = sans(13)
		l.TextStyle[0].Color = gray
		p.Add(l)
	}
}

// headroom returns an upper axis limit a little above max (at least tiny),
// so that the highest point is not drawn on the frame.
func headroom(max float64) float64 {
	if !(max > 0) || math.IsInf(max, 0) {
		return 1
	}
	return max * 1.08
}

// checkLabels returns the labels to use for the reports: the given ones,
// which must be one per report, non-empty and distinct, or the FormatTable
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
func layerMetricsFigure(reports []*Report, labels []string) *figure {
	names := layerNames(reports)
	panels := layerMetricPanels(reports)
	f := &figure{rows: 2, cols: 2, w: metricsFigureW, h: metricsFigureH,
		title: fmt.Sprintf("Per-layer metrics: %s\n(%s; z = activation output normalised to [−1, 1])",
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
		f.legend = append(f.legend, legendItem{labels[i], seriesThumbs(i)})
	}
	for _, mp := range panels {
		p := newPanel(mp.title, "layer (model order)", mp.ylabel)
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
						ln.LineStyle = seriesLine(ri)
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
					sc.GlyphStyle = seriesGlyph(ri)
					if len(names) > 20 {
						sc.GlyphStyle.Radius = vg.Points(2.5)
					}
					p.Add(sc)
				}
			}
		}
		p.X.Min, p.X.Max = -0.5, math.Max(float64(len(names))-0.5, 0.5)
		p.Y.Min, p.Y.Max = 0, headroom(maxY)
		if !have {
			emptyNote(p, mp.note)
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		if len(names) > 3 {
			p.X.Tick.Label.Rotation = math.Pi / 4
			p.X.Tick.Label.XAlign = draw.XRight
			p.X.Tick.Label.YAlign = draw.YCenter
		}
		f.panels = append(f.panels, p)
	}
	return f
}

func seriesLine(i int) draw.LineStyle {
	return draw.LineStyle{Color: seriesColor(i), Width: vg.Points(2)}
}

func seriesGlyph(i int) draw.GlyphStyle {
	return draw.GlyphStyle{Color: seriesColor(i), Radius: vg.Points(4), Shape: glyphs[i%len(glyphs)]}
}

// seriesThumbs returns the legend thumbnails of series i: its line and its
// marker.
func seriesThumbs(i int) []plot.Thumbnailer {
	ln := &plotter.Line{LineStyle: seriesLine(i)}
	sc := &plotter.Scatter{GlyphStyle: seriesGlyph(i)}
	return []plot.Thumbnailer{ln, sc}
}

// dashedThumb is a legend thumbnail of a dashed gray line.
func dashedThumb() plot.Thumbnailer {
	return &plotter.Line{LineStyle: draw.LineStyle{Color: gray, Width: vg.Points(1.5), Dashes: dashStyle}}
}

// vline adds a dashed vertical line at x spanning [0, ymax].
func vline(p *plot.Plot, x, ymax float64) {
	ln, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: ymax}})
	if err != nil {
		return
	}
	ln.LineStyle = draw.LineStyle{Color: gray, Width: vg.Points(1.5), Dashes: dashStyle}
	p.Add(ln)
}

// usableHist reports whether h can be drawn: finite Lo < Hi, at least one
// bin, no negative count and at least one value.
func usableHist(h *Histogram) bool {
	if h == nil || len(h.Counts) == 0 || math.IsNaN(h.Lo) || math.IsNaN(h.Hi) ||
		math.IsInf(h.Lo, 0) || math.IsInf(h.Hi, 0) || !(h.Hi > h.Lo) || h.Underflow < 0 || h.Overflow < 0 {
		return false
	}
	for _, c := range h.Counts {
		if c < 0 {
			return false
		}
	}
	return h.Total() > 0
}

// histFractions returns the fraction of all values (underflow and overflow
// included) in each bin, divided by the bin width when density is set, and
// the largest of them.
func histFractions(h *Histogram, density bool) ([]float64, float64) {
	total := float64(h.Total())
	if density {
		total *= binWidth(h)
	}
	out := make([]float64, len(h.Counts))
	var max float64
	for i, c := range h.Counts {
		out[i] = float64(c) / total
		max = math.Max(max, out[i])
	}
	return out, max
}

// addBars adds h as filled bars of the fraction of values per bin (or the
// density) and returns the largest bar.
func addBars(p *plot.Plot, h *Histogram, fill color.Color, density bool) float64 {
	fr, max := histFractions(h, density)
	w := (h.Hi - h.Lo) / float64(len(fr))
	bins := make([]plotter.HistogramBin, len(fr))
	for i, v := range fr {
		bins[i] = plotter.HistogramBin{Min: h.Lo + float64(i)*w, Max: h.Lo + float64(i+1)*w, Weight: v}
	}
	p.Add(&plotter.Histogram{Bins: bins, Width: w, FillColor: fill,
		LineStyle: draw.LineStyle{Color: color.White, Width: vg.Points(0.3)}})
	return max
}

// addSteps adds h as a step line of the fraction of values per bin (or the
// density) in the colour of series i, and returns the largest value.
func addSteps(p *plot.Plot, h *Histogram, i int, density bool) float64 {
	fr, max := histFractions(h, density)
	w := (h.Hi - h.Lo) / float64(len(fr))
	pts := make(plotter.XYs, 0, len(fr)+1)
	for k, v := range fr {
		pts = append(pts, plotter.XY{X: h.Lo + float64(k)*w, Y: v})
	}
	pts = append(pts, plotter.XY{X: h.Hi, Y: fr[len(fr)-1]})
	if ln, err := plotter.NewLine(pts); err == nil {
		ln.StepStyle = plotter.PostStep
		ln.LineStyle = seriesLine(i)
		p.Add(ln)
	}
	return max
}

// nextName describes next for a placement.
func nextName(placement string) string {
	if placement == PlacementSwapped {
		return "BatchNorm output"
	}
	return "next layer's input (= activation output)"
}

// nextAxis labels the next axis for a placement.
func nextAxis(placement string) string {
	if placement == PlacementSwapped {
		return "next: BatchNorm output (the next layer's input)"
	}
	return "next: the next layer's input (= activation output a)"
}

// binWidth returns the bin width of a usable histogram.
func binWidth(h *Histogram) float64 { return (h.Hi - h.Lo) / float64(len(h.Counts)) }

// outsideNote says which share of a next histogram fell outside its range.
func outsideNote(h *Histogram) string {
	out := h.Underflow + h.Overflow
	if out == 0 {
		return ""
	}
	return fmt.Sprintf(", %.2g%% outside [%g, %g]", 100*float64(out)/float64(h.Total()), h.Lo, h.Hi)
}

// gridShape returns rows and columns for n panels, at most three per row.
func gridShape(n int) (rows, cols int) {
	cols = min(max(n, 1), 3)
	return (max(n, 1) + cols - 1) / cols, cols
}

// histogramFigure builds the grid of one layer's histograms of the given
// kind: the pooled histogram first, then the most asymmetric channels.
func histogramFigure(r *Report, l LayerMetrics, kind HistogramKind) (*figure, error) {
	hs := l.Histograms
	if hs == nil {
		return nil, fmt.Errorf("layer %q has no histograms", l.Name)
	}
	type panel struct {
		h     *Histogram
		title string
	}
	var panels []panel
	var xlabel, title string
	var lineAt float64
	var legendName string
	fill := histFill
	switch kind {
	case HistogramZ:
		if !usableHist(hs.Z) {
			return nil, fmt.Errorf("layer %q has no z histogram (unbounded activation or no values)", l.Name)
		}
		xlabel = "z (activation output normalised to [−1, 1])"
		title = fmt.Sprintf("%s (%s, %s): histograms of the activation output z", l.Name, l.Activation, l.Placement)
		lineAt = 1 - r.Delta
		legendName = fmt.Sprintf("z = ±(1 − δ), δ = %g: saturated bands lie outside", r.Delta)
		panels = append(panels, panel{hs.Z, fmt.Sprintf("pooled over all %d channels", l.Channels)})
	case HistogramNext:
		if !usableHist(hs.Next) {
			return nil, fmt.Errorf("layer %q has no next histogram (no values)", l.Name)
		}
		xlabel = nextAxis(l.Placement)
		title = fmt.Sprintf("%s (%s, %s): histograms of the %s", l.Name, l.Activation, l.Placement, nextName(l.Placement))
		lineAt = r.Tau
		legendName = fmt.Sprintf("next = ±τ, τ = %g: sparse band lies inside", r.Tau)
		fill = histFillBN
		panels = append(panels, panel{hs.Next, fmt.Sprintf("pooled over all %d channels%s", l.Channels, outsideNote(hs.Next))})
	default:
		return nil, fmt.Errorf("unknown histogram kind %q (want %q or %q)", kind, HistogramZ, HistogramNext)
	}
	for _, ch := range hs.TopChannels {
		var h *Histogram
		if kind == HistogramZ {
			h = ch.Z
		} else {
			h = ch.Next
		}
		if !usableHist(h) {
			continue
		}
		t := fmt.Sprintf("channel %d", ch.Channel)
		if ch.Channel >= 0 && ch.Channel < len(l.PerChannel) {
			pc := l.PerChannel[ch.Channel]
			if pc.UpperFraction != nil && pc.LowerFraction != nil {
				t += fmt.Sprintf(": upper %.3f, lower %.3f", *pc.UpperFraction, *pc.LowerFraction)
			}
		}
		if kind == HistogramNext {
			t += outsideNote(h)
		}
		panels = append(panels, panel{h, t})
	}
	if len(panels) > 1 {
		title += fmt.Sprintf("\npooled and the %d most asymmetric channels (largest |upper − lower| saturated fraction)", len(panels)-1)
	}
	f := &figure{title: title, w: histFigureW, h: histFigureH,
		legend: []legendItem{
			{fmt.Sprintf("bars: fraction of the values in each bin (bin width %.3g)", binWidth(panels[0].h)),
				[]plot.Thumbnailer{&plotter.Histogram{FillColor: fill, LineStyle: draw.LineStyle{Color: fill, Width: vg.Points(0.5)}}}},
			{legendName, []plot.Thumbnailer{dashedThumb()}},
		}}
	f.rows, f.cols = gridShape(len(panels))
	f.panels = make([]*plot.Plot, f.rows*f.cols)
	for i, pn := range panels {
		p := newPanel(pn.title, xlabel, "fraction of values")
		max := addBars(p, pn.h, fill, false)
		ymax := headroom(max)
		if lineAt > 0 && lineAt < pn.h.Hi {
			vline(p, lineAt, ymax)
		}
		if -lineAt > pn.h.Lo {
			vline(p, -lineAt, ymax)
		}
		p.X.Min, p.X.Max = pn.h.Lo, pn.h.Hi
		p.Y.Min, p.Y.Max = 0, ymax
		f.panels[i] = p
	}
	return f, nil
}

// scatterFigure builds the per-channel scatter of upper vs lower saturated
// fraction of one layer, one series per report, with the diagonal.
func scatterFigure(reports []*Report, labels []string, layer string) (*figure, error) {
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
	f := &figure{rows: 1, cols: 1, w: scatterFigureW, h: scatterFigureH,
		title: fmt.Sprintf("%s (%s): saturated fractions per channel\n(one point per channel, δ = %g)", layer, act, delta)}
	p := newPanel("", "fraction of z < −1 + δ (lower saturated)", "fraction of z > 1 − δ (upper saturated)")
	lim := math.Min(1, headroom(maxV))
	if maxV == 0 {
		lim = 0.05
	}
	diag, err := plotter.NewLine(plotter.XYs{{X: 0, Y: 0}, {X: lim, Y: lim}})
	if err == nil {
		diag.LineStyle = draw.LineStyle{Color: gray, Width: vg.Points(1.5), Dashes: dashStyle}
		p.Add(diag)
	}
	for _, s := range ss {
		sc, err := plotter.NewScatter(s.pts)
		if err != nil {
			continue
		}
		g := seriesGlyph(s.i)
		g.Color = withAlpha(seriesColor(s.i), 0xb0)
		sc.GlyphStyle = g
		p.Add(sc)
		f.legend = append(f.legend, legendItem{fmt.Sprintf("%s (%d channels)", labels[s.i], len(s.pts)),
			[]plot.Thumbnailer{&plotter.Scatter{GlyphStyle: seriesGlyph(s.i)}}})
	}
	f.legend = append(f.legend, legendItem{"upper = lower (symmetric saturation)", []plot.Thumbnailer{dashedThumb()}})
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, lim, 0, lim
	f.panels = []*plot.Plot{p}
	return f, nil
}

// pooledFigure builds, for one layer, the pooled z and next histograms of
// several reports overlaid as step lines (z panel only when some report
// has one). The y axis is the fraction of values per bin when all the
// reports' histograms of a panel share their bins, the density otherwise.
func pooledFigure(reports []*Report, labels []string, layer string) (*figure, error) {
	var act string
	placements := map[string]bool{} // only looked up
	var placement string
	zs := make([]*Histogram, len(reports))
	ns := make([]*Histogram, len(reports))
	for i, r := range reports {
		l, ok := r.Layer(layer)
		if !ok || l.Histograms == nil {
			continue
		}
		if act == "" {
			act = l.Activation
		}
		if usableHist(l.Histograms.Z) {
			zs[i] = l.Histograms.Z
		}
		if usableHist(l.Histograms.Next) {
			ns[i] = l.Histograms.Next
			if !placements[l.Placement] {
				placements[l.Placement] = true
				placement = l.Placement
			}
		}
	}
	nextLabel := "next (BatchNorm output if swapped, else activation output)"
	if len(placements) == 1 {
		nextLabel = nextAxis(placement)
	}
	f := &figure{w: pooledFigureW, h: pooledFigureH,
		title: fmt.Sprintf("%s (%s): histograms pooled over all channels", layer, act)}
	for _, pn := range []struct {
		hs            []*Histogram
		title, xlabel string
		unit          string
	}{
		{zs, "activation output z", "z (activation output normalised to [−1, 1])", "z"},
		{ns, "next layer's input", nextLabel, "next"},
	} {
		var lo, hi, width, maxY float64
		n, sameBins := 0, true
		for _, h := range pn.hs {
			if h == nil {
				continue
			}
			if n == 0 {
				lo, hi, width = h.Lo, h.Hi, binWidth(h)
			} else {
				sameBins = sameBins && h.Lo == lo && h.Hi == hi && binWidth(h) == width
				lo, hi = math.Min(lo, h.Lo), math.Max(hi, h.Hi)
			}
			n++
		}
		if n == 0 {
			continue
		}
		ylabel := fmt.Sprintf("fraction of values per bin (width %.3g)", width)
		if !sameBins {
			ylabel = "density (fraction of values per unit of " + pn.unit + ")"
		}
		p := newPanel(pn.title, pn.xlabel, ylabel)
		for i, h := range pn.hs {
			if h != nil {
				maxY = math.Max(maxY, addSteps(p, h, i, !sameBins))
			}
		}
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = lo, hi, 0, headroom(maxY)
		f.panels = append(f.panels, p)
	}
	if len(f.panels) == 0 {
		return nil, fmt.Errorf("layer %q has no histograms in any report", layer)
	}
	for i := range reports {
		if zs[i] == nil && ns[i] == nil {
			continue
		}
		name := labels[i]
		if ns[i] != nil {
			if note := outsideNote(ns[i]); note != "" {
				name += " (next" + note + ")"
			}
		}
		f.legend = append(f.legend, legendItem{name, []plot.Thumbnailer{&plotter.Line{LineStyle: seriesLine(i)}}})
	}
	f.rows, f.cols = 1, len(f.panels)
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
	return writeFigure(path, layerMetricsFigure(reports, labels))
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
	return writeFigure(path, f)
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
	return writeFigure(path, f)
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
	return writeFigure(path, f)
}
