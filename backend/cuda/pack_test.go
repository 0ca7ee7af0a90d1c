package cuda

import (
	"errors"
	"reflect"
	"testing"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/sample"
)

func TestPackPenaltyHistory(t *testing.T) {
	rows := []backend.SampleRow{
		{Seq: 0, Params: sample.Params{Temperature: 1, RepetitionPenalty: 1.2},
			PromptTokens: []int32{5, 3, 5}, OutputTokens: []int32{3, 9, 9}},
		{Seq: 1, Params: sample.Params{Temperature: 1, FrequencyPenalty: 0.5},
			PromptTokens: []int32{5, 3}, OutputTokens: []int32{9, 4, 9, 9}},
		{Seq: 2, Params: sample.Params{Temperature: 1, RepetitionPenalty: 1}, // off: no entries
			PromptTokens: []int32{1}, OutputTokens: []int32{2}},
		{Seq: 3, Params: sample.Params{LogitBias: map[int32]float32{30: 1, 2: -1, 17: 5}}},
	}
	var k packer
	k.packSamples(rows, 64)
	p := &k.p
	// Row 0: repetition over prompt ∪ output, counts from output only.
	// Row 1: presence/frequency over output only.
	wantIDs := []int32{5, 3, 9, 9, 4}
	wantCounts := []int32{0, 1, 2, 3, 1}
	if !reflect.DeepEqual(p.PenaltyIDs, wantIDs) || !reflect.DeepEqual(p.PenaltyCounts, wantCounts) {
		t.Errorf("penalty ids %v counts %v, want %v %v", p.PenaltyIDs, p.PenaltyCounts, wantIDs, wantCounts)
	}
	if want := []int32{0, 3, 5, 5, 5}; !reflect.DeepEqual(p.PenaltyStarts, want) {
		t.Errorf("penalty starts %v, want %v", p.PenaltyStarts, want)
	}
	if want := []int32{2, 17, 30}; !reflect.DeepEqual(p.BiasIDs, want) || !reflect.DeepEqual(p.BiasValues, []float32{-1, 5, 1}) {
		t.Errorf("bias %v %v", p.BiasIDs, p.BiasValues)
	}
	if want := []int32{0, 0, 0, 0, 3}; !reflect.DeepEqual(p.BiasStarts, want) {
		t.Errorf("bias starts %v, want %v", p.BiasStarts, want)
	}
	if p.Params[1].OutputLen != 4 || p.Params[0].RepetitionPenalty != 1.2 {
		t.Errorf("params %+v", p.Params[:2])
	}

	// Reuse: a second pack starts clean and the stamps do not leak.
	k.packSamples(rows[1:2], 64)
	if !reflect.DeepEqual(p.PenaltyIDs, []int32{9, 4}) || !reflect.DeepEqual(p.PenaltyCounts, []int32{3, 1}) {
		t.Errorf("second pack: %v %v", p.PenaltyIDs, p.PenaltyCounts)
	}
}

// The penalties applied to packed entries equal the CPU sampler's, row by row.
func TestPackedPenaltiesMatchSampler(t *testing.T) {
	const vocab = 50
	prompt := []int32{1, 2, 3, 2, 40}
	output := []int32{3, 3, 7, 1, 49}
	params := sample.Params{RepetitionPenalty: 1.5, PresencePenalty: 0.3, FrequencyPenalty: 0.7,
		LogitBias: map[int32]float32{7: 2, 8: -3}}
	logits := make([]float32, vocab)
	for i := range logits {
		logits[i] = float32(i%7) - 3
	}
	var k packer
	k.packSamples([]backend.SampleRow{{Params: params, PromptTokens: prompt, OutputTokens: output}}, vocab)
	got := append([]float32(nil), logits...)
	for i, id := range k.p.BiasIDs {
		got[id] += k.p.BiasValues[i]
	}
	for i, id := range k.p.PenaltyIDs {
		x := got[id]
		if x > 0 {
			x /= params.RepetitionPenalty
		} else {
			x *= params.RepetitionPenalty
		}
		if c := k.p.PenaltyCounts[i]; c > 0 {
			x -= float32(params.FrequencyPenalty*float32(c)) + params.PresencePenalty
		}
		got[id] = x
	}
	// Greedy on the processed row must pick what the CPU sampler picks, for
	// every forced argmax position.
	for force := range vocab {
		row := append([]float32(nil), logits...)
		row[force] = 2.5
		mine := append([]float32(nil), got...)
		mine[force] = applyOne(2.5, force, params, &k)
		res, err := sample.NewSampler().Sample(row, params, prompt, output)
		if err != nil {
			t.Fatal(err)
		}
		if want := sample.Argmax(mine); res.Token != want {
			t.Fatalf("forced %d: sampler picked %d, packed penalties give %d", force, res.Token, want)
		}
	}
}

