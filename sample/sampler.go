package sample

import (
	"errors"
	"fmt"
	"math"
)

// Errors of Sample besides ErrInvalidParams.
var (
	ErrEmptyLogits     = errors.New("empty logits")
	ErrNoCandidates    = errors.New("no logit above -Inf")
	ErrTokenOutOfRange = errors.New("token id outside the vocabulary")
)

// Sampler picks one token from one row of logits. It holds scratch buffers
// sized to the vocabulary, reused across calls, so a steady stream of calls
// allocates nothing (only Result.Top, when asked for, is new each time).
//
// A Sampler is not safe for concurrent use: keep one per goroutine that
// samples (one per engine or backend loop). The zero value is ready to use.
type Sampler struct {
	raw     []float32 // [vocab] the raw row, kept when logprobs are wanted and bias/penalties change it
	key     []uint16  // [vocab] bucket of each token (bucket ranking)
	stamp   []uint32  // [vocab] repetition-penalty marks: stamp[id] == epoch means seen this call
	epoch   uint32
	count   []int32 // [vocab] output-token counts; all zero between calls
	touched []int32 // ids whose count is non-zero
	top     []cand  // top-logprob selection
	pool    []cand  // members of the ranking's nodes (all candidates, or the buckets walked into)
	tmp     []cand  // scratch of split
	sub     []uint8 // scratch of split: child of each member
	nodes   []node
	opened  []opened
	buckets [numBuckets]bucketStat // bucket ranking

	// State of the ranking built by the current draw.
	bucketed bool
	logits   []float32 // the row being ranked (bucket ranking; nil between calls)
	maxX     float32
	temp     float32
}

// NewSampler returns a Sampler with empty scratch; buffers grow to the
// largest vocabulary seen.
func NewSampler() *Sampler { return &Sampler{} }

// Sample picks the next token from logits ([vocab], one row) under p, given
// the sequence's prompt and the tokens output so far; len(output) selects the
// draw in the seeded stream (see Uniform). The steps and their order are
// those of the package documentation.
//
// Sample may overwrite logits (bias, penalties, NaN/Inf rewritten); their
// content afterwards is unspecified. It validates p against len(logits) and,
// when a penalty reads them, the ids in prompt and output. It never panics.
func (s *Sampler) Sample(logits []float32, p Params, prompt, output []int32) (Result, error) {
	return s.SampleMasked(logits, p, prompt, output, nil)
}

// SampleMasked is Sample restricted to the tokens allowed by mask, a bitset
// (bit id%64 of word id/64 set = token id allowed; ids past the mask's end
// are not allowed). A nil mask allows every token. The mask applies after
// bias and penalties (step 3b of the package documentation); logprobs stay
// those of the raw row.
func (s *Sampler) SampleMasked(logits []float32, p Params, prompt, output []int32, mask []uint64) (Result, error) {
	vocab := len(logits)
	if vocab == 0 {
		return Result{}, fmt.Errorf("sample: %w", ErrEmptyLogits)
	}
	if vocab > math.MaxInt32 {
		return Result{}, fmt.Errorf("sample: vocabulary of %d exceeds int32 ids: %w", vocab, ErrInvalidParams)
	}
	if err := p.Validate(vocab); err != nil {
		return Result{}, fmt.Errorf("sample: %w", err)
	}
	rep := p.RepetitionPenalty != 0 && p.RepetitionPenalty != 1
	pres := p.PresencePenalty != 0 || p.FrequencyPenalty != 0
	if rep {
		if err := checkIDs("prompt", prompt, vocab); err != nil {
			return Result{}, err
		}
	}
	if rep || pres {
		if err := checkIDs("output", output, vocab); err != nil {
			return Result{}, err
		}
	}

	// 1. Raw logprobs, before anything changes the row.
	var res Result
	wantLP := p.Logprobs || p.TopLogprobs > 0
	var m, logZ float64
	raw := logits
	if wantLP {
		var ok bool
		if m, logZ, ok = logNormalizer(logits); !ok {
			return Result{}, fmt.Errorf("sample: logprobs: %w", ErrNoCandidates)
		}
		if p.TopLogprobs > 0 {
			s.top = selectTop(s.top, logits, p.TopLogprobs)
			res.Top = make([]TokenLogprob, len(s.top))
			for i, c := range s.top {
				res.Top[i] = TokenLogprob{Token: c.id, Logprob: float32(float64(c.x) - m - logZ)}
			}
		}
		if len(p.LogitBias) > 0 || rep || pres {
			s.raw = grow(s.raw, vocab)
			raw = s.raw[:vocab]
			copy(raw, logits)
		}
	}

	// 2. Logit bias; 3. penalties.
	for id, b := range p.LogitBias {
		logits[id] += b
	}
	if rep {
		s.repetition(logits, p.RepetitionPenalty, prompt, output)
	}
	if pres {
		s.presence(logits, p.PresencePenalty, p.FrequencyPenalty, output)
	}
	if mask != nil {
		ApplyMask(logits, mask)
	}

	// 4. Choose.
	var tok int32
	if p.Greedy() {
		if tok = Argmax(logits); tok < 0 {
			return Result{}, fmt.Errorf("sample: greedy: %w", ErrNoCandidates)
		}
	} else {
		var err error
		if tok, err = s.draw(logits, p, len(output)); err != nil {
			return Result{}, fmt.Errorf("sample: temperature %v: %w", p.Temperature, err)
		}
	}
	res.Token = tok
	if wantLP {
		res.Logprob = float32(float64(readLogit(raw[tok])) - m - logZ)
	}
	return res, nil
}

