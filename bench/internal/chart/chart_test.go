package chart

import (
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func checkPNG(t *testing.T, path string, minW, minH int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < minW || b.Dy() < minH {
		t.Errorf("%s is %v, want at least %dx%d", path, b, minW, minH)
	}
}

func TestLinesAndBars(t *testing.T) {
	dir := t.TempDir()
	xs := []float64{1, 16, 64}
	p := filepath.Join(dir, "lines.png")
	err := Lines(p, []Panel{
		{Title: "TTFT", XLabel: "concurrency", YLabel: "ms", Series: []Series{
			{Name: "a p50", X: xs, Y: []float64{1, 2, 3}},
			{Name: "a p99", Dashed: true, X: xs, Y: []float64{2, math.NaN(), 6}},
			{Name: "empty", X: xs, Y: []float64{math.NaN(), math.NaN(), math.NaN()}},
		}},
		{Title: "ITL", Series: []Series{{Name: "b", Color: 1, X: []float64{5}, Y: []float64{1}}}},
	}, 10, 4)
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p, 500, 300)
	p = filepath.Join(dir, "bars.png")
	if err := BarChart(p, Bars{Title: "share", Groups: []string{"solo", "team"}, Series: []BarSeries{
		{Name: "sota", Values: []float64{0.2, 0.8}}, {Name: "entitled", Color: -1, Values: []float64{0.25, 0.75}},
	}}, 6, 4); err != nil {
		t.Fatal(err)
	}
	checkPNG(t, p, 400, 250)
}
