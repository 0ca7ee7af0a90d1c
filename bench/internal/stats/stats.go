package stats

import (
	"math"
	"slices"
)

// Mean is the arithmetic mean; 0 for no values.
func Mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// Std is the population standard deviation (numpy.std with ddof=0, as vllm
// reports it); 0 for no values.
func Std(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	m := Mean(xs)
	s := 0.0
	for _, x := range xs {
		d := x - m
		s += d * d
	}
	return math.Sqrt(s / float64(len(xs)))
}

// Percentile returns the p-th percentile (0..100) of sorted values with
// linear interpolation between the two nearest ranks (numpy's "linear"
// method); 0 for no values. sorted must be in ascending order.
func Percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	p = min(max(p, 0), 100)
	rank := p / 100 * float64(n-1)
	lo := int(math.Floor(rank))
	hi := min(lo+1, n-1)
	frac := rank - float64(lo)
	return sorted[lo] + (sorted[hi]-sorted[lo])*frac
}

// Summary is the distribution of one metric.
type Summary struct {
	Count       int
	Mean, Std   float64
	Min, Max    float64
	Median      float64
	Percentiles []float64 // at the ps given to Summarize, in that order
}

// Summarize computes the summary of xs at percentiles ps. xs is not
// modified.
func Summarize(xs []float64, ps []float64) Summary {
	s := Summary{Count: len(xs), Percentiles: make([]float64, len(ps))}
	if len(xs) == 0 {
		return s
	}
	sorted := slices.Clone(xs)
	slices.Sort(sorted)
	s.Mean = Mean(sorted)
	s.Std = Std(sorted)
	s.Min, s.Max = sorted[0], sorted[len(sorted)-1]
	s.Median = Percentile(sorted, 50)
	for i, p := range ps {
		s.Percentiles[i] = Percentile(sorted, p)
	}
	return s
}

// Jain is Jain's fairness index (Σx)² / (n·Σx²) of the allocations xs: 1
// when all are equal, 1/n when one gets everything. It is 1 for no values or
// all zeros (nothing was shared unfairly). Negative values are treated as 0.
func Jain(xs []float64) float64 {
	sum, sq := 0.0, 0.0
	for _, x := range xs {
		x = max(x, 0)
		sum += x
		sq += x * x
	}
	if sq == 0 {
		return 1
	}
	return sum * sum / (float64(len(xs)) * sq)
}
