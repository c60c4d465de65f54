// Package plotkit is bnzoo's house style for figures on gonum/plot: a titled grid of panels with a legend strip
// above them, sans-serif text, a light grid, one palette of well separated series colours, rendered to PNG at a
// fixed pixel size on white. The analysis reports and the study summaries draw with it, so every figure bnzoo
// writes looks alike.
package plotkit

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/bnzoo/bnzoo/internal/atomicfile"
)

// DPI is the resolution of every figure.
const DPI = 96

// Palette holds well separated colours for the reports' series.
var Palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, // blue
	{0xd6, 0x27, 0x28, 0xff}, // red
	{0x2c, 0xa0, 0x2c, 0xff}, // green
	{0xff, 0x7f, 0x0e, 0xff}, // orange
	{0x94, 0x67, 0xbd, 0xff}, // purple
	{0x8c, 0x56, 0x4b, 0xff}, // brown
	{0xe3, 0x77, 0xc2, 0xff}, // pink
	{0x17, 0xbe, 0xcf, 0xff}, // cyan
}

// Glyphs are the markers of the series: filled shapes first.
var Glyphs = []draw.GlyphDrawer{
	draw.CircleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{}, draw.RingGlyph{},
	draw.SquareGlyph{}, draw.TriangleGlyph{}, draw.CrossGlyph{}, draw.PlusGlyph{},
}

func SeriesColor(i int) color.RGBA { return Palette[i%len(Palette)] }

func WithAlpha(c color.RGBA, a uint8) color.NRGBA {
	return color.NRGBA{R: c.R, G: c.G, B: c.B, A: a}
}

var (
	Gray       = color.RGBA{0x55, 0x55, 0x55, 0xff}
	LightGray  = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}
	DashStyle  = []vg.Length{vg.Points(5), vg.Points(4)}
	HistFill   = color.RGBA{0x4c, 0x72, 0xb0, 0xff}
	HistFillBN = color.RGBA{0x55, 0xa8, 0x68, 0xff}
)

// LegendItem is one entry of a figure's legend.
type LegendItem struct {
	Name   string
	Thumbs []plot.Thumbnailer
}

// figure is a title, a legend strip and a grid of panels, rendered to PNG.
type Figure struct {
	Title      string
	Legend     []LegendItem
	Rows, Cols int
	Panels     []*plot.Plot // row-major, Rows·Cols long; nil leaves a cell empty
	W, H       int          // pixels
}

// sans returns the sans-serif face (Liberation Sans, embedded in the
// plotting library) at the given size in points.
func Sans(size vg.Length) font.Font {
	f := plot.DefaultFont
	f.Variant = "Sans"
	f.Size = size
	return f
}

// PxLen converts pixels at DPI to a vg length.
func PxLen(px int) vg.Length { return vg.Length(px) * vg.Inch / DPI }

// png renders the figure. A panic inside the plotting library becomes an
// error.
func (f *Figure) PNG() (data []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("render %q: %v", f.Title, r)
		}
	}()
	if f.Rows < 1 || f.Cols < 1 || len(f.Panels) != f.Rows*f.Cols {
		return nil, fmt.Errorf("render %q: %d panels for a %d×%d grid", f.Title, len(f.Panels), f.Rows, f.Cols)
	}
	c := vgimg.NewWith(vgimg.UseWH(PxLen(f.W), PxLen(f.H)), vgimg.UseDPI(DPI))
	dc := draw.New(c)
	pad := vg.Points(8)
	y := dc.Max.Y - pad

	// Title, centred, one or more lines.
	ts := text.Style{Font: Sans(15), Handler: plot.DefaultTextHandler,
		Color: color.Black, XAlign: draw.XCenter, YAlign: draw.YTop}
	if f.Title != "" {
		dc.FillText(ts, vg.Point{X: (dc.Min.X + dc.Max.X) / 2, Y: y}, f.Title)
		y -= ts.Height(f.Title) + pad
	}

	// Legend: entries side by side, wrapped into centred lines, above the
	// panels so that it never covers data.
	if len(f.Legend) > 0 {
		lg := plot.NewLegend()
		lg.Top, lg.Left = true, true
		lg.TextStyle.Font = Sans(12)
		lg.ThumbnailWidth = vg.Points(28)
		gap := vg.Points(24)
		type placed struct {
			item  LegendItem
			width vg.Length
		}
		var lines [][]placed
		var lineW []vg.Length
		maxW := dc.Max.X - dc.Min.X - 2*pad
		for _, it := range f.Legend {
			w := lg.ThumbnailWidth + lg.TextStyle.Rectangle(" "+it.Name).Max.X
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
				l.Add(p.item.Name, p.item.Thumbs...)
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
	tiles := draw.Tiles{Rows: f.Rows, Cols: f.Cols,
		PadTop: vg.Points(4), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(14),
		PadX: vg.Points(22), PadY: vg.Points(18)}
	// Each panel fills its tile (plot.Align would line up the data areas,
	// but shifts panels whose top tick label needs room).
	for j := 0; j < f.Rows; j++ {
		for i := 0; i < f.Cols; i++ {
			if p := f.Panels[j*f.Cols+i]; p != nil {
				p.Draw(tiles.At(body, i, j))
			}
		}
	}
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("render %q: %w", f.Title, err)
	}
	return buf.Bytes(), nil
}

