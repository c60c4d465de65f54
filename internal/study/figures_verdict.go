package study

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/bnzoo/bnzoo/internal/plotkit"
)

// Colours of a verdict: which placement the interval favours (swapped in swapped − conventional).
var (
	colorPlacementWins = plotkit.Palette[2] // green
	colorBaselineWins  = plotkit.Palette[1] // red
)

// writeVerdictFigures writes verdict.png (when a verdict exists) and lr.png (when the grid sweeps learning
// rates) into figDir and returns their paths relative to the study directory.
func (s *Summary) writeVerdictFigures(figDir string) ([]string, error) {
	var out []string
	for _, f := range []struct {
		name string
		fig  *plotkit.Figure
	}{{"verdict.png", s.verdictFigure()}, {"lr.png", s.lrFigure()}} {
		if f.fig == nil {
			continue
		}
		if err := plotkit.Write(filepath.Join(figDir, f.name), f.fig); err != nil {
			return nil, fmt.Errorf("study: %w", err)
		}
		out = append(out, filepath.Join(FiguresDir, f.name))
	}
	return out, nil
}

// xErrPoints are points with horizontal error bars given as absolute interval ends.
type xErrPoints struct {
	xys      plotter.XYs
	low, hii []float64
}

func (e xErrPoints) Len() int                    { return len(e.xys) }
func (e xErrPoints) XY(i int) (float64, float64) { return e.xys[i].X, e.xys[i].Y }
func (e xErrPoints) XError(i int) (float64, float64) {
	return e.xys[i].X - e.low[i], e.hii[i] - e.xys[i].X
}

// verdictFigure draws, per verdict metric, one row per (arch,) activation and comparison: the mean paired
// difference (swapped − conventional; in a depth grid also each partly swapped model against conventional and
// against swapped) with its 95% interval, green when the interval is above 0 (the first-named placement better or
// higher), red below, gray across it.
func (s *Summary) verdictFigure() *plotkit.Figure {
	if len(s.Verdicts) == 0 {
		return nil
	}
	label := groupLabelOf(s)
	comparisons := map[string]bool{}
	for _, v := range s.Verdicts {
		comparisons[v.Comparison()] = true
	}
	rowOf := func(v Verdict) string {
		g := label(Point{Arch: v.Arch, Activation: v.Activation})
		if len(comparisons) > 1 {
			g += ": " + v.Comparison()
		}
		return g
	}
	var groups []string
	gi := map[string]int{}
	for _, v := range s.Verdicts {
		g := rowOf(v)
		if _, ok := gi[g]; !ok {
			gi[g] = len(groups)
			groups = append(groups, g)
		}
	}
	xlabel, title := "placement − baseline", "Placement − baseline, paired by seed: mean and 95% interval"
	if len(comparisons) == 1 {
		xlabel = s.Verdicts[0].Comparison()
		title = strings.ToUpper(xlabel[:1]) + xlabel[1:] + ", paired by seed: mean and 95% interval"
	}
	var panels []*plot.Plot
	for _, m := range verdictMetrics {
		scale, unit := 1.0, ""
		if m == MetricTestAccuracy {
			scale, unit = 100, " (pp)"
		}
		p := plotkit.NewPanel(m, xlabel+unit, "")
		any := false
		lo, hi := 0.0, 0.0
		for _, v := range s.Verdicts {
			if v.Metric != m {
				continue
			}
			any = true
			y := float64(gi[rowOf(v)])
			pt := xErrPoints{xys: plotter.XYs{{X: scale * v.Mean, Y: y}}, low: []float64{scale * v.Mean}, hii: []float64{scale * v.Mean}}
			if !math.IsNaN(v.Low) {
				pt.low[0], pt.hii[0] = scale*v.Low, scale*v.High
			}
			lo, hi = math.Min(lo, pt.low[0]), math.Max(hi, pt.hii[0])
			col := plotkit.Gray
			switch v.favours() {
			case 1:
				col = colorPlacementWins
			case -1:
				col = colorBaselineWins
			}
			if eb, err := plotter.NewXErrorBars(pt); err == nil {
				eb.LineStyle = draw.LineStyle{Color: col, Width: vg.Points(2)}
				eb.CapWidth = vg.Points(8)
				p.Add(eb)
			}
			if sc, err := plotter.NewScatter(pt); err == nil {
				sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(4.5), Shape: draw.CircleGlyph{}}
				p.Add(sc)
			}
		}
		if !any {
			continue
		}
		pad := 0.1*(hi-lo) + 1e-9
		p.X.Min, p.X.Max = lo-pad, hi+pad
		if zero, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -0.5}, {X: 0, Y: float64(len(groups)) - 0.5}}); err == nil {
			zero.LineStyle = draw.LineStyle{Color: plotkit.Gray, Width: vg.Points(1.5), Dashes: plotkit.DashStyle}
			p.Add(zero)
		}
		p.NominalY(groups...)
		p.Y.Min, p.Y.Max = -0.5, float64(len(groups))-0.5
		panels = append(panels, p)
	}
	title += s.titleSuffix()
	first, second := "placement", "baseline"
	if len(comparisons) == 1 {
		first, second = s.Verdicts[0].Placement, s.Verdicts[0].Baseline
	}
	cols := min(len(panels), 2)
	rows := (len(panels) + cols - 1) / cols
	for len(panels) < rows*cols {
		panels = append(panels, nil)
	}
	return &plotkit.Figure{Title: title, Rows: rows, Cols: cols, Panels: panels, W: 1200, H: 180 + 60*len(groups)*rows + 120*rows,
		Legend: []plotkit.LegendItem{
			{Name: "interval above 0 (" + first + " better / higher)", Thumbs: dotThumb(colorPlacementWins)},
			{Name: "interval below 0 (" + second + " better / higher)", Thumbs: dotThumb(colorBaselineWins)},
			{Name: "interval holds 0", Thumbs: dotThumb(plotkit.Gray)},
		}}
}

