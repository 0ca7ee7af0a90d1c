package openai

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/sotasystems/sota/sample"
)

// hasNull reports whether raw is an array holding a null (which decodes
// silently into a zero value).
func hasNull(raw json.RawMessage) bool {
	var elems []json.RawMessage
	if json.Unmarshal(raw, &elems) != nil {
		return false
	}
	for _, e := range elems {
		if isNull(e) || (len(e) > 0 && e[0] == '[' && hasNull(e)) {
			return true
		}
	}
	return false
}

// errBadJSON marks a body that is not one JSON object.
var errBadJSON = errors.New("not a JSON object")

// Limits beyond OpenAI's published ones.
const (
	maxN         = 128
	maxStops     = 16
	maxStopBytes = 256
)

// common are the fields chat and completion requests share. Pointers tell
// "absent" (take the model's default) from zero.
type common struct {
	Model            string              `json:"model"`
	MaxTokens        *int                `json:"max_tokens"`
	N                *int                `json:"n"`
	Stream           bool                `json:"stream"`
	StreamOptions    *streamOptions      `json:"stream_options"`
	Stop             json.RawMessage     `json:"stop"`
	Seed             *int64              `json:"seed"`
	Temperature      *float64            `json:"temperature"`
	TopP             *float64            `json:"top_p"`
	PresencePenalty  *float64            `json:"presence_penalty"`
	FrequencyPenalty *float64            `json:"frequency_penalty"`
	LogitBias        map[string]*float64 `json:"logit_bias"`
	User             string              `json:"user"`
	// Extensions with vLLM's names.
	TopK              *int     `json:"top_k"`
	MinP              *float64 `json:"min_p"`
	RepetitionPenalty *float64 `json:"repetition_penalty"`
	IgnoreEOS         bool     `json:"ignore_eos"`
	StopTokenIDs      []int32  `json:"stop_token_ids"`
	SkipSpecialTokens *bool    `json:"skip_special_tokens"`
	MinTokens         *int     `json:"min_tokens"`
	Priority          int      `json:"priority"`
	BestOf            *int     `json:"best_of"`
	// Structured outputs, vLLM's names (response_format is OpenAI's).
	GuidedJSON        json.RawMessage    `json:"guided_json"`
	StructuredOutputs *structuredOutputs `json:"structured_outputs"`
}

