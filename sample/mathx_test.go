package sample

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var (
	nan32  = float32(math.NaN())
	inf32  = float32(math.Inf(1))
	ninf32 = float32(math.Inf(-1))
)

func TestArgmax(t *testing.T) {
	tests := []struct {
		name   string
		logits []float32
		want   int32
	}{
		{"empty", nil, -1},
		{"single", []float32{-3}, 0},
		{"max last", []float32{1, 2, 3, 4, 5, 6, 7}, 6},
		{"max first", []float32{9, 2, 3, 4, 5, 6, 7}, 0},
		{"tie lowest id across lanes", []float32{0, 5, 1, 5, 5, 0, 0, 0}, 1},
		{"tie lane 0 after lane 3", []float32{0, 0, 0, 5, 5}, 3},
		{"tie in tail", []float32{0, 0, 0, 0, 0, 0, 0, 0, 4, 4}, 8},
		{"all equal", []float32{2, 2, 2, 2, 2, 2}, 0},
		{"negative", []float32{-5, -2, -9, -2}, 1},
		{"NaN ignored", []float32{nan32, 1, nan32, 0}, 1},
		{"all NaN", []float32{nan32, nan32, nan32, nan32, nan32}, -1},
		{"all -Inf", []float32{ninf32, ninf32}, -1},
		{"-Inf and one finite", []float32{ninf32, ninf32, -1e30, ninf32}, 2},
		{"+Inf wins", []float32{1, inf32, 3}, 1},
		{"+Inf ties MaxFloat32", []float32{1, 2, 3, 4, 5, inf32, math.MaxFloat32}, 5},
		{"MaxFloat32 before +Inf", []float32{math.MaxFloat32, 0, 0, 0, inf32}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Argmax(tc.logits); got != tc.want {
				t.Fatalf("Argmax(%v) = %d, want %d", tc.logits, got, tc.want)
			}
		})
	}
}

func TestArgmaxRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 500 {
		n := 1 + rng.IntN(300)
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.IntN(8)) // many ties
		}
		want := int32(0)
		for i := range x {
			if x[i] > x[want] {
				want = int32(i)
			}
		}
		if got := Argmax(x); got != want {
			t.Fatalf("trial %d: Argmax = %d, want %d", trial, got, want)
		}
	}
}

func TestExpNeg(t *testing.T) {
	worst := 0.0
	for i := 0; i <= 2000000; i++ {
		x := -float64(i) * 1e-4 // [-200, 0]
		got, want := expNeg(x), math.Exp(x)
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
	}
	if worst > 1e-13 {
		t.Errorf("expNeg relative error %g, want <= 1e-13", worst)
	}
	tests := []struct {
		x, want float64
	}{
		{0, 1}, {math.Inf(-1), 0}, {math.NaN(), 0}, {-709, 0}, {1, math.E},
	}
	for _, tc := range tests {
		if got := expNeg(tc.x); math.Abs(got-tc.want) > 1e-12*tc.want {
			t.Errorf("expNeg(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
}

func TestBucketWeight(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	zs := []float32{0, float32(math.Copysign(0, -1)), -1.0 / 32, -0.5, -1, -87.99, -88, -88.01, -1e30, ninf32, nan32}
	for range 200000 {
		zs = append(zs, -float32(rng.Float64()*90))
	}
	for _, z := range zs {
		b, w := bucketWeight(z)
		if !(z > -zRange) {
			if b != zeroBucket || w != 0 {
				t.Fatalf("bucketWeight(%v) = %d, %v, want zero bucket", z, b, w)
			}
			continue
		}
		if want := int(math.Floor(-float64(z) * bucketsPerUnit)); b != want {
			t.Fatalf("bucket of %v = %d, want %d", z, b, want)
		}
		// float32 rounding is 6e-8 relative (half a denormal step, 7e-46,
		// below 2^-126); the polynomial adds < 2e-12.
		if want := math.Exp(float64(z)); math.Abs(float64(w)-want) > 6.0e-8*want+7.1e-46 {
			t.Fatalf("weight of %v = %v, want %v", z, w, want)
		}
	}
	if _, w := bucketWeight(0); w != 1 {
		t.Fatalf("weight of 0 = %v, want exactly 1", w)
	}
}

// refLogSoftmax is the float64 reference with math.Exp.
func refLogSoftmax(x []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range x {
		if f := float64(readLogit(v)); f > m {
			m = f
		}
	}
	var s float64
	for _, v := range x {
		s += math.Exp(float64(readLogit(v)) - m)
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(readLogit(v)) - m - math.Log(s)
	}
	return out
}

func TestLogSoftmax(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	big := make([]float32, 50000)
	for i := range big {
		big[i] = float32(rng.NormFloat64() * 4)
	}
	tests := []struct {
		name   string
		logits []float32
		err    error
	}{
		{"empty", nil, ErrEmptyLogits},
		{"all NaN", []float32{nan32, nan32}, ErrNoCandidates},
		{"small", []float32{1, 2, 3}, nil},
		{"huge spread", []float32{1e30, -1e30, 0, 1e30}, nil},
		{"specials", []float32{nan32, 3, ninf32, inf32, -2}, nil},
		{"normal vocab", big, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := LogSoftmax(nil, tc.logits)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			want := refLogSoftmax(tc.logits)
			for i := range want {
				if math.IsInf(want[i], -1) && math.IsInf(float64(got[i]), -1) {
					continue
				}
				// float32 output: 1e-6 absolute plus float32 relative rounding.
				if d := math.Abs(float64(got[i]) - want[i]); d > 1e-6+1e-7*math.Abs(want[i]) {
					t.Fatalf("logprob[%d] = %v, want %v", i, got[i], want[i])
				}
			}
			// In place works too.
			in := slices.Clone(tc.logits)
			if out, _ := LogSoftmax(in, in); !slices.Equal(out, got) {
				t.Fatal("in-place LogSoftmax differs")
			}
		})
	}
}

func TestSelectTop(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	specials := []float32{nan32, inf32, ninf32, math.MaxFloat32}
	for trial := range 300 {
		n := 1 + rng.IntN(500)
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.IntN(20)) - 10
			if rng.IntN(20) == 0 {
				x[i] = specials[rng.IntN(len(specials))]
			}
		}
		k := 1 + rng.IntN(n+3)
		all := make([]cand, n)
		for i, v := range x {
			all[i] = cand{x: readLogit(v), id: int32(i)}
		}
		slices.SortStableFunc(all, func(a, b cand) int { // stable: equal logits keep id order
			switch {
			case a.x > b.x:
				return -1
			case a.x < b.x:
				return 1
			}
			return 0
		})
		got := selectTop(nil, x, k)
		want := all[:min(k, n)]
		if !slices.Equal(got, want) {
			t.Fatalf("trial %d: selectTop(k=%d) = %v, want %v", trial, k, got, want)
		}
	}
}