// dotThumb is a legend thumbnail: a filled circle with a horizontal bar.
func dotThumb(col color.Color) []plot.Thumbnailer {
	return []plot.Thumbnailer{
		&plotter.Line{LineStyle: draw.LineStyle{Color: col, Width: vg.Points(2)}},
		&plotter.Scatter{GlyphStyle: draw.GlyphStyle{Color: col, Radius: vg.Points(4.5), Shape: draw.CircleGlyph{}}},
	}
}

// lrFigure draws, per (arch,) activation, the mean final validation accuracy of the sweep against the learning
// rate (log scale), one line per placement, the chosen rate ringed.
func (s *Summary) lrFigure() *plotkit.Figure {
	if s.Grid == nil || len(s.Grid.rates()) < 2 || len(s.Choices) == 0 {
		return nil
	}
	label := groupLabelOf(s)
	pls := s.Grid.Placements
	var groups []string
	panelOf := map[string]*plot.Plot{}
	for _, c := range s.Choices {
		g := label(Point{Arch: c.Arch, Activation: c.Activation})
		p, ok := panelOf[g]
		if !ok {
			p = plotkit.NewPanel(g, "learning rate (log scale)", "validation accuracy (%)")
			p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, lrTicks(s.Grid.rates())
			panelOf[g], groups = p, append(groups, g)
		}
		k := indexOfString(pls, c.Placement)
		var xys plotter.XYs
		for _, lr := range sortedRates(c.LRs) {
			i := indexOf(c.LRs, lr)
			if c.Runs[i] > 0 {
				xys = append(xys, plotter.XY{X: lr, Y: 100 * c.ValAcc[i]})
			}
		}
		if len(xys) == 0 {
			continue
		}
		if ln, sc, err := plotter.NewLinePoints(xys); err == nil {
			ln.LineStyle, sc.GlyphStyle = plotkit.SeriesLine(k), plotkit.SeriesGlyph(k)
			p.Add(ln, sc)
		}
		if c.Chosen > 0 {
			ring, err := plotter.NewScatter(plotter.XYs{{X: c.Chosen, Y: 100 * c.ValAcc[indexOf(c.LRs, c.Chosen)]}})
			if err == nil {
				ring.GlyphStyle = draw.GlyphStyle{Color: plotkit.SeriesColor(k), Radius: vg.Points(9), Shape: draw.RingGlyph{}}
				p.Add(ring)
			}
		}
	}
	var panels []*plot.Plot
	for _, g := range groups {
		panels = append(panels, panelOf[g])
	}
	cols := min(len(panels), 4)
	rows := (len(panels) + cols - 1) / cols
	for len(panels) < rows*cols {
		panels = append(panels, nil)
	}
	var legend []plotkit.LegendItem
	for k, pl := range pls {
		legend = append(legend, plotkit.LegendItem{Name: pl, Thumbs: plotkit.SeriesThumbs(k)})
	}
	legend = append(legend, plotkit.LegendItem{Name: "chosen rate", Thumbs: []plot.Thumbnailer{&plotter.Scatter{
		GlyphStyle: draw.GlyphStyle{Color: plotkit.Gray, Radius: vg.Points(7), Shape: draw.RingGlyph{}}}}})
	return &plotkit.Figure{Title: "Learning-rate sweep" + s.titleSuffix() + ":\nmean final validation accuracy over the sweep seeds",
		Legend: legend, Rows: rows, Cols: cols, Panels: panels, W: max(300*cols, 760), H: 160 + 300*rows}
}

// lrTicks marks exactly the swept rates.
func lrTicks(lrs []float64) plot.ConstantTicks {
	var t plot.ConstantTicks
	for _, lr := range sortedRates(lrs) {
		t = append(t, plot.Tick{Value: lr, Label: fmt.Sprintf("%g", lr)})
	}
	return t
}

func indexOfString(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return 0
}