// structuredOutputs is vLLM's structured_outputs (its json member only).
type structuredOutputs struct {
	JSON json.RawMessage `json:"json"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// chatRequest is the body of POST /v1/chat/completions.
type chatRequest struct {
	common
	Messages             json.RawMessage `json:"messages"`
	MaxCompletionTokens  *int            `json:"max_completion_tokens"`
	Logprobs             *bool           `json:"logprobs"`
	TopLogprobs          *int            `json:"top_logprobs"`
	Tools                json.RawMessage `json:"tools"`
	ToolChoice           json.RawMessage `json:"tool_choice"`
	ParallelToolCalls    *bool           `json:"parallel_tool_calls"`
	ResponseFormat       json.RawMessage `json:"response_format"`
	ChatTemplateKwargs   map[string]any  `json:"chat_template_kwargs"`
	AddGenerationPrompt  *bool           `json:"add_generation_prompt"`
	ContinueFinalMessage bool            `json:"continue_final_message"`
	Documents            json.RawMessage `json:"documents"`
}

// completionRequest is the body of POST /v1/completions.
type completionRequest struct {
	common
	Prompt   json.RawMessage `json:"prompt"`
	Logprobs *int            `json:"logprobs"`
	Echo     bool            `json:"echo"`
	Suffix   *string         `json:"suffix"`
	// ResponseFormat constrains the completion like chat's (an extension).
	ResponseFormat json.RawMessage `json:"response_format"`
}

// decodeBody reads one JSON object into v. Unknown fields are ignored;
// wrong types are errors naming the field.
func decodeBody(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return fmt.Errorf("%w: the body must be a JSON object", errBadJSON)
	}
	return json.Unmarshal(body, v)
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(bytes.TrimSpace(raw)) == "null"
}

// stops parses "stop": a string or a list of strings.
func (c *common) stops() ([]string, *Error) {
	if isNull(c.Stop) {
		return nil, nil
	}
	var one string
	if err := json.Unmarshal(c.Stop, &one); err == nil {
		if one == "" {
			return nil, nil
		}
		if len(one) > maxStopBytes {
			return nil, invalid("stop", "stop sequences are at most %d bytes", maxStopBytes)
		}
		return []string{one}, nil
	}
	var list []string
	if err := json.Unmarshal(c.Stop, &list); err != nil || hasNull(c.Stop) {
		return nil, invalid("stop", "stop must be a string or an array of strings")
	}
	if len(list) > maxStops {
		return nil, invalid("stop", "at most %d stop sequences, got %d", maxStops, len(list))
	}
	out := list[:0]
	for _, s := range list {
		if len(s) > maxStopBytes {
			return nil, invalid("stop", "stop sequences are at most %d bytes", maxStopBytes)
		}
		if s != "" {
			out = append(out, s)
		}
	}
	return out, nil
}

// checkStream rejects stream_options without stream, as OpenAI does.
func (c *common) checkStream() *Error {
	if c.StreamOptions != nil && !c.Stream {
		return invalid("stream_options", "stream_options is only allowed when stream is true")
	}
	return nil
}

// n is the number of choices per prompt.
func (c *common) n() (int, *Error) {
	n := 1
	if c.N != nil {
		n = *c.N
	}
	if n < 1 || n > maxN {
		return 0, invalid("n", "n = %d: must be in [1, %d]", n, maxN)
	}
	if c.BestOf != nil && *c.BestOf != n {
		return 0, invalid("best_of", "best_of other than n is not supported")
	}
	return n, nil
}

// params turns the sampling fields into sample.Params over the model's
// defaults (its generation_config.json, else OpenAI's).
func (c *common) params(defaults sample.Params, vocab int, seed func() uint64) (sample.Params, *Error) {
	p := defaults
	p.LogitBias = nil
	check := func(name string, v *float64, lo, hi float64, dst *float32) *Error {
		if v == nil {
			return nil
		}
		if math.IsNaN(*v) || *v < lo || *v > hi {
			return invalid(name, "%s = %v: must be in [%v, %v]", name, *v, lo, hi)
		}
		*dst = float32(*v)
		return nil
	}
	for _, f := range []struct {
		name   string
		v      *float64
		lo, hi float64
		dst    *float32
	}{
		{"temperature", c.Temperature, 0, 2, &p.Temperature},
		{"top_p", c.TopP, 0, 1, &p.TopP},
		{"presence_penalty", c.PresencePenalty, -2, 2, &p.PresencePenalty},
		{"frequency_penalty", c.FrequencyPenalty, -2, 2, &p.FrequencyPenalty},
		{"min_p", c.MinP, 0, 1, &p.MinP},
		{"repetition_penalty", c.RepetitionPenalty, 0, 1e9, &p.RepetitionPenalty},
	} {
		if err := check(f.name, f.v, f.lo, f.hi, f.dst); err != nil {
			return p, err
		}
	}
	if c.RepetitionPenalty != nil && *c.RepetitionPenalty == 0 {
		return p, invalid("repetition_penalty", "repetition_penalty must be > 0")
	}
	if c.TopP != nil && *c.TopP == 0 {
		return p, invalid("top_p", "top_p must be > 0")
	}
	if c.TopK != nil {
		if *c.TopK < -1 {
			return p, invalid("top_k", "top_k = %d: must be -1 (off), 0 (off) or positive", *c.TopK)
		}
		p.TopK = *c.TopK
	}
	if len(c.LogitBias) > 0 {
		p.LogitBias = make(map[int32]float32, len(c.LogitBias))
		for k, v := range c.LogitBias {
			id, err := strconv.ParseInt(k, 10, 32)
			if err != nil || id < 0 || int(id) >= vocab {
				return p, invalid("logit_bias", "logit_bias key %q is not a token id in [0, %d)", k, vocab)
			}
			if v == nil {
				return p, invalid("logit_bias", "logit_bias[%s] is null: want a number in [-100, 100]", k)
			}
			if math.IsNaN(*v) || *v < -100 || *v > 100 {
				return p, invalid("logit_bias", "logit_bias[%s] = %v: must be in [-100, 100]", k, *v)
			}
			p.LogitBias[int32(id)] = float32(*v)
		}
	}
	if c.MinTokens != nil && *c.MinTokens > 0 {
		return p, invalid("min_tokens", "min_tokens is not supported")
	}
	for _, id := range c.StopTokenIDs {
		if id < 0 || int(id) >= vocab {
			return p, invalid("stop_token_ids", "stop token id %d is not in [0, %d)", id, vocab)
		}
	}
	if c.Seed != nil {
		p.Seed = uint64(*c.Seed)
	} else {
		p.Seed = seed()
	}
	return p, nil
}

// maxTokens resolves max_tokens (and chat's max_completion_tokens, which
// wins); 0 means the rest of the context.
func maxTokens(name string, v ...*int) (int, *Error) {
	n := 0
	for _, p := range v {
		if p != nil {
			if *p < 1 {
				return 0, invalid(name, "%s = %d: must be at least 1", name, *p)
			}
			n = *p
		}
	}
	return n, nil
}
