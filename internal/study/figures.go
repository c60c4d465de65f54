package study

import (
	"fmt"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/bnzoo/bnzoo/internal/plotkit"
)

// Study figures (PNG, 96 dpi, white background):
//
//	verdict.png                      swapped − conventional per activation with 95% intervals, one panel per quantity
//	lr.png                           mean final validation accuracy against learning rate, one line per placement
//	accuracy.png                     final test accuracy per configuration at its chosen rate: each run, mean ± std
//	curves-<arch>-<act>.png          train loss and validation accuracy per epoch, mean and min–max band over seeds
//	dynamics-<arch>-<act>.png        layer × epoch heatmaps of asymmetric saturation and sparsity, per placement
//	accuracy_vs_<metric>.png         each run's final accuracy against a layer-averaged metric, one colour per
//	                                 placement (asymmetric_saturation: experiment 3, sparsity: experiment 4)
//
// Every figure is drawn in the house style of internal/plotkit.

// errPoints are points with symmetric vertical error bars.
type errPoints struct {
	xys  plotter.XYs
	errs plotter.YErrors
}

func (e errPoints) Len() int                        { return len(e.xys) }
func (e errPoints) XY(i int) (float64, float64)     { return e.xys[i].X, e.xys[i].Y }
func (e errPoints) YError(i int) (float64, float64) { return e.errs[i].Low, e.errs[i].High }

// placements lists the summary's placements in row order.
func (s *Summary) placements() (names []string) {
	return s.axis(func(p Point) string { return p.Placement })
}
func (s *Summary) configsWithoutPlacement() []string { return s.axis(groupLabelOf(s)) }

// axis lists the distinct values of f over the rows' points, in row order.
func (s *Summary) axis(f func(Point) string) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range s.Rows {
		v := f(Point{Arch: r.Arch, Activation: r.Activation, Placement: r.Placement})
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// groupLabelOf labels a configuration without its placement: the activation, prefixed by the arch when the
// summary has several.
func groupLabelOf(s *Summary) func(Point) string {
	archs := map[string]bool{}
	for _, r := range s.Rows {
		archs[r.Arch] = true
	}
	return func(p Point) string {
		if len(archs) > 1 {
			return p.Arch + " " + p.Activation
		}
		return p.Activation
	}
}

// writeStudyFigures writes the figures into the study directory's figures/ and returns their paths relative to
// the study directory: the verdict and learning-rate figures, accuracy, the relations, then per configuration its
// learning curves and saturation heatmaps.
func writeStudyFigures(dir string, s *Summary) ([]string, error) {
	if len(s.Results) == 0 {
		return nil, nil
	}
	figDir := filepath.Join(dir, FiguresDir)
	if err := os.MkdirAll(figDir, 0o755); err != nil {
		return nil, fmt.Errorf("study: figures: %w", err)
	}
	out, err := s.writeVerdictFigures(figDir)
	if err != nil {
		return nil, err
	}
	acc, err := s.accuracyPlot()
	if err != nil {
		return nil, err
	}
	if err := writePanel(filepath.Join(figDir, "accuracy.png"), acc, 1000, 600); err != nil {
		return nil, err
	}
	out = append(out, filepath.Join(FiguresDir, "accuracy.png"))
	for _, m := range metricNames {
		if m.name == "skewness_abs_mean" {
			continue
		}
		p, n := s.relationPlot(m.name, m.get)
		if n == 0 {
			continue
		}
		name := "accuracy_vs_" + m.name + ".png"
		if err := writePanel(filepath.Join(figDir, name), p, 800, 600); err != nil {
			return nil, err
		}
		out = append(out, filepath.Join(FiguresDir, name))
	}
	dyn, err := s.writeDynamicsFigures(dir, figDir)
	if err != nil {
		return nil, err
	}
	return append(out, dyn...), nil
}

// accuracyPlot shows every run's final accuracy (small hollow circles) and each configuration's mean ± std
// (filled, with error bars), the placements side by side around each configuration's tick.
func (s *Summary) accuracyPlot() (*plot.Plot, error) {
	groups := s.configsWithoutPlacement()
	label := groupLabelOf(s)
	gi := map[string]int{}
	for i, g := range groups {
		gi[g] = i
	}
	pls := s.placements()
	p := plotkit.NewPanel("Final test accuracy at the chosen learning rate"+s.titleSuffix()+" (each run; mean ± std over seeds)", "", "test accuracy (%)")
	p.Legend.Top = true
	p.Legend.TextStyle.Font = plotkit.Sans(12)
	for k, pl := range pls {
		col := plotkit.SeriesColor(k)
		off := 0.0
		if len(pls) > 1 {
			off = -0.2 + 0.4*float64(k)/float64(len(pls)-1)
		}
		var runs plotter.XYs
		var means errPoints
		for _, r := range s.Rows {
			if r.Placement != pl || r.TestAcc.N == 0 {
				continue
			}
			pt := Point{Arch: r.Arch, Activation: r.Activation, Placement: r.Placement}
			x := float64(gi[label(pt)]) + off
			means.xys = append(means.xys, plotter.XY{X: x, Y: 100 * r.TestAcc.Mean})
			means.errs = append(means.errs, struct{ Low, High float64 }{100 * r.TestAcc.Std, 100 * r.TestAcc.Std})
			for _, res := range s.rowResults(r) {
				runs = append(runs, plotter.XY{X: x + 0.06, Y: 100 * res.FinalTestAcc})
			}
		}
		if len(means.xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(means)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(4), Shape: draw.CircleGlyph{}}
		eb, err := plotter.NewYErrorBars(means)
		if err != nil {
			return nil, err
		}
		eb.LineStyle.Color = col
		eb.LineStyle.Width = vg.Points(1.5)
		rs, err := plotter.NewScatter(runs)
		if err != nil {
			return nil, err
		}
		rs.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(2.5), Shape: draw.RingGlyph{}}
		p.Add(eb, sc, rs)
		p.Legend.Add(pl, sc)
	}
	p.NominalX(groups...)
	p.X.Min, p.X.Max = -0.6, float64(len(groups))-0.4
	p.Y.Max += 0.15 * (p.Y.Max - p.Y.Min) // room for the legend above the highest point
	return p, nil
}

