package openai

import (
	"testing"
)

// FuzzChatRequest: decoding, validating and rendering any chat body never
// panics, and what passes has a prompt and sane limits.
func FuzzChatRequest(f *testing.F) {
	for _, s := range []string{
		`{"messages": [{"role": "user", "content": "Hi"}], "n": 2, "stop": ["a"], "temperature": 0.5}`,
		`{"messages": [{"role": "developer", "content": [{"type": "text", "text": "x"}]}, {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]}]}`,
		`{"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "required"}`,
		`{"messages": [], "logit_bias": {"1": 2}}`,
		`{"messages": [{"role": "tool", "content": null}], "max_completion_tokens": 3, "top_logprobs": 2, "logprobs": true}`,
	} {
		f.Add([]byte(s))
	}
	ts := newTestServer(f, ToolParserHermes)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req chatRequest
		if decodeBody(body, &req) != nil {
			return
		}
		cp, e := ts.srv.renderChat(ts.model, &req)
		if e != nil {
			if e.Status < 400 || e.Status > 499 {
				t.Fatalf("render error with status %d: %v", e.Status, e)
			}
			return
		}
		if len(cp.ids) == 0 {
			t.Fatal("accepted a request with an empty prompt")
		}
		er, e := ts.srv.engineRequest(ts.model, &req.common)
		if e == nil && (er.N < 1 || er.N > maxN || er.MaxTokens < 0) {
			t.Fatalf("accepted n %d max_tokens %d", er.N, er.MaxTokens)
		}
		if stops, e := req.stops(); e == nil && len(stops) > maxStops {
			t.Fatalf("accepted %d stop strings", len(stops))
		}
	})
}

// FuzzCompletionPrompt: any "prompt" value is either refused with a 400 or
// gives non-empty token lists.
func FuzzCompletionPrompt(f *testing.F) {
	for _, s := range []string{`"x"`, `["a", "b"]`, `[1, 2]`, `[[1], [2, 3]]`, `[]`, `[[]]`, `null`, `{"a": 1}`, `[1, "a"]`} {
		f.Add([]byte(s))
	}
	ts := newTestServer(f, ToolParserNone)
	f.Fuzz(func(t *testing.T, raw []byte) {
		texts, ids, e := ts.model.prompts(raw, true)
		if e != nil {
			if e.Status != 400 {
				t.Fatalf("status %d", e.Status)
			}
			return
		}
		if len(ids) == 0 || len(ids) != len(texts) {
			t.Fatalf("%d prompts, %d texts", len(ids), len(texts))
		}
		for _, p := range ids {
			if len(p) == 0 {
				t.Fatal("empty prompt accepted")
			}
		}
	})
}
