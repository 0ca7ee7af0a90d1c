package stats

import (
	"math"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*max(1, math.Abs(b)) }

func TestPercentile(t *testing.T) {
	// Expected values are numpy.percentile(xs, p) (method="linear").
	xs := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	tests := []struct {
		p, want float64
	}{
		{0, 1}, {50, 5.5}, {90, 9.1}, {95, 9.55}, {99, 9.91}, {100, 10}, {25, 3.25},
	}
	for _, tc := range tests {
		if got := Percentile(xs, tc.p); !near(got, tc.want) {
			t.Errorf("Percentile(1..10, %v) = %v, want %v", tc.p, got, tc.want)
		}
	}
	if got := Percentile([]float64{7}, 99); got != 7 {
		t.Errorf("one value: %v, want 7", got)
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("no values: %v, want 0", got)
	}
}

func TestSummarize(t *testing.T) {
	// numpy: mean 4.2, std sqrt(34.8/5) (ddof=0), median 4, p90 7, p99 8.8.
	xs := []float64{9, 1, 4, 4, 3}
	s := Summarize(xs, []float64{90, 99})
	want := Summary{Count: 5, Mean: 4.2, Std: math.Sqrt(34.8 / 5), Min: 1, Max: 9, Median: 4, Percentiles: []float64{7, 8.8}}
	if s.Count != want.Count || !near(s.Mean, want.Mean) || !near(s.Std, want.Std) || s.Min != 1 || s.Max != 9 || !near(s.Median, 4) {
		t.Errorf("Summarize = %+v, want %+v", s, want)
	}
	for i := range want.Percentiles {
		if !near(s.Percentiles[i], want.Percentiles[i]) {
			t.Errorf("percentile %d = %v, want %v", i, s.Percentiles[i], want.Percentiles[i])
		}
	}
	if xs[0] != 9 {
		t.Error("Summarize sorted its input")
	}
	if e := Summarize(nil, []float64{50}); e.Count != 0 || e.Mean != 0 || len(e.Percentiles) != 1 {
		t.Errorf("empty summary = %+v", e)
	}
}

func TestJain(t *testing.T) {
	tests := []struct {
		name string
		xs   []float64
		want float64
	}{
		{"equal", []float64{5, 5, 5, 5}, 1},
		{"one takes all", []float64{10, 0, 0, 0}, 0.25},
		{"two of four", []float64{1, 1, 0, 0}, 0.5},
		{"mixed", []float64{1, 2, 3}, 36.0 / 42},
		{"none", nil, 1},
		{"zeros", []float64{0, 0}, 1},
	}
	for _, tc := range tests {
		if got := Jain(tc.xs); !near(got, tc.want) {
			t.Errorf("%s: Jain(%v) = %v, want %v", tc.name, tc.xs, got, tc.want)
		}
	}
}
