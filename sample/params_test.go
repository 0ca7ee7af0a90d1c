package sample

import (
	"errors"
	"math"
	"testing"
)

func TestValidate(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	with := func(f func(*Params)) Params {
		p := Defaults()
		f(&p)
		return p
	}
	tests := []struct {
		name  string
		p     Params
		vocab int
		ok    bool
	}{
		{"zero value", Params{}, 10, true},
		{"defaults", Defaults(), 10, true},
		{"all at limits", Params{Temperature: 100, TopK: 5, TopP: 1, MinP: 1, RepetitionPenalty: 3,
			PresencePenalty: -2, FrequencyPenalty: 2, LogitBias: map[int32]float32{0: -100, 9: 100},
			Logprobs: true, TopLogprobs: MaxTopLogprobs}, 10, true},
		{"top_k -1 off", with(func(p *Params) { p.TopK = -1 }), 10, true},
		{"top_k above vocab", with(func(p *Params) { p.TopK = 1000 }), 10, true},
		{"bias id unchecked without vocab", with(func(p *Params) { p.LogitBias = map[int32]float32{99: 1} }), 0, true},

		{"temperature negative", with(func(p *Params) { p.Temperature = -0.1 }), 10, false},
		{"temperature NaN", with(func(p *Params) { p.Temperature = nan }), 10, false},
		{"temperature Inf", with(func(p *Params) { p.Temperature = inf }), 10, false},
		{"top_k -2", with(func(p *Params) { p.TopK = -2 }), 10, false},
		{"top_p negative", with(func(p *Params) { p.TopP = -0.5 }), 10, false},
		{"top_p above 1", with(func(p *Params) { p.TopP = 1.01 }), 10, false},
		{"top_p NaN", with(func(p *Params) { p.TopP = nan }), 10, false},
		{"min_p negative", with(func(p *Params) { p.MinP = -0.01 }), 10, false},
		{"min_p above 1", with(func(p *Params) { p.MinP = 1.5 }), 10, false},
		{"min_p Inf", with(func(p *Params) { p.MinP = inf }), 10, false},
		{"repetition negative", with(func(p *Params) { p.RepetitionPenalty = -1 }), 10, false},
		{"repetition NaN", with(func(p *Params) { p.RepetitionPenalty = nan }), 10, false},
		{"repetition Inf", with(func(p *Params) { p.RepetitionPenalty = inf }), 10, false},
		{"presence below -2", with(func(p *Params) { p.PresencePenalty = -2.01 }), 10, false},
		{"presence above 2", with(func(p *Params) { p.PresencePenalty = 2.5 }), 10, false},
		{"presence NaN", with(func(p *Params) { p.PresencePenalty = nan }), 10, false},
		{"frequency below -2", with(func(p *Params) { p.FrequencyPenalty = -3 }), 10, false},
		{"frequency above 2", with(func(p *Params) { p.FrequencyPenalty = 2.01 }), 10, false},
		{"frequency Inf", with(func(p *Params) { p.FrequencyPenalty = -inf }), 10, false},
		{"top_logprobs negative", with(func(p *Params) { p.TopLogprobs = -1 }), 10, false},
		{"top_logprobs above max", with(func(p *Params) { p.TopLogprobs = MaxTopLogprobs + 1 }), 10, false},
		{"bias id negative", with(func(p *Params) { p.LogitBias = map[int32]float32{-1: 1} }), 10, false},
		{"bias id at vocab", with(func(p *Params) { p.LogitBias = map[int32]float32{10: 1} }), 10, false},
		{"bias above 100", with(func(p *Params) { p.LogitBias = map[int32]float32{1: 100.5} }), 10, false},
		{"bias below -100", with(func(p *Params) { p.LogitBias = map[int32]float32{1: -101} }), 10, false},
		{"bias NaN", with(func(p *Params) { p.LogitBias = map[int32]float32{1: nan} }), 10, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate(tc.vocab)
			if tc.ok && err != nil {
				t.Fatalf("Validate = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidParams) {
				t.Fatalf("Validate = %v, want ErrInvalidParams", err)
			}
			// Sample applies the same validation before touching the row.
			if tc.vocab > 0 {
				_, serr := NewSampler().Sample(make([]float32, tc.vocab), tc.p, nil, nil)
				if !tc.ok && !errors.Is(serr, ErrInvalidParams) {
					t.Fatalf("Sample = %v, want ErrInvalidParams", serr)
				}
				if tc.ok && serr != nil {
					t.Fatalf("Sample = %v, want nil", serr)
				}
			}
		})
	}
}

func TestGreedyParams(t *testing.T) {
	if !(Params{}).Greedy() || Defaults().Greedy() {
		t.Fatal("Greedy: zero value must be greedy and Defaults must not")
	}
}
