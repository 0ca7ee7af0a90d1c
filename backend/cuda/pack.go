package cuda

import (
	"fmt"
	"slices"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/sample"
)

// maxTopLogprobs is SOTA_MAX_TOP_LOGPROBS.
const maxTopLogprobs = sample.MaxTopLogprobs

// sampleParams mirrors sota_sample_params.
type sampleParams struct {
	Temperature       float32
	TopK              int32
	TopP              float32
	MinP              float32
	RepetitionPenalty float32
	PresencePenalty   float32
	FrequencyPenalty  float32
	Seed              uint64
	OutputLen         int32
	Logprobs          bool
	TopLogprobs       int32
}

// packed is one step as sota_batch: the batch's own arrays (not copied) and
// the sample rows flattened.
type packed struct {
	Tokens, Positions, SeqStarts  []int32
	BlockTables, BlockTableStarts []int32
	SampleSeqs                    []int32
	Params                        []sampleParams
	BiasStarts, BiasIDs           []int32 // [rows+1], entries sorted by id within a row
	BiasValues                    []float32
	PenaltyStarts, PenaltyIDs     []int32 // [rows+1], distinct ids of prompt ∪ output
	PenaltyCounts                 []int32 // occurrences among the output tokens
}

// results receives what sota_forward returns.
type results struct {
	Tokens      []int32
	Logprobs    []float32
	TopTokens   []int32   // [rows × maxTopLogprobs]
	TopLogprobs []float32 // [rows × maxTopLogprobs]
	Status      []int32
}

func (r *results) resize(rows int) {
	r.Tokens = grow(r.Tokens, rows)
	r.Logprobs = grow(r.Logprobs, rows)
	r.TopTokens = grow(r.TopTokens, rows*maxTopLogprobs)
	r.TopLogprobs = grow(r.TopLogprobs, rows*maxTopLogprobs)
	r.Status = grow(r.Status, rows)
}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// packer flattens batches, reusing its buffers (it holds a [vocab] stamp
// array for de-duplicating penalty histories in one pass).
type packer struct {
	p      packed
	stamp  []uint32 // stamp[id] == epoch: id has an entry in the current row
	slot   []int32  // index of id's entry when stamped
	epoch  uint32
	biases []int32 // scratch: sorted bias ids of one row
}

// pack builds the flat step; b must be valid for a vocabulary of vocab.
func (k *packer) pack(b *backend.Batch, vocab int) *packed {
	p := &k.p
	p.Tokens, p.Positions, p.SeqStarts = b.Tokens, b.Positions, b.SeqStarts
	p.BlockTables, p.BlockTableStarts = b.BlockTables, b.BlockTableStarts
	k.packSamples(b.Samples, vocab)
	return p
}

// packSamples fills the sample-row fields of k.p from rows.
func (k *packer) packSamples(rows []backend.SampleRow, vocab int) {
	p := &k.p
	n := len(rows)
	p.SampleSeqs = grow(p.SampleSeqs, n)
	p.Params = grow(p.Params, n)
	p.BiasStarts = grow(p.BiasStarts, n+1)[:1]
	p.PenaltyStarts = grow(p.PenaltyStarts, n+1)[:1]
	p.BiasStarts[0], p.PenaltyStarts[0] = 0, 0
	p.BiasIDs, p.BiasValues = p.BiasIDs[:0], p.BiasValues[:0]
	p.PenaltyIDs, p.PenaltyCounts = p.PenaltyIDs[:0], p.PenaltyCounts[:0]
	for i, s := range rows {
		sp := s.Params
		p.SampleSeqs[i] = s.Seq
		p.Params[i] = sampleParams{
			Temperature: sp.Temperature, TopK: int32(max(min(sp.TopK, vocab), -1)), TopP: sp.TopP, MinP: sp.MinP,
			RepetitionPenalty: sp.RepetitionPenalty, PresencePenalty: sp.PresencePenalty,
			FrequencyPenalty: sp.FrequencyPenalty, Seed: sp.Seed, OutputLen: int32(len(s.OutputTokens)),
			Logprobs: sp.Logprobs, TopLogprobs: int32(sp.TopLogprobs),
		}
		k.biases = k.biases[:0]
		for id := range sp.LogitBias {
			k.biases = append(k.biases, id)
		}
		slices.Sort(k.biases)
		for _, id := range k.biases {
			p.BiasIDs = append(p.BiasIDs, id)
			p.BiasValues = append(p.BiasValues, sp.LogitBias[id])
		}
		p.BiasStarts = append(p.BiasStarts, int32(len(p.BiasIDs)))
		rep := sp.RepetitionPenalty != 0 && sp.RepetitionPenalty != 1
		pres := sp.PresencePenalty != 0 || sp.FrequencyPenalty != 0
		if rep || pres {
			k.history(s.PromptTokens, s.OutputTokens, rep, vocab)
		}
		p.PenaltyStarts = append(p.PenaltyStarts, int32(len(p.PenaltyIDs)))
	}
}