// titleSuffix names the experiment and dataset in figure titles (empty without a grid).
func (s *Summary) titleSuffix() string {
	if s.Grid == nil {
		return ""
	}
	t := " on " + s.Grid.Data.Name
	if s.Grid.Experiment != "" {
		t = ", " + s.Grid.Experiment + "/" + s.Grid.Budget + t
	}
	return t
}

// relationPlot scatters each finished run's final accuracy against a layer-averaged metric; n is the number of
// runs that report the metric.
func (s *Summary) relationPlot(metric string, get func(LayerSummary) *float64) (*plot.Plot, int) {
	title := "Final test accuracy vs layer-averaged " + metric + s.titleSuffix()
	for _, rel := range s.Relations {
		if rel.Metric == metric && rel.N >= 3 && rel.R == rel.R {
			title += fmt.Sprintf(" (r = %+.2f over %d runs)", rel.R, rel.N)
		}
	}
	p := plotkit.NewPanel(title, metric+" (mean over layers)", "test accuracy (%)")
	p.Legend.Top = true
	p.Legend.TextStyle.Font = plotkit.Sans(12)
	n := 0
	for k, pl := range s.placements() {
		var xys plotter.XYs
		for _, row := range s.Rows {
			if row.Placement != pl {
				continue
			}
			for _, r := range s.rowResults(row) {
				if v := get(r.Mean); v != nil {
					xys = append(xys, plotter.XY{X: *v, Y: 100 * r.FinalTestAcc})
				}
			}
		}
		if len(xys) == 0 {
			continue
		}
		n += len(xys)
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			continue
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: plotkit.SeriesColor(k), Radius: vg.Points(3.5),
			Shape: draw.CircleGlyph{}}
		p.Add(sc)
		p.Legend.Add(pl, sc)
	}
	p.Y.Max += 0.15 * (p.Y.Max - p.Y.Min)
	return p, n
}

// writePanel renders one panel as a figure of the house style (internal/plotkit) and writes it to path.
func writePanel(path string, p *plot.Plot, w, h int) error {
	if err := plotkit.Write(path, &plotkit.Figure{Rows: 1, Cols: 1, Panels: []*plot.Plot{p}, W: w, H: h}); err != nil {
		return fmt.Errorf("study: %w", err)
	}
	return nil
}