// Write renders f and writes it to path atomically.
func Write(path string, f *Figure) error {
	data, err := f.PNG()
	if err != nil {
		return fmt.Errorf("figure %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("figure: %w", err)
	}
	return nil
}

// NewPanel returns a plot with a title, axis labels and a light grid.
func NewPanel(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = Sans(13)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.X.Label.TextStyle.Font = Sans(12)
	p.Y.Label.TextStyle.Font = Sans(12)
	p.X.Tick.Label.Font = Sans(10)
	p.Y.Tick.Label.Font = Sans(10)
	p.X.Label.Padding = vg.Points(4)
	g := plotter.NewGrid()
	g.Vertical.Color = LightGray
	g.Horizontal.Color = LightGray
	p.Add(g)
	return p
}

// EmptyNote marks a panel without data with a text centred in its (already
// set) axis ranges.
func EmptyNote(p *plot.Plot, note string) {
	at := plotter.XY{X: (p.X.Min + p.X.Max) / 2, Y: (p.Y.Min + p.Y.Max) / 2}
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{at}, Labels: []string{note}})
	if err == nil {
		l.TextStyle[0].XAlign = draw.XCenter
		l.TextStyle[0].YAlign = draw.YCenter
		l.TextStyle[0].Font = Sans(13)
		l.TextStyle[0].Color = Gray
		p.Add(l)
	}
}

// Headroom returns an upper axis limit a little above max (at least tiny),
// so that the highest point is not drawn on the frame.
func Headroom(max float64) float64 {
	if !(max > 0) || math.IsInf(max, 0) {
		return 1
	}
	return max * 1.08
}

// checkLabels returns the labels to use for the reports: the given ones,
// which must be one per report, non-empty and distinct, or the FormatTable

func SeriesLine(i int) draw.LineStyle {
	return draw.LineStyle{Color: SeriesColor(i), Width: vg.Points(2)}
}

func SeriesGlyph(i int) draw.GlyphStyle {
	return draw.GlyphStyle{Color: SeriesColor(i), Radius: vg.Points(4), Shape: Glyphs[i%len(Glyphs)]}
}

// SeriesThumbs returns the legend thumbnails of series i: its line and its
// marker.
func SeriesThumbs(i int) []plot.Thumbnailer {
	ln := &plotter.Line{LineStyle: SeriesLine(i)}
	sc := &plotter.Scatter{GlyphStyle: SeriesGlyph(i)}
	return []plot.Thumbnailer{ln, sc}
}

// DashedThumb is a legend thumbnail of a dashed Gray line.
func DashedThumb() plot.Thumbnailer {
	return &plotter.Line{LineStyle: draw.LineStyle{Color: Gray, Width: vg.Points(1.5), Dashes: DashStyle}}
}

// VLine adds a dashed vertical line at x spanning [0, ymax].
func VLine(p *plot.Plot, x, ymax float64) {
	ln, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: ymax}})
	if err != nil {
		return
	}
	ln.LineStyle = draw.LineStyle{Color: Gray, Width: vg.Points(1.5), Dashes: DashStyle}
	p.Add(ln)
}