// checkIDs reports the first id of seq outside [0, vocab).
func checkIDs(name string, seq []int32, vocab int) error {
	for i, id := range seq {
		if id < 0 || int(id) >= vocab {
			return fmt.Errorf("sample: %s token %d at index %d, vocabulary of %d: %w", name, id, i, vocab, ErrTokenOutOfRange)
		}
	}
	return nil
}

// repetition applies Hugging Face's repetition penalty once to every distinct
// token of prompt and output: a positive logit is divided by penalty, any
// other multiplied by it.
func (s *Sampler) repetition(logits []float32, penalty float32, prompt, output []int32) {
	s.stamp = grow(s.stamp, len(logits))
	s.epoch++
	if s.epoch == 0 { // wrapped: old marks could collide
		clear(s.stamp)
		s.epoch = 1
	}
	for _, seq := range [2][]int32{prompt, output} {
		for _, id := range seq {
			if s.stamp[id] == s.epoch {
				continue
			}
			s.stamp[id] = s.epoch
			if x := logits[id]; x > 0 {
				logits[id] = x / penalty
			} else {
				logits[id] = x * penalty
			}
		}
	}
}

// presence applies OpenAI's penalties over output: for each distinct token,
// logit -= frequency*count + presence.
func (s *Sampler) presence(logits []float32, presence, frequency float32, output []int32) {
	s.count = grow(s.count, len(logits))
	s.touched = s.touched[:0]
	for _, id := range output {
		if s.count[id] == 0 {
			s.touched = append(s.touched, id)
		}
		s.count[id]++
	}
	for _, id := range s.touched {
		logits[id] -= float32(frequency*float32(s.count[id])) + presence // the conversion forbids a fused multiply-add
		s.count[id] = 0
	}
}

// grow returns buf with length at least n, keeping its contents when it
// already has the capacity (callers reslice to n).
func grow[T any](buf []T, n int) []T {
	if cap(buf) >= n {
		return buf[:cap(buf)]
	}
	return make([]T, n)
}

// ApplyMask sets to -Inf the logits of the tokens mask does not allow (see
// SampleMasked). Whole words of allowed tokens are skipped, so the cost is
// one pass over the mask plus one write per disallowed token.
func ApplyMask(logits []float32, mask []uint64) {
	neg := float32(math.Inf(-1))
	n := len(logits)
	for k := 0; k*64 < n; k++ {
		var w uint64
		if k < len(mask) {
			w = mask[k]
		}
		if w == ^uint64(0) {
			continue
		}
		row := logits[k*64 : min(n, k*64+64)]
		if w == 0 {
			for i := range row {
				row[i] = neg
			}
			continue
		}
		for i := range row {
			if w&(1<<uint(i)) == 0 {
				row[i] = neg
			}
		}
	}
}
