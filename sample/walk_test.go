package sample

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// rankingCase builds rows whose buckets are sparse, dense (split once or
// twice) or all ties, and a temperature.
func rankingCases() []struct {
	name string
	row  []float32
	temp float32
} {
	rng := rand.New(rand.NewPCG(21, 22))
	flat := make([]float32, 6000)
	for i := range flat {
		flat[i] = float32(rng.Float64() * 0.02)
	}
	ties := make([]float32, 3000)
	for i := range ties {
		ties[i] = float32(rng.IntN(3))
	}
	tail := make([]float32, 2000)
	for i := range tail {
		tail[i] = -200 // weight 0 at T 1: the zero bucket
	}
	tail[5], tail[1500], tail[77] = 1, 0.5, 0.5
	return []struct {
		name string
		row  []float32
		temp float32
	}{
		{"normal", randomRow(rng, 5000, 2), 1},
		{"flat", flat, 1},
		{"high temperature", randomRow(rng, 5000, 1), 300},
		{"ties", ties, 0.5},
		{"zero-weight tail", tail, 1},
	}
}

// refOrder is the ranking by a full sort.
func refOrder(x []float32) []int32 {
	order := make([]int32, len(x))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortStableFunc(order, func(a, b int32) int {
		switch {
		case x[a] > x[b]:
			return -1
		case x[a] < x[b]:
			return 1
		}
		return 0
	})
	return order
}

func TestWalkPositions(t *testing.T) {
	for _, tc := range rankingCases() {
		t.Run(tc.name, func(t *testing.T) {
			order := refOrder(tc.row)
			s := NewSampler()
			s.resetRanking()
			if !s.useBuckets(slices.Clone(tc.row), tc.temp) {
				t.Fatal("useBuckets found no candidate")
			}
			for _, pos := range []int{0, 1, 2, len(order) / 3, len(order) / 2, len(order) - 2, len(order) - 1} {
				r := s.walk(toPosition, pos+1, 0, 0)
				if !r.found || r.pos != pos || r.tok != order[pos] {
					t.Fatalf("position %d: %+v, want token %d", pos, r, order[pos])
				}
			}
			if r := s.walk(toPosition, len(order)+1, 0, 0); r.found {
				t.Fatalf("position past the end found %+v", r)
			}
		})
	}
}

// TestPickFallback forces the case rounding can cause: a target at or above
// the mass of the kept prefix. The pick must be the last kept token with a
// positive weight.
func TestPickFallback(t *testing.T) {
	for _, tc := range rankingCases() {
		for _, L := range []int{1, 7, 1000, len(tc.row)} {
			s := NewSampler()
			s.resetRanking()
			x := slices.Clone(tc.row)
			if !s.useBuckets(x, tc.temp) {
				t.Fatal("useBuckets found no candidate")
			}
			order := refOrder(tc.row)
			want := order[0]
			for _, id := range order[:L] {
				if weightOf(zOf(x[id], s.maxX, tc.temp)) > 0 {
					want = id
				}
			}
			zL := s.walk(toLimit, L, 0, 0).before
			for _, target := range []float64{zL, zL * 2} {
				got, err := s.pick(L, target)
				if err != nil || got != want {
					t.Fatalf("%s L %d target %v: pick = %d, %v; want %d", tc.name, L, target, got, err, want)
				}
			}
		}
	}
}
