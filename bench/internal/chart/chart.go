package chart

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Series is one line; NaN points are skipped.
type Series struct {
	Name   string
	Color  int // index into the palette; series of one target share it
	Dashed bool
	X, Y   []float64
}

// Panel is one line chart. The x axis is ticked at the series' x values and
// logarithmic when they span 10× or more.
type Panel struct {
	Title, XLabel, YLabel string
	Series                []Series
}

// Lines draws panels side by side into a PNG of w × h inches.
func Lines(path string, panels []Panel, w, h float64) error {
	row := make([]*plot.Plot, len(panels))
	for i, pn := range panels {
		p := plot.New()
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = pn.Title, pn.XLabel, pn.YLabel
		p.Legend.Top, p.Legend.Left = true, true
		xAxis(p, pn.Series)
		for _, s := range pn.Series {
			if err := line(p, s); err != nil {
				return fmt.Errorf("chart %s: %w", path, err)
			}
		}
		row[i] = p
	}
	return save(path, [][]*plot.Plot{row}, w, h)
}

func xAxis(p *plot.Plot, series []Series) {
	lo, hi := math.Inf(1), math.Inf(-1)
	seen := map[float64]bool{}
	var ticks []plot.Tick
	for _, s := range series {
		for _, x := range s.X {
			if math.IsNaN(x) || seen[x] {
				continue
			}
			seen[x] = true
			lo, hi = min(lo, x), max(hi, x)
			ticks = append(ticks, plot.Tick{Value: x, Label: strconv.FormatFloat(x, 'g', -1, 64)})
		}
	}
	if lo > 0 && hi/lo >= 10 {
		p.X.Scale = plot.LogScale{}
	}
	if len(ticks) > 0 {
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
	}
	p.Add(plotter.NewGrid())
}

func line(p *plot.Plot, s Series) error {
	var pts plotter.XYs
	for i, x := range s.X {
		if i < len(s.Y) && !math.IsNaN(x) && !math.IsNaN(s.Y[i]) {
			pts = append(pts, plotter.XY{X: x, Y: s.Y[i]})
		}
	}
	if len(pts) == 0 {
		return nil
	}
	l, g, err := plotter.NewLinePoints(pts)
	if err != nil {
		return err
	}
	c := plotutil.Color(s.Color)
	l.Color, g.Color = c, c
	g.Shape = plotutil.Shape(s.Color)
	if s.Dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	p.Add(l, g)
	p.Legend.Add(s.Name, l, g)
	return nil
}

// BarSeries is one bar per group; Color < 0 draws it grey (a reference).
type BarSeries struct {
	Name   string
	Color  int
	Values []float64
}

// Bars is a grouped bar chart.
type Bars struct {
	Title, YLabel string
	Groups        []string
	Series        []BarSeries
}

// BarChart draws b into a PNG of w × h inches.
func BarChart(path string, b Bars, w, h float64) error {
	p := plot.New()
	p.Title.Text, p.Y.Label.Text = b.Title, b.YLabel
	p.Legend.Top = true
	n := len(b.Series)
	width := vg.Points(float64(min(40, 240/max(n, 1))))
	for i, s := range b.Series {
		bc, err := plotter.NewBarChart(plotter.Values(s.Values), width)
		if err != nil {
			return fmt.Errorf("chart %s: %w", path, err)
		}
		if s.Color < 0 {
			bc.Color = color.Gray{Y: 170}
		} else {
			bc.Color = plotutil.Color(s.Color)
		}
		bc.LineStyle.Width = 0
		bc.Offset = width * vg.Length(float64(i)-float64(n-1)/2)
		p.Add(bc)
		p.Legend.Add(s.Name, bc)
	}
	p.NominalX(b.Groups...)
	p.Add(plotter.NewGrid())
	return save(path, [][]*plot.Plot{{p}}, w, h)
}

func save(path string, plots [][]*plot.Plot, w, h float64) error {
	img := vgimg.New(vg.Length(w)*vg.Inch, vg.Length(h)*vg.Inch)
	dc := draw.New(img)
	pad := vg.Millimeter * 3
	tiles := draw.Tiles{Rows: len(plots), Cols: len(plots[0]), PadX: pad, PadY: pad, PadTop: pad, PadBottom: pad, PadLeft: pad, PadRight: pad}
	canvases := plot.Align(plots, tiles, dc)
	for j := range plots {
		for i, p := range plots[j] {
			p.Draw(canvases[j][i])
		}
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("chart: %w", err)
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return fmt.Errorf("chart %s: %w", path, err)
	}
	return f.Close()
}
