package study

import (
	"errors"
	"fmt"
	"image/color"
	"io/fs"
	"math"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg/draw"

	"github.com/bnzoo/bnzoo/internal/plotkit"
	"github.com/bnzoo/bnzoo/train"
)

// writeDynamicsFigures writes, for every (arch, activation) with runs at a chosen rate, its learning curves
// (curves-<arch>-<activation>.png) and, when its runs tracked saturation, the layer × epoch heatmaps
// (dynamics-<arch>-<activation>.png), each placement beside the other.
func (s *Summary) writeDynamicsFigures(dir, figDir string) ([]string, error) {
	var out []string
	for _, g := range s.activationGroups() {
		name := g.rows[0].Arch + "-" + strings.ReplaceAll(g.rows[0].Activation, ":", "_")
		if f := s.curvesFigure(g); f != nil {
			if err := plotkit.Write(filepath.Join(figDir, "curves-"+name+".png"), f); err != nil {
				return nil, fmt.Errorf("study: %w", err)
			}
			out = append(out, filepath.Join(FiguresDir, "curves-"+name+".png"))
		}
		f, err := s.dynamicsFigure(dir, g)
		if err != nil {
			return nil, err
		}
		if f != nil {
			if err := plotkit.Write(filepath.Join(figDir, "dynamics-"+name+".png"), f); err != nil {
				return nil, fmt.Errorf("study: %w", err)
			}
			out = append(out, filepath.Join(FiguresDir, "dynamics-"+name+".png"))
		}
	}
	return out, nil
}

// activationGroup is the rows of one (arch, activation): one per placement.
type activationGroup struct{ rows []Row }

func (s *Summary) activationGroups() []activationGroup {
	var out []activationGroup
	at := map[string]int{}
	for _, r := range s.Rows {
		k := r.Arch + " " + r.Activation
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, activationGroup{})
		}
		out[i].rows = append(out[i].rows, r)
	}
	return out
}

// placementIndex is a placement's series index: its position in the grid's placements (stable colours).
func (s *Summary) placementIndex(pl string) int {
	if s.Grid != nil {
		return indexOfString(s.Grid.Placements, pl)
	}
	return indexOfString(s.placements(), pl)
}

// curvesFigure draws train loss and validation accuracy per epoch: per placement the mean over seeds and a band
// from the lowest to the highest seed.
func (s *Summary) curvesFigure(g activationGroup) *plotkit.Figure {
	loss := plotkit.NewPanel("training loss", "epoch", "mean cross-entropy")
	acc := plotkit.NewPanel("validation accuracy", "epoch", "accuracy (%)")
	var legend []plotkit.LegendItem
	for _, row := range g.rows {
		runs := s.rowResults(row)
		if len(runs) == 0 {
			continue
		}
		k := s.placementIndex(row.Placement)
		for _, c := range []struct {
			p     *plot.Plot
			value func(CurvePoint) float64
		}{{loss, func(c CurvePoint) float64 { return c.TrainLoss }}, {acc, func(c CurvePoint) float64 { return 100 * c.ValAcc }}} {
			addBandLine(c.p, runs, c.value, k)
		}
		legend = append(legend, plotkit.LegendItem{Name: fmt.Sprintf("%s, lr %g (%d seeds; band: lowest to highest)",
			row.Placement, row.LR, len(runs)), Thumbs: plotkit.SeriesThumbs(k)})
	}
	if len(legend) == 0 {
		return nil
	}
	title := fmt.Sprintf("%s %s: learning curves at the chosen learning rates%s", g.rows[0].Arch, g.rows[0].Activation, s.titleSuffix())
	loss.X.Tick.Marker, acc.X.Tick.Marker = epochTicks(g, s), epochTicks(g, s)
	return &plotkit.Figure{Title: title, Legend: legend, Rows: 1, Cols: 2, Panels: []*plot.Plot{loss, acc}, W: 1100, H: 480}
}

