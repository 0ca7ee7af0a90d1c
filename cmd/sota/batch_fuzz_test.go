package main

import (
	"testing"

	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/model"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/tokenizer"
)

// FuzzBatchRequest: decoding a --input line never panics, and a line it
// accepts has a prompt and in-range n, max_tokens and logprobs.
func FuzzBatchRequest(f *testing.F) {
	for _, s := range []string{
		`{"prompt": "Once", "max_tokens": 4}`,
		`{"prompt_ids": [1, 2, 3], "n": 2, "logprobs": 3, "temperature": 0.5, "logit_bias": {"5": 1}}`,
		`{"prompt": "x", "prompt_ids": [1]}`,
		`{"prompt": 5}`,
		`[]`,
		`{"prompt": "\u00e9", "seed": 18446744073709551615, "ignore_eos": true, "stop_token_ids": [2]}`,
	} {
		f.Add([]byte(s))
	}
	m, err := model.LoadFS(demo.FS())
	if err != nil {
		f.Fatal(err)
	}
	tok, err := tokenizer.LoadFS(demo.FS())
	if err != nil {
		f.Fatal(err)
	}
	l := &loaded{name: demo.Name, m: m, tok: tok}
	g := &generateCmd{MaxTokens: 16}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, _, err := g.batchRequest(raw, l, sample.Params{TopP: 1})
		if err != nil {
			return
		}
		if len(req.Prompt) == 0 {
			t.Fatalf("accepted an empty prompt from %q", raw)
		}
		if req.N < 0 || req.MaxTokens < 1 || req.Params.TopLogprobs < 0 || req.Params.TopLogprobs > sample.MaxTopLogprobs {
			t.Fatalf("accepted out-of-range fields from %q: %+v", raw, req)
		}
	})
}
