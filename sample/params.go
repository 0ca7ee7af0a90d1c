package sample

import (
	"errors"
	"fmt"
	"math"
)

// ErrInvalidParams is wrapped by every error Params.Validate returns.
var ErrInvalidParams = errors.New("invalid sampling parameters")

// MaxTopLogprobs is the most alternatives a caller may ask for per token (OpenAI's limit).
const MaxTopLogprobs = 20

// Params are the per-request sampling settings. The zero value is greedy
// decoding with no penalties; use Defaults for OpenAI's defaults.
type Params struct {
	Temperature       float32           // 0 = greedy (argmax); > 0 divides the logits
	TopK              int               // keep the K most likely tokens; 0 or -1 = off
	TopP              float32           // nucleus: keep the smallest set with mass >= TopP; 0 or 1 = off
	MinP              float32           // drop tokens with p < MinP * p_max; 0 = off
	RepetitionPenalty float32           // Hugging Face style over prompt+output; 0 or 1 = off
	PresencePenalty   float32           // OpenAI style over output tokens, in [-2, 2]
	FrequencyPenalty  float32           // OpenAI style over output tokens, in [-2, 2]
	LogitBias         map[int32]float32 // added to the logits of these ids, each in [-100, 100]
	Seed              uint64            // selects the random stream; with the output length it fixes every draw
	Logprobs          bool              // return the log-probability of the chosen token
	TopLogprobs       int               // also return the N most likely tokens, 0..MaxTopLogprobs
}

// Defaults are OpenAI's defaults: temperature 1, no truncation, no penalties.
func Defaults() Params { return Params{Temperature: 1, TopP: 1, RepetitionPenalty: 1} }

// Greedy reports whether p always picks the most likely token.
func (p Params) Greedy() bool { return p.Temperature == 0 }

// Validate checks ranges; vocab > 0 also bounds logit_bias ids. A TopK at or
// above the vocabulary size keeps every token (the sampler treats it as off).
func (p Params) Validate(vocab int) error {
	bad := func(name string, v any, want string) error {
		return fmt.Errorf("%w: %s = %v, want %s", ErrInvalidParams, name, v, want)
	}
	finite := func(f float32) bool { return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0) }
	switch {
	case !finite(p.Temperature) || p.Temperature < 0:
		return bad("temperature", p.Temperature, ">= 0")
	case p.TopK < -1:
		return bad("top_k", p.TopK, "-1 (off), 0 (off) or > 0")
	case !finite(p.TopP) || p.TopP < 0 || p.TopP > 1:
		return bad("top_p", p.TopP, "in [0, 1]")
	case !finite(p.MinP) || p.MinP < 0 || p.MinP > 1:
		return bad("min_p", p.MinP, "in [0, 1]")
	case !finite(p.RepetitionPenalty) || p.RepetitionPenalty < 0:
		return bad("repetition_penalty", p.RepetitionPenalty, "> 0 (1 = off)")
	case !finite(p.PresencePenalty) || p.PresencePenalty < -2 || p.PresencePenalty > 2:
		return bad("presence_penalty", p.PresencePenalty, "in [-2, 2]")
	case !finite(p.FrequencyPenalty) || p.FrequencyPenalty < -2 || p.FrequencyPenalty > 2:
		return bad("frequency_penalty", p.FrequencyPenalty, "in [-2, 2]")
	case p.TopLogprobs < 0 || p.TopLogprobs > MaxTopLogprobs:
		return bad("top_logprobs", p.TopLogprobs, fmt.Sprintf("in [0, %d]", MaxTopLogprobs))
	}
	for id, b := range p.LogitBias {
		if id < 0 || (vocab > 0 && int(id) >= vocab) {
			return fmt.Errorf("%w: logit_bias token id %d outside vocabulary of %d", ErrInvalidParams, id, vocab)
		}
		if !finite(b) || b < -100 || b > 100 {
			return fmt.Errorf("%w: logit_bias[%d] = %v, want in [-100, 100]", ErrInvalidParams, id, b)
		}
	}
	return nil
}

// Result is one sampled token.
type Result struct {
	Token   int32
	Logprob float32        // log-probability of Token (set when Params.Logprobs or TopLogprobs > 0)
	Top     []TokenLogprob // the TopLogprobs most likely tokens, most likely first
}

// TokenLogprob pairs a token id with its log-probability.
type TokenLogprob struct {
	Token   int32
	Logprob float32
}