// applyOne processes one logit at id as the GPU does with the packed entries.
func applyOne(x float32, id int, p sample.Params, k *packer) float32 {
	for i, b := range k.p.BiasIDs {
		if int(b) == id {
			x += k.p.BiasValues[i]
		}
	}
	for i, e := range k.p.PenaltyIDs {
		if int(e) != id {
			continue
		}
		if x > 0 {
			x /= p.RepetitionPenalty
		} else {
			x *= p.RepetitionPenalty
		}
		if c := k.p.PenaltyCounts[i]; c > 0 {
			x -= float32(p.FrequencyPenalty*float32(c)) + p.PresencePenalty
		}
	}
	return x
}

func TestResultsOutput(t *testing.T) {
	var r results
	r.resize(2)
	r.Tokens[0], r.Tokens[1] = 4, 5
	r.Logprobs[0], r.Logprobs[1] = -1, -2
	for j := range maxTopLogprobs {
		r.TopTokens[maxTopLogprobs+j] = int32(j)
		r.TopLogprobs[maxTopLogprobs+j] = -float32(j)
	}
	out := r.output([]backend.SampleRow{{}, {Params: sample.Params{TopLogprobs: 2}}})
	want := []sample.Result{{Token: 4}, {Token: 5, Logprob: -2, Top: []sample.TokenLogprob{{Token: 0, Logprob: 0}, {Token: 1, Logprob: -1}}}}
	if !reflect.DeepEqual(out.Samples, want) {
		t.Errorf("output %+v, want %+v", out.Samples, want)
	}
}

// TestCheckHistory: ids a penalty reads are checked as sample.Sampler checks
// them (ErrTokenOutOfRange); ids no penalty reads are not.
func TestCheckHistory(t *testing.T) {
	const vocab = 10
	rep := sample.Params{Temperature: 1, RepetitionPenalty: 1.2}
	pres := sample.Params{Temperature: 1, PresencePenalty: 0.5}
	tests := []struct {
		name string
		row  backend.SampleRow
		bad  bool
	}{
		{"in range", backend.SampleRow{Params: rep, PromptTokens: []int32{0, 9}, OutputTokens: []int32{3}}, false},
		{"repetition: prompt out of range", backend.SampleRow{Params: rep, PromptTokens: []int32{10}}, true},
		{"repetition: negative output", backend.SampleRow{Params: rep, OutputTokens: []int32{-1}}, true},
		{"presence: output out of range", backend.SampleRow{Params: pres, OutputTokens: []int32{1, 12}}, true},
		{"presence: prompt not read", backend.SampleRow{Params: pres, PromptTokens: []int32{99}}, false},
		{"no penalty: nothing read", backend.SampleRow{Params: sample.Params{Temperature: 1}, PromptTokens: []int32{99}, OutputTokens: []int32{-5}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkHistory([]backend.SampleRow{tc.row}, vocab)
			if tc.bad != (err != nil) {
				t.Fatalf("checkHistory = %v, want error %v", err, tc.bad)
			}
			if tc.bad && !errors.Is(err, sample.ErrTokenOutOfRange) {
				t.Fatalf("checkHistory = %v, want ErrTokenOutOfRange", err)
			}
			// The CPU sampler agrees on which rows fail.
			_, serr := sample.NewSampler().Sample(make([]float32, vocab), tc.row.Params, tc.row.PromptTokens, tc.row.OutputTokens)
			if tc.bad != errors.Is(serr, sample.ErrTokenOutOfRange) {
				t.Fatalf("sample.Sampler: %v, but checkHistory: %v", serr, err)
			}
		})
	}
}
