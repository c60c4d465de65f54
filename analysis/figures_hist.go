package analysis

// Histogram figures: one layer's pooled and per-channel histograms, and several reports' pooled histograms
// overlaid; the helpers that draw a Histogram as bars or steps.

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/bnzoo/bnzoo/internal/plotkit"
)

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
		ln.LineStyle = plotkit.SeriesLine(i)
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
func histogramFigure(r *Report, l LayerMetrics, kind HistogramKind) (*plotkit.Figure, error) {
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
	fill := plotkit.HistFill
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
		fill = plotkit.HistFillBN
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
	f := &plotkit.Figure{Title: title, W: histFigureW, H: histFigureH,
		Legend: []plotkit.LegendItem{
			{Name: fmt.Sprintf("bars: fraction of the values in each bin (bin width %.3g)", binWidth(panels[0].h)),
				Thumbs: []plot.Thumbnailer{&plotter.Histogram{FillColor: fill, LineStyle: draw.LineStyle{Color: fill, Width: vg.Points(0.5)}}}},
			{Name: legendName, Thumbs: []plot.Thumbnailer{plotkit.DashedThumb()}},
		}}
	f.Rows, f.Cols = gridShape(len(panels))
	f.Panels = make([]*plot.Plot, f.Rows*f.Cols)
	for i, pn := range panels {
		p := plotkit.NewPanel(pn.title, xlabel, "fraction of values")
		max := addBars(p, pn.h, fill, false)
		ymax := plotkit.Headroom(max)
		if lineAt > 0 && lineAt < pn.h.Hi {
			plotkit.VLine(p, lineAt, ymax)
		}
		if -lineAt > pn.h.Lo {
			plotkit.VLine(p, -lineAt, ymax)
		}
		p.X.Min, p.X.Max = pn.h.Lo, pn.h.Hi
		p.Y.Min, p.Y.Max = 0, ymax
		f.Panels[i] = p
	}
	return f, nil
}

// pooledFigure builds, for one layer, the pooled z and next histograms of
// several reports overlaid as step lines (z panel only when some report
// has one). The y axis is the fraction of values per bin when all the
// reports' histograms of a panel share their bins, the density otherwise.
func pooledFigure(reports []*Report, labels []string, layer string) (*plotkit.Figure, error) {
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
	f := &plotkit.Figure{W: pooledFigureW, H: pooledFigureH,
		Title: fmt.Sprintf("%s (%s): histograms pooled over all channels", layer, act)}
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
		p := plotkit.NewPanel(pn.title, pn.xlabel, ylabel)
		for i, h := range pn.hs {
			if h != nil {
				maxY = math.Max(maxY, addSteps(p, h, i, !sameBins))
			}
		}
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = lo, hi, 0, plotkit.Headroom(maxY)
		f.Panels = append(f.Panels, p)
	}
	if len(f.Panels) == 0 {
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
		f.Legend = append(f.Legend, plotkit.LegendItem{Name: name, Thumbs: []plot.Thumbnailer{&plotter.Line{LineStyle: plotkit.SeriesLine(i)}}})
	}
	f.Rows, f.Cols = 1, len(f.Panels)
	return f, nil
}
