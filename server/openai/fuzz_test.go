package openai

import (
	"encoding/json"
	"strings"
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

// FuzzToolCalls: every parser accepts any text without panicking, returns
// calls with a name and JSON-object arguments, and streaming the text in
// two pieces through the tool filter gives the same calls and content.
func FuzzToolCalls(f *testing.F) {
	for _, s := range []string{
		weatherCall, "plain text", "<tool_call>{\"name\": \"a\"}", "{\"name\": \"f\", \"parameters\": {}}; {",
		"[TOOL_CALLS][{\"name\": \"x\", \"arguments\": {\"a\": [1]}}]", "[TOOL_CALLS]f[ARGS]{}", "<tool_call>\n</tool_call>",
	} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, text string, cut uint8) {
		for _, p := range []ToolParser{ToolParserHermes, ToolParserLlama3, ToolParserMistral} {
			content, calls, ok := p.parse(text)
			if ok != (len(calls) > 0) || (!ok && content != text) {
				t.Fatalf("%s: ok %v with %d calls, content %q", p, ok, len(calls), content)
			}
			for _, c := range calls {
				if c.Name == "" || !json.Valid([]byte(c.Arguments)) {
					t.Fatalf("%s: call %+v", p, c)
				}
			}
			at := int(cut) % (len(text) + 1)
			flt := newToolFilter(p, "")
			streamed := flt.push(text[:at]) + flt.push(text[at:])
			rest, scalls := flt.finish()
			streamed += rest
			if len(scalls) != len(calls) {
				t.Fatalf("%s: streaming found %d calls, whole text %d (cut %d of %q)", p, len(scalls), len(calls), at, text)
			}
			if ok && streamed != text[:p.startsCall(text)] {
				t.Fatalf("%s: streamed content %q, want %q", p, streamed, text[:p.startsCall(text)])
			}
			if !ok && streamed != text {
				t.Fatalf("%s: streamed %q, want the whole text %q", p, streamed, text)
			}
		}
	})
}

// FuzzReasoningSplit: streamed in two pieces, reasoning and content are
// those of the whole text, and together they lose only the tags.
func FuzzReasoningSplit(f *testing.F) {
	for _, s := range []string{"<think>a</think>b", "b", "<think", "</think>x", " <think>\n</think>\n\nok"} {
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, text string, cut uint8) {
		for _, p := range []ReasoningParser{ReasoningQwen3, ReasoningDeepSeekR1} {
			wr, wc := p.split(text)
			at := int(cut) % (len(text) + 1)
			r := newReasoningSplitter(p)
			a, b := r.push(text[:at])
			c, d := r.push(text[at:])
			e, g := r.finish()
			if a+c+e != wr || b+d+g != wc {
				t.Fatalf("%s cut %d of %q: streamed %q|%q, whole %q|%q", p, at, text, a+c+e, b+d+g, wr, wc)
			}
		}
	})
}

// FuzzStopStrings: text fed in two pieces gives a prefix of the text that
// holds no stop string; when it stopped, a stop string follows that prefix,
// and when it did not, the text holds none. (Which stop wins when a longer
// one starts earlier but completes later depends on when the text arrived,
// as in any streaming server.)
func FuzzStopStrings(f *testing.F) {
	f.Add("hello world", "wor", "xyz", uint8(4))
	f.Add("aaab", "aab", "", uint8(2))
	f.Add("0100000000000000000000", "1", "01000000000000", uint8(13))
	f.Fuzz(func(t *testing.T, text, s1, s2 string, cut uint8) {
		var stops []string
		for _, s := range []string{s1, s2} {
			if s != "" {
				stops = append(stops, s)
			}
		}
		at := int(cut) % (len(text) + 1)
		got, done := pushAll(stops, []string{text[:at], text[at:]})
		fail := func(why string) {
			t.Fatalf("stops %q, cut %d of %q: got %q stopped %v: %s", stops, at, text, got, done, why)
		}
		if !strings.HasPrefix(text, got) {
			fail("not a prefix of the text")
		}
		anyIn := func(s string) bool {
			for _, st := range stops {
				if strings.Contains(s, st) {
					return true
				}
			}
			return false
		}
		if anyIn(got) {
			fail("a stop string was emitted")
		}
		if !done && anyIn(text) {
			fail("missed a stop string")
		}
		if done {
			follows := false
			for _, st := range stops {
				follows = follows || strings.HasPrefix(text[len(got):], st)
			}
			if !follows {
				fail("no stop string follows the output")
			}
		}
	})
}