// addBandLine adds the mean of value over runs per epoch as a line with markers and the min–max band.
func addBandLine(p *plot.Plot, runs []*Result, value func(CurvePoint) float64, k int) {
	epochs := 0
	for _, r := range runs {
		epochs = max(epochs, len(r.Curve))
	}
	var mean, lo, hi plotter.XYs
	for e := 0; e < epochs; e++ {
		var sum float64
		n := 0
		mn, mx := math.Inf(1), math.Inf(-1)
		for _, r := range runs {
			if e < len(r.Curve) {
				v := value(r.Curve[e])
				sum, n = sum+v, n+1
				mn, mx = math.Min(mn, v), math.Max(mx, v)
			}
		}
		x := float64(e + 1)
		mean = append(mean, plotter.XY{X: x, Y: sum / float64(n)})
		lo, hi = append(lo, plotter.XY{X: x, Y: mn}), append(hi, plotter.XY{X: x, Y: mx})
	}
	band := append(plotter.XYs{}, lo...)
	for i := len(hi) - 1; i >= 0; i-- {
		band = append(band, hi[i])
	}
	if poly, err := plotter.NewPolygon(band); err == nil && len(runs) > 1 {
		poly.Color = plotkit.WithAlpha(plotkit.SeriesColor(k), 0x40)
		poly.LineStyle.Width = 0
		p.Add(poly)
	}
	if ln, sc, err := plotter.NewLinePoints(mean); err == nil {
		ln.LineStyle, sc.GlyphStyle = plotkit.SeriesLine(k), plotkit.SeriesGlyph(k)
		p.Add(ln, sc)
	}
}

// layerEpochGrid is a layer × epoch table of one metric, averaged over seeds; NaN where no run reports it.
type layerEpochGrid struct {
	layers []string
	epochs int
	z      [][]float64 // [layer][epoch]
}

func (g layerEpochGrid) Dims() (c, r int)   { return g.epochs, len(g.layers) }
func (g layerEpochGrid) Z(c, r int) float64 { return g.z[r][c] }
func (g layerEpochGrid) X(c int) float64    { return float64(c + 1) }
func (g layerEpochGrid) Y(r int) float64    { return float64(r) }

// readDynamics averages the tracked metric over the runs' metrics.jsonl files; ok is false when no run tracked
// it.
func (s *Summary) readDynamics(dir string, runs []*Result, get func(train.MetricsLine) *float64) (layerEpochGrid, bool, error) {
	var g layerEpochGrid
	sums := map[string]map[int][2]float64{}
	for _, r := range runs {
		lines, err := train.ReadMetrics(s.Grid.RunDir(dir, r.Point))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return g, false, fmt.Errorf("study: %w", err)
		}
		for _, l := range lines {
			v := get(l)
			if v == nil {
				continue
			}
			if sums[l.Name] == nil {
				sums[l.Name] = map[int][2]float64{}
				g.layers = append(g.layers, l.Name)
			}
			a := sums[l.Name][l.Epoch]
			sums[l.Name][l.Epoch] = [2]float64{a[0] + *v, a[1] + 1}
			g.epochs = max(g.epochs, l.Epoch)
		}
	}
	if len(g.layers) == 0 || g.epochs == 0 {
		return g, false, nil
	}
	for _, name := range g.layers {
		row := make([]float64, g.epochs)
		for e := range row {
			a := sums[name][e+1]
			row[e] = math.NaN()
			if a[1] > 0 {
				row[e] = a[0] / a[1]
			}
		}
		g.z = append(g.z, row)
	}
	return g, true, nil
}

