package sample

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// sampleOnce samples from a copy of logits with a fresh Sampler.
func sampleOnce(t *testing.T, logits []float32, p Params, prompt, output []int32) Result {
	t.Helper()
	r, err := NewSampler().Sample(slices.Clone(logits), p, prompt, output)
	if err != nil {
		t.Fatalf("Sample: %v", err)
	}
	return r
}

// randomRow returns vocab logits ~ N(0, sd) with a few boosted tokens, like
// a language model's row.
func randomRow(rng *rand.Rand, vocab int, sd float64) []float32 {
	x := make([]float32, vocab)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * sd)
	}
	for range 8 {
		x[rng.IntN(vocab)] += float32(4 + 6*rng.Float64())
	}
	return x
}

func TestGreedy(t *testing.T) {
	tests := []struct {
		name   string
		logits []float32
		p      Params
		want   int32
	}{
		{"argmax", []float32{0.1, 2.5, -1, 2.4}, Params{}, 1},
		{"tie lowest id", []float32{1, 3, 0, 3, 3}, Params{}, 1},
		{"top_k/top_p ignored", []float32{1, 3, 0}, Params{TopK: 1, TopP: 0.1, MinP: 0.5}, 1},
		{"bias forces", []float32{5, 1, 2}, Params{LogitBias: map[int32]float32{2: 100}}, 2},
		{"bias bans", []float32{5, 1, 2}, Params{LogitBias: map[int32]float32{0: -100}}, 2},
		{"bias makes a tie, lowest id", []float32{5, 4, 2}, Params{LogitBias: map[int32]float32{1: 1}}, 0},
		{"NaN never wins", []float32{nan32, -1, nan32}, Params{}, 1},
		{"+Inf wins", []float32{3, inf32, 4}, Params{}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sampleOnce(t, tc.logits, tc.p, nil, nil).Token; got != tc.want {
				t.Fatalf("token = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestPenalties checks the processed logits exactly. With Temperature 0 the
// row holds them after Sample (bias and penalties are applied in place and
// Argmax only reads); that is what this in-package test relies on.
func TestPenalties(t *testing.T) {
	tests := []struct {
		name           string
		logits         []float32
		p              Params
		prompt, output []int32
		want           []float32
	}{
		{"repetition divides positive, multiplies negative and zero",
			[]float32{2, -1, 0, 3, 4}, Params{RepetitionPenalty: 2},
			[]int32{0, 1, 2}, nil, []float32{1, -2, 0, 3, 4}},
		{"repetition once per distinct token of prompt and output",
			[]float32{2, -1, 0.5, 3}, Params{RepetitionPenalty: 2},
			[]int32{0, 0, 3}, []int32{3, 1, 1, 0}, []float32{1, -2, 0.5, 1.5}},
		{"repetition below 1 boosts",
			[]float32{2, -1}, Params{RepetitionPenalty: 0.5},
			[]int32{0, 1}, nil, []float32{4, -0.5}},
		{"repetition 1 is off",
			[]float32{2, -1}, Params{RepetitionPenalty: 1}, []int32{0, 1}, nil, []float32{2, -1}},
		{"frequency and presence over output only",
			[]float32{1, 1, 1, 1}, Params{FrequencyPenalty: 0.5, PresencePenalty: 0.25},
			[]int32{0, 1, 2}, []int32{1, 1, 1, 2}, []float32{1, -0.75, 0.25, 1}},
		{"negative presence and frequency reward",
			[]float32{0, 0}, Params{FrequencyPenalty: -1, PresencePenalty: -2},
			nil, []int32{1, 1}, []float32{0, 4}},
		{"bias, then repetition, then frequency",
			[]float32{1, 0}, Params{LogitBias: map[int32]float32{0: 3}, RepetitionPenalty: 2, FrequencyPenalty: 1},
			nil, []int32{0}, []float32{1, 0}}, // (1+3)/2 - 1 = 1
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			row := slices.Clone(tc.logits)
			if _, err := NewSampler().Sample(row, tc.p, tc.prompt, tc.output); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(row, tc.want) {
				t.Fatalf("processed logits %v, want %v", row, tc.want)
			}
			if ref := refProcess(tc.logits, tc.p, tc.prompt, tc.output); !slices.Equal(ref, tc.want) {
				t.Fatalf("reference %v, want %v", ref, tc.want)
			}
		})
	}
}

func TestPenaltyChangesChoice(t *testing.T) {
	logits := []float32{2, 1.5, -3}
	tests := []struct {
		name   string
		p      Params
		output []int32
		want   int32
	}{
		{"no penalty", Params{}, []int32{0}, 0},
		{"repetition", Params{RepetitionPenalty: 2}, []int32{0}, 1},
		{"presence", Params{PresencePenalty: 1}, []int32{0}, 1},
		{"frequency grows with count", Params{FrequencyPenalty: 0.3}, []int32{0, 0}, 1},
		{"frequency count 1 not enough", Params{FrequencyPenalty: 0.3}, []int32{0}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := sampleOnce(t, logits, tc.p, nil, tc.output).Token; got != tc.want {
				t.Fatalf("token = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestTruncation covers top-k = 1, tiny top-p, min-p and logit_bias under
// temperature, in both rankings (heap candidates and buckets), over many seeds.
func TestTruncation(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	row := randomRow(rng, 4000, 2)
	best := Argmax(row)
	// Two near-equal leaders and a long tail for min-p.
	lead := make([]float32, 1500)
	for i := range lead {
		lead[i] = -5
	}
	lead[10], lead[700] = 3, 3-float32(math.Log(2)) // p ratio 1/2
	lead[20] = 3 - float32(math.Log(10))            // p ratio 1/10

	tests := []struct {
		name    string
		logits  []float32
		p       Params
		allowed []int32 // every draw must be one of these
		all     bool    // and each of them must be drawn
	}{
		{"top_k 1 = greedy, T 1", row, Params{Temperature: 1, TopK: 1}, []int32{best}, true},
		{"top_k 1 = greedy, T 50", row, Params{Temperature: 50, TopK: 1}, []int32{best}, true},
		{"top_k 1 = greedy, T 1e-3", row, Params{Temperature: 1e-3, TopK: 1}, []int32{best}, true},
		{"tiny top_p keeps the best (buckets)", row, Params{Temperature: 2, TopP: 1e-6}, []int32{best}, true},
		{"tiny top_p keeps the best (heap)", row, Params{Temperature: 2, TopK: 100, TopP: 1e-6}, []int32{best}, true},
		{"tiny top_p keeps the best (bucket top_k)", row, Params{Temperature: 2, TopK: 3000, TopP: 1e-6}, []int32{best}, true},
		{"min_p 0.4 keeps the two leaders", lead, Params{Temperature: 1, MinP: 0.4}, []int32{10, 700}, true},
		{"min_p 0.05 adds the third", lead, Params{Temperature: 1, MinP: 0.05}, []int32{10, 20, 700}, true},
		{"min_p 0.4 with top_k", lead, Params{Temperature: 1, TopK: 50, MinP: 0.4}, []int32{10, 700}, true},
		{"top_k 2", lead, Params{Temperature: 1, TopK: 2}, []int32{10, 700}, true},
		{"bias bans the leader", lead, Params{Temperature: 1, MinP: 0.4, LogitBias: map[int32]float32{10: -100}}, []int32{700}, true},
		{"bias forces a tail token", lead, Params{Temperature: 1, LogitBias: map[int32]float32{1234: 100}}, []int32{1234}, true},
		{"tiny temperature is greedy", row, Params{Temperature: 1e-6}, []int32{best}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSampler()
			seen := map[int32]bool{}
			for seed := range uint64(300) {
				p := tc.p
				p.Seed = seed
				r, err := s.Sample(slices.Clone(tc.logits), p, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Contains(tc.allowed, r.Token) {
					t.Fatalf("seed %d drew %d, want one of %v", seed, r.Token, tc.allowed)
				}
				seen[r.Token] = true
			}
			if tc.all && len(seen) != len(tc.allowed) {
				t.Fatalf("drew %v over 300 seeds, want all of %v", seen, tc.allowed)
			}
		})
	}
}

// TestTemperatureDistribution compares the frequencies of 20000 seeded draws
// with softmax(logits / T). The draws are deterministic (fixed seeds), so the
// test cannot flake; the tolerance says what a correct sampler would pass
// with overwhelming probability: each token's count is Binomial(N, p) with sd
// sqrt(N p (1-p)) and must be within 5 sd (a two-sided miss has probability
// 6e-7 per token), and Pearson's chi-square over the 8 tokens (7 degrees of
// freedom) must stay below 35 (p-value 1.3e-5).
func TestTemperatureDistribution(t *testing.T) {
	logits := []float32{1, 2.5, 0, -1, 2, 0.5, 3, -0.5}
	const N = 20000
	tests := []struct {
		name string
		temp float32
		draw func(i int) (seed uint64, n int)
	}{
		{"T 1 over seeds", 1, func(i int) (uint64, int) { return uint64(i), 0 }},
		{"T 0.5 over output index", 0.5, func(i int) (uint64, int) { return 12345, i }},
		{"T 2 over seeds at index 3", 2, func(i int) (uint64, int) { return uint64(i) * 7919, 3 }},
	}
	output := make([]int32, N)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := softmax64(logits, float64(tc.temp))
			s := NewSampler()
			counts := make([]float64, len(logits))
			for i := range N {
				seed, n := tc.draw(i)
				r, err := s.Sample(slices.Clone(logits), Params{Temperature: tc.temp, Seed: seed}, nil, output[:n])
				if err != nil {
					t.Fatal(err)
				}
				counts[r.Token]++
			}
			chi := 0.0
			for id, c := range counts {
				e := N * want[id]
				sd := math.Sqrt(e * (1 - want[id]))
				if math.Abs(c-e) > 5*sd {
					t.Errorf("token %d drawn %v times, want %.1f ± %.1f", id, c, e, 5*sd)
				}
				chi += (c - e) * (c - e) / e
			}
			if chi > 35 {
				t.Errorf("chi-square %.2f over 7 degrees of freedom, want < 35", chi)
			}
		})
	}
}

// TestMatchesReference runs the sampler against refSample (full sort,
// sequential sums) over random rows and parameters at a vocabulary large
// enough for real buckets. The two may only disagree when u lands within
// float64 rounding of a boundary, which these trials never do.
func TestMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	s := NewSampler()
	topKs := []int{0, 1, 2, 40, 1024, 1025, 3000, 7999, 8000, 100000}
	topPs := []float32{0, 0.05, 0.5, 0.9, 0.99, 1}
	minPs := []float32{0, 0.001, 0.1, 0.9}
	temps := []float32{1e-4, 0.3, 0.7, 1, 1.5, 5}
	for trial := range 400 {
		vocab := 8000
		if trial%5 == 0 {
			vocab = 1 + rng.IntN(50)
		}
		row := randomRow(rng, vocab, 0.5+3*rng.Float64())
		if trial%7 == 0 { // heavy ties
			for i := range row {
				row[i] = float32(rng.IntN(5))
			}
		}
		if trial%11 == 0 { // specials
			row[rng.IntN(vocab)] = nan32
			row[rng.IntN(vocab)] = ninf32
		}
		p := Params{
			Temperature: temps[rng.IntN(len(temps))],
			TopK:        topKs[rng.IntN(len(topKs))],
			TopP:        topPs[rng.IntN(len(topPs))],
			MinP:        minPs[rng.IntN(len(minPs))],
			Seed:        rng.Uint64(),
		}
		if trial%3 == 0 {
			p.RepetitionPenalty, p.PresencePenalty, p.FrequencyPenalty = 1.3, 0.4, 0.2
			p.LogitBias = map[int32]float32{int32(rng.IntN(vocab)): 5}
		}
		prompt := []int32{int32(rng.IntN(vocab)), int32(rng.IntN(vocab))}
		output := make([]int32, rng.IntN(20))
		for i := range output {
			output[i] = int32(rng.IntN(vocab))
		}
		want, kept := refSample(row, p, prompt, output)
		got, err := s.Sample(slices.Clone(row), p, prompt, output)
		if err != nil {
			t.Fatalf("trial %d %+v: %v", trial, p, err)
		}
		if got.Token != want {
			t.Fatalf("trial %d (vocab %d, %+v): token %d, reference %d (kept %d)", trial, vocab, p, got.Token, want, len(kept))
		}
	}
}

func TestSeedReproducible(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	row := randomRow(rng, 32000, 1)
	p := Params{Temperature: 1.5, TopP: 0.95, Seed: 2024}
	output := make([]int32, 200)
	s1, s2 := NewSampler(), NewSampler()
	distinct := map[int32]bool{}
	for n := range 200 {
		a, err1 := s1.Sample(slices.Clone(row), p, nil, output[:n])
		b, err2 := s2.Sample(slices.Clone(row), p, nil, output[:n])
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if a.Token != b.Token {
			t.Fatalf("n %d: same seed gave %d and %d", n, a.Token, b.Token)
		}
		distinct[a.Token] = true
	}
	if len(distinct) < 20 {
		t.Fatalf("200 draws along the stream gave only %d distinct tokens; the draw does not change with n", len(distinct))
	}
	// Different seeds at the same index: different streams.
	same := 0
	for n := range 200 {
		a := sampleOnce(t, row, p, nil, output[:n])
		q := p
		q.Seed = p.Seed + 1
		if b := sampleOnce(t, row, q, nil, output[:n]); a.Token == b.Token {
			same++
		}
	}
	if same > 40 {
		t.Fatalf("seeds %d and %d agree on %d of 200 draws", p.Seed, p.Seed+1, same)
	}
}

func TestLogprobs(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	row := randomRow(rng, 5000, 3)
	tie := []float32{1, 4, 2, 4, 4, 0}
	tests := []struct {
		name    string
		logits  []float32
		p       Params
		wantTop []int32 // expected ids of Top, in order (nil: check against a sort)
	}{
		{"chosen only, greedy", row, Params{Logprobs: true}, nil},
		{"top 5, temperature", row, Params{Temperature: 1, Logprobs: true, TopLogprobs: 5, Seed: 3}, nil},
		{"top 20 with bias and penalties stay raw", row, Params{Temperature: 0.8, TopK: 50, TopLogprobs: 20,
			LogitBias: map[int32]float32{7: 100}, RepetitionPenalty: 1.5, PresencePenalty: 1}, nil},
		{"ties by lower id", tie, Params{TopLogprobs: 4}, []int32{1, 3, 4, 2}},
		{"more than vocab", tie, Params{Temperature: 1, TopLogprobs: 20}, []int32{1, 3, 4, 2, 0, 5}},
		{"specials", []float32{nan32, 2, inf32, ninf32}, Params{Logprobs: true, TopLogprobs: 3}, []int32{2, 1, 0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := refLogSoftmax(tc.logits)
			r := sampleOnce(t, tc.logits, tc.p, []int32{1, 2}, []int32{3})
			close := func(got float32, want float64) bool {
				if math.IsInf(want, -1) {
					return math.IsInf(float64(got), -1)
				}
				return math.Abs(float64(got)-want) <= 1e-6+1e-7*math.Abs(want)
			}
			if !close(r.Logprob, ref[r.Token]) {
				t.Errorf("Logprob of %d = %v, want %v", r.Token, r.Logprob, ref[r.Token])
			}
			if len(r.Top) != min(tc.p.TopLogprobs, len(tc.logits)) {
				t.Fatalf("%d top logprobs, want %d", len(r.Top), min(tc.p.TopLogprobs, len(tc.logits)))
			}
			order := make([]int32, len(tc.logits))
			for i := range order {
				order[i] = int32(i)
			}
			slices.SortStableFunc(order, func(a, b int32) int { // by raw logprob, then id
				switch {
				case ref[a] > ref[b]:
					return -1
				case ref[a] < ref[b]:
					return 1
				}
				return 0
			})
			want := tc.wantTop
			if want == nil {
				want = order[:len(r.Top)]
			}
			for i, tl := range r.Top {
				if tl.Token != want[i] || !close(tl.Logprob, ref[tl.Token]) {
					t.Fatalf("Top[%d] = %+v, want {%d %v}", i, tl, want[i], ref[want[i]])
				}
			}
		})
	}
}

func TestErrorsAndSpecials(t *testing.T) {
	tests := []struct {
		name           string
		logits         []float32
		p              Params
		prompt, output []int32
		err            error
		allowed        []int32
	}{
		{"empty greedy", nil, Params{}, nil, nil, ErrEmptyLogits, nil},
		{"empty temperature", []float32{}, Defaults(), nil, nil, ErrEmptyLogits, nil},
		{"all NaN greedy", []float32{nan32, nan32}, Params{}, nil, nil, ErrNoCandidates, nil},
		{"all NaN temperature", []float32{nan32, nan32}, Defaults(), nil, nil, ErrNoCandidates, nil},
		{"all -Inf top_k", []float32{ninf32, ninf32, ninf32}, Params{Temperature: 1, TopK: 2}, nil, nil, ErrNoCandidates, nil},
		{"all NaN logprobs", []float32{nan32}, Params{Logprobs: true}, nil, nil, ErrNoCandidates, nil},
		{"bad prompt id with repetition", []float32{1, 2}, Params{RepetitionPenalty: 1.2}, []int32{5}, nil, ErrTokenOutOfRange, nil},
		{"bad output id with frequency", []float32{1, 2}, Params{FrequencyPenalty: 1}, nil, []int32{-1}, ErrTokenOutOfRange, nil},
		{"bad ids unread without penalties", []float32{1, 2}, Params{}, []int32{99}, []int32{-7}, nil, []int32{1}},
		{"invalid params", []float32{1, 2}, Params{TopP: 2}, nil, nil, ErrInvalidParams, nil},
		{"NaN never drawn", []float32{nan32, 0, nan32, 0}, Params{Temperature: 5}, nil, nil, nil, []int32{1, 3}},
		{"+Inf drawn", []float32{0, inf32, 5, 1e30}, Params{Temperature: 1}, nil, nil, nil, []int32{1}},
		{"+Inf ties MaxFloat32", []float32{math.MaxFloat32, inf32, 0}, Params{Temperature: 1}, nil, nil, nil, []int32{0, 1}},
		{"-Inf masked", []float32{ninf32, 0, ninf32}, Params{Temperature: 100, TopK: 3}, nil, nil, nil, []int32{1}},
		{"huge spread", []float32{-math.MaxFloat32, math.MaxFloat32, 0}, Params{Temperature: 0.01, MinP: 0.5}, nil, nil, nil, []int32{1}},
		{"huge temperature", []float32{1, 2, 3}, Params{Temperature: 3e38}, nil, nil, nil, []int32{0, 1, 2}},
		{"penalty on Inf and NaN", []float32{inf32, nan32, 1}, Params{Temperature: 1, RepetitionPenalty: 2, FrequencyPenalty: 1},
			[]int32{0, 1}, []int32{0, 1}, nil, []int32{0}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSampler()
			for seed := range uint64(50) {
				p := tc.p
				p.Seed = seed
				r, err := s.Sample(slices.Clone(tc.logits), p, tc.prompt, tc.output)
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				if err != nil {
					return
				}
				if !slices.Contains(tc.allowed, r.Token) {
					t.Fatalf("seed %d drew %d, want one of %v", seed, r.Token, tc.allowed)
				}
			}
		})
	}
}

func TestNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	row := randomRow(rng, 20000, 2)
	prompt := []int32{1, 2, 3, 4}
	output := []int32{5, 6, 5}
	tests := []struct {
		name string
		p    Params
	}{
		{"greedy", Params{}},
		{"temperature", Params{Temperature: 1}},
		{"top_k", Params{Temperature: 1, TopK: 50}},
		{"top_p min_p", Params{Temperature: 0.7, TopP: 0.9, MinP: 0.01}},
		{"penalties logprobs", Params{Temperature: 1, RepetitionPenalty: 1.1, FrequencyPenalty: 0.5, Logprobs: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSampler()
			buf := make([]float32, len(row))
			seed := uint64(0)
			allocs := testing.AllocsPerRun(50, func() {
				copy(buf, row)
				p := tc.p
				p.Seed = seed
				seed++
				if _, err := s.Sample(buf, p, prompt, output); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Fatalf("%v allocations per Sample, want 0", allocs)
			}
		})
	}
}

// FuzzSample feeds arbitrary rows and parameters: Sample must not panic, and
// on success must return a token inside the vocabulary.
func FuzzSample(f *testing.F) {
	f.Add([]byte{0, 0, 128, 63, 0, 0, 192, 127}, float32(1), 3, float32(0.9), float32(0.1), float32(1.2), uint64(1), 2)
	f.Add([]byte{0, 0, 128, 255, 0, 0, 128, 127, 1, 2, 3, 4}, float32(0), 0, float32(0), float32(0), float32(0), uint64(0), 0)
	f.Fuzz(func(t *testing.T, raw []byte, temp float32, topK int, topP, minP, rep float32, seed uint64, topLP int) {
		row := make([]float32, len(raw)/4)
		for i := range row {
			row[i] = math.Float32frombits(uint32(raw[4*i]) | uint32(raw[4*i+1])<<8 | uint32(raw[4*i+2])<<16 | uint32(raw[4*i+3])<<24)
		}
		p := Params{Temperature: temp, TopK: topK, TopP: topP, MinP: minP, RepetitionPenalty: rep,
			Seed: seed, TopLogprobs: topLP, Logprobs: true}
		r, err := NewSampler().Sample(row, p, []int32{0, 1}, []int32{2})
		if err == nil && (r.Token < 0 || int(r.Token) >= len(row)) {
			t.Fatalf("token %d outside vocabulary of %d", r.Token, len(row))
		}
	})
}