// checkHistory fails, as sample.Sampler does (ErrTokenOutOfRange), when a
// penalty of a row would read a prompt or output id outside [0, vocab):
// the repetition penalty reads both, presence/frequency the output.
// Batch.Validate checks only the batch's own tokens, not these histories.
func checkHistory(rows []backend.SampleRow, vocab int) error {
	check := func(seq int32, name string, ids []int32) error {
		for i, id := range ids {
			if id < 0 || int(id) >= vocab {
				return fmt.Errorf("cuda backend: sample sequence %d: %s token %d at index %d, vocabulary of %d: %w",
					seq, name, id, i, vocab, sample.ErrTokenOutOfRange)
			}
		}
		return nil
	}
	for _, s := range rows {
		sp := s.Params
		rep := sp.RepetitionPenalty != 0 && sp.RepetitionPenalty != 1
		pres := sp.PresencePenalty != 0 || sp.FrequencyPenalty != 0
		if rep {
			if err := check(s.Seq, "prompt", s.PromptTokens); err != nil {
				return err
			}
		}
		if rep || pres {
			if err := check(s.Seq, "output", s.OutputTokens); err != nil {
				return err
			}
		}
	}
	return nil
}

// history appends the row's penalty entries: with the repetition penalty
// every distinct id of prompt ∪ output, else the distinct output ids only;
// each with its count among the output tokens. Ids outside [0, vocab) were
// rejected by checkHistory; they are skipped here rather than trusted, so
// that the library never indexes outside a row.
func (k *packer) history(prompt, output []int32, rep bool, vocab int) {
	if len(k.stamp) < vocab {
		k.stamp = make([]uint32, vocab)
		k.slot = make([]int32, vocab)
		k.epoch = 0
	}
	k.epoch++
	if k.epoch == 0 {
		clear(k.stamp)
		k.epoch = 1
	}
	p := &k.p
	add := func(id int32, count int32) {
		if id < 0 || int(id) >= vocab {
			return
		}
		if k.stamp[id] == k.epoch {
			p.PenaltyCounts[k.slot[id]] += count
			return
		}
		k.stamp[id] = k.epoch
		k.slot[id] = int32(len(p.PenaltyIDs))
		p.PenaltyIDs = append(p.PenaltyIDs, id)
		p.PenaltyCounts = append(p.PenaltyCounts, count)
	}
	if rep {
		for _, id := range prompt {
			add(id, 0)
		}
	}
	for _, id := range output {
		add(id, 1)
	}
}

// output converts the library's results for the rows of b.
func (r *results) output(rows []backend.SampleRow) *backend.Output {
	out := &backend.Output{Samples: make([]sample.Result, len(rows))}
	for i, s := range rows {
		res := sample.Result{Token: r.Tokens[i]}
		if s.Params.Logprobs || s.Params.TopLogprobs > 0 {
			res.Logprob = r.Logprobs[i]
		}
		if n := s.Params.TopLogprobs; n > 0 {
			res.Top = make([]sample.TokenLogprob, 0, n)
			for j := range n {
				tok := r.TopTokens[i*maxTopLogprobs+j]
				if tok < 0 {
					break
				}
				res.Top = append(res.Top, sample.TokenLogprob{Token: tok, Logprob: r.TopLogprobs[i*maxTopLogprobs+j]})
			}
		}
		out.Samples[i] = res
	}
	return out
}