// dynamicsFigure draws, for asymmetric saturation and sparsity (rows) and each placement (columns), the layer ×
// epoch heatmap of the metric on the tracked validation subset, mean over seeds, with the value in each cell; a
// metric row shares one colour scale.
func (s *Summary) dynamicsFigure(dir string, g activationGroup) (*plotkit.Figure, error) {
	if s.Grid == nil {
		return nil, nil
	}
	metrics := []struct {
		name string
		get  func(train.MetricsLine) *float64
	}{
		{"asymmetric saturation", func(l train.MetricsLine) *float64 { return l.AsymmetricSaturation }},
		{"sparsity of the next layer's input", func(l train.MetricsLine) *float64 { v := l.Sparsity; return &v }},
	}
	var panels []*plot.Plot
	rows := 0
	for _, m := range metrics {
		grids := make([]layerEpochGrid, len(g.rows))
		lo, hi, any := math.Inf(1), math.Inf(-1), false
		for i, row := range g.rows {
			grid, ok, err := s.readDynamics(dir, s.rowResults(row), m.get)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			grids[i], any = grid, true
			for _, zr := range grid.z {
				for _, z := range zr {
					if !math.IsNaN(z) {
						lo, hi = math.Min(lo, z), math.Max(hi, z)
					}
				}
			}
		}
		if !any {
			continue // an unbounded activation has no saturation
		}
		rows++
		for i, row := range g.rows {
			p := plotkit.NewPanel(fmt.Sprintf("%s: %s", row.Placement, m.name), "epoch", "")
			if grids[i].epochs == 0 {
				plotkit.EmptyNote(p, "not tracked")
				panels = append(panels, p)
				continue
			}
			heatPanel(p, grids[i], lo, hi)
			panels = append(panels, p)
		}
	}
	if rows == 0 {
		return nil, nil
	}
	title := fmt.Sprintf("%s %s%s:\nper-layer metrics after each epoch on the tracked validation images (mean over seeds)",
		g.rows[0].Arch, g.rows[0].Activation, s.titleSuffix())
	return &plotkit.Figure{Title: title, Rows: rows, Cols: len(g.rows), Panels: panels, W: 560 * len(g.rows), H: 120 + 340*rows,
		Legend: []plotkit.LegendItem{{Name: "darker = higher; one colour scale per row; the value is in each cell"}}}, nil
}

// heatPanel fills p with the heatmap of grid on the scale [lo, hi] and writes each value in its cell.
func heatPanel(p *plot.Plot, grid layerEpochGrid, lo, hi float64) {
	if !(hi > lo) {
		hi = lo + 1e-9
	}
	hm := plotter.NewHeatMap(grid, bluesPalette(64))
	hm.Min, hm.Max = lo, hi
	hm.NaN = color.White
	p.Add(hm)
	var xys plotter.XYs
	var labels []string
	var styles []bool
	for r := range grid.layers {
		for c := 0; c < grid.epochs; c++ {
			z := grid.z[r][c]
			if math.IsNaN(z) {
				continue
			}
			xys = append(xys, plotter.XY{X: grid.X(c), Y: grid.Y(r)})
			labels = append(labels, fmt.Sprintf("%.3f", z))
			styles = append(styles, (z-lo)/(hi-lo) > 0.55)
		}
	}
	if l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels}); err == nil {
		for i := range l.TextStyle {
			l.TextStyle[i].XAlign, l.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
			l.TextStyle[i].Font = plotkit.Sans(10)
			if styles[i] {
				l.TextStyle[i].Color = color.White // on a dark cell
			}
		}
		p.Add(l)
	}
	p.NominalY(grid.layers...)
	p.Y.Min, p.Y.Max = -0.5, float64(len(grid.layers))-0.5
	p.X.Min, p.X.Max = 0.5, float64(grid.epochs)+0.5
	p.X.Tick.Marker = integerTicks(grid.epochs)
	p.Y.Tick.Label.Font = plotkit.Sans(10)
}

// bluesPalette is a single-hue sequential palette from near white to dark blue (ColorBrewer's Blues ends), so
// that values read as lightness in print and for colour-blind readers.
type bluesPalette int

func (n bluesPalette) Colors() []color.Color {
	from, to := [3]float64{0xf7, 0xfb, 0xff}, [3]float64{0x08, 0x30, 0x6b}
	out := make([]color.Color, int(n))
	for i := range out {
		t := float64(i) / float64(max(int(n)-1, 1))
		out[i] = color.RGBA{R: uint8(from[0] + t*(to[0]-from[0])), G: uint8(from[1] + t*(to[1]-from[1])),
			B: uint8(from[2] + t*(to[2]-from[2])), A: 0xff}
	}
	return out
}

// integerTicks marks 1, 2, …, n (epochs are whole).
func integerTicks(n int) plot.ConstantTicks {
	var ticks plot.ConstantTicks
	step := max(1, n/10)
	for e := 1; e <= n; e += step {
		ticks = append(ticks, plot.Tick{Value: float64(e), Label: fmt.Sprint(e)})
	}
	return ticks
}

// epochTicks marks the epochs of the group's longest curve.
func epochTicks(g activationGroup, s *Summary) plot.ConstantTicks {
	n := 0
	for _, row := range g.rows {
		for _, r := range s.rowResults(row) {
			n = max(n, len(r.Curve))
		}
	}
	return integerTicks(n)
}
