package openai

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sotasystems/sota/backend"
)

func TestRequestErrors(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	chat := func(extra string) string {
		return `{"model": "stories", "messages": [{"role": "user", "content": "Hi"}]` + extra + `}`
	}
	tests := []struct {
		name, path, body string
		status           int
		param, code      string
	}{
		{"malformed JSON", "/v1/chat/completions", `{"messages": [`, 400, "", ""},
		{"not an object", "/v1/chat/completions", `[1, 2]`, 400, "", ""},
		{"wrong type", "/v1/chat/completions", chat(`, "temperature": "hot"`), 400, "temperature", ""},
		{"temperature out of range", "/v1/chat/completions", chat(`, "temperature": 3`), 400, "temperature", ""},
		{"top_p out of range", "/v1/chat/completions", chat(`, "top_p": 1.5`), 400, "top_p", ""},
		{"n zero", "/v1/chat/completions", chat(`, "n": 0`), 400, "n", ""},
		{"max_tokens zero", "/v1/chat/completions", chat(`, "max_tokens": 0`), 400, "max_tokens", ""},
		{"max_completion_tokens negative", "/v1/chat/completions", chat(`, "max_completion_tokens": -5`), 400, "max_completion_tokens", ""},
		{"max_tokens past the context", "/v1/chat/completions", chat(`, "max_tokens": 100000`), 400, "max_tokens", "context_length_exceeded"},
		{"max_completion_tokens past the context", "/v1/chat/completions", chat(`, "max_completion_tokens": 100000`), 400, "max_completion_tokens", "context_length_exceeded"},
		{"completion max_tokens past the context", "/v1/completions", `{"prompt": "x", "max_tokens": 100000}`, 400, "max_tokens", "context_length_exceeded"},
		{"prompt filling the context", "/v1/completions", `{"prompt": "` + strings.Repeat("x ", 600) + `"}`, 400, "prompt", "context_length_exceeded"},
		{"user message without content", "/v1/chat/completions", `{"messages": [{"role": "user"}]}`, 400, "messages", ""},
		{"system message with null content", "/v1/chat/completions", `{"messages": [{"role": "system", "content": null}, {"role": "user", "content": "x"}]}`, 400, "messages", ""},
		{"tool message without tool_call_id", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "42"}]}`, 400, "messages", ""},
		{"name not a string", "/v1/chat/completions", `{"messages": [{"role": "user", "content": "x", "name": 7}]}`, 400, "messages", ""},
		{"prompt with null", "/v1/completions", `{"prompt": [null]}`, 400, "prompt", ""},
		{"prompts with null", "/v1/completions", `{"prompt": [[1, 2], null]}`, 400, "prompt", ""},
		{"stop with null", "/v1/completions", `{"prompt": "x", "stop": [null]}`, 400, "stop", ""},
		{"logit_bias null value", "/v1/completions", `{"prompt": "x", "logit_bias": {"1": null}}`, 400, "logit_bias", ""},
		{"top_logprobs without logprobs", "/v1/chat/completions", chat(`, "top_logprobs": 2`), 400, "top_logprobs", ""},
		{"top_logprobs too many", "/v1/chat/completions", chat(`, "logprobs": true, "top_logprobs": 21`), 400, "top_logprobs", ""},
		{"logit_bias key", "/v1/chat/completions", chat(`, "logit_bias": {"x": 1}`), 400, "logit_bias", ""},
		{"logit_bias value", "/v1/chat/completions", chat(`, "logit_bias": {"5": 200}`), 400, "logit_bias", ""},
		{"stop wrong type", "/v1/chat/completions", chat(`, "stop": 5`), 400, "stop", ""},
		{"too many stops", "/v1/chat/completions", chat(`, "stop": ["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]`), 400, "stop", ""},
		{"stop token id", "/v1/chat/completions", chat(`, "stop_token_ids": [99999]`), 400, "stop_token_ids", ""},
		{"response_format json_schema", "/v1/chat/completions", chat(`, "response_format": {"type": "json_schema"}`), 400, "response_format", ""},
		{"tools without a parser", "/v1/chat/completions", chat(`, "tools": [{"type": "function", "function": {"name": "f"}}]`), 400, "tools", ""},
		{"bad tool", "/v1/chat/completions", chat(`, "tools": [{"type": "code"}]`), 400, "tools", ""},
		{"tool_choice without tools", "/v1/chat/completions", chat(`, "tool_choice": "required"`), 400, "tool_choice", ""},
		{"missing messages", "/v1/chat/completions", `{"model": "stories"}`, 400, "messages", ""},
		{"empty messages", "/v1/chat/completions", `{"messages": []}`, 400, "messages", ""},
		{"bad role", "/v1/chat/completions", `{"messages": [{"role": "robot", "content": "x"}]}`, 400, "messages", ""},
		{"image part", "/v1/chat/completions", `{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}`, 400, "messages", ""},
		{"unknown model", "/v1/chat/completions", `{"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]}`, 404, "model", "model_not_found"},
		{"best_of", "/v1/completions", `{"prompt": "x", "best_of": 3}`, 400, "best_of", ""},
		{"suffix", "/v1/completions", `{"prompt": "x", "suffix": "y"}`, 400, "suffix", ""},
		{"prompt wrong type", "/v1/completions", `{"prompt": {"a": 1}}`, 400, "prompt", ""},
		{"prompt missing", "/v1/completions", `{"max_tokens": 3}`, 400, "prompt", ""},
		{"empty token prompt", "/v1/completions", `{"prompt": [[]]}`, 400, "prompt", ""},
		{"token outside the vocabulary", "/v1/completions", `{"prompt": [1, 99999]}`, 400, "prompt", ""},
		{"stream_options without stream", "/v1/completions", `{"prompt": "x", "stream_options": {"include_usage": true}}`, 400, "stream_options", ""},
		{"logprobs too many", "/v1/completions", `{"prompt": "x", "logprobs": 50}`, 400, "logprobs", ""},
		{"min_tokens", "/v1/completions", `{"prompt": "x", "min_tokens": 3}`, 400, "min_tokens", ""},
		{"body too large", "/v1/completions", `{"prompt": "` + strings.Repeat("x", 1<<16) + `"}`, 413, "", "request_too_large"},
		{"unknown path", "/v1/embeddings", `{}`, 404, "", "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body, h := ts.post(tc.path, tc.body)
			var e errorBody
			if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error == nil {
				t.Fatalf("status %d, body %q: not an OpenAI error", code, body)
			}
			param, ecode := "", ""
			if e.Error.Param != nil {
				param = *e.Error.Param
			}
			if c, ok := e.Error.Code.(string); ok {
				ecode = c
			}
			if code != tc.status || param != tc.param || ecode != tc.code || e.Error.Message == "" || e.Error.Type == "" {
				t.Fatalf("status %d param %q code %q (%s), want %d %q %q", code, param, ecode, body, tc.status, tc.param, tc.code)
			}
			if h["Content-Type"] != "application/json" || h["X-Request-Id"] == "" {
				t.Fatalf("headers %v", h)
			}
		})
	}
	if code, body := ts.get("/v1/chat/completions"); code != 405 || !strings.Contains(body, "method_not_allowed") {
		t.Fatalf("GET on chat: %d %s", code, body)
	}
}

func TestRequestIDAndEndpoints(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	_, _, h := ts.post("/v1/completions", `{"prompt": "x", "max_tokens": 1}`, "X-Request-Id", "my-id-7")
	if h["X-Request-Id"] != "my-id-7" {
		t.Fatalf("request id not echoed: %v", h)
	}
	_, _, h = ts.post("/v1/completions", `{"prompt": "x", "max_tokens": 1}`)
	if len(h["X-Request-Id"]) < 16 {
		t.Fatalf("request id not generated: %v", h)
	}
	tests := []struct {
		path, want string
		status     int
	}{
		{"/health", `"ok"`, 200},
		{"/version", `"test"`, 200},
		{"/v1/models", `"id":"alias"`, 200},
		{"/v1/models/stories", `"max_model_len":512`, 200},
		{"/v1/models/alias", `"root":"stories"`, 200},
		{"/v1/models/org/name", "model_not_found", 404},
	}
	for _, tc := range tests {
		if code, body := ts.get(tc.path); code != tc.status || !strings.Contains(body, tc.want) {
			t.Errorf("GET %s: %d %s", tc.path, code, body)
		}
	}
	ts.srv.Drain()
	if code, _ := ts.get("/health"); code != 503 {
		t.Fatalf("health while draining: %d", code)
	}
	if code, body, h := ts.post("/v1/completions", `{"prompt": "x"}`); code != 503 || !strings.Contains(body, "shutting down") ||
		h["Retry-After"] != "5" {
		t.Fatalf("request while draining: %d %s %v", code, body, h)
	}
}

// A client that goes away mid-stream aborts its sequence in the engine.
func TestDisconnectAborts(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.http.URL+"/v1/completions",
		strings.NewReader(`{"prompt": "x", "stream": true, "ignore_eos": true, "max_tokens": 400}`))
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q, %v", line, err)
	}
	cancel()
	resp.Body.Close()
	ts.srv.Wait() // the handler has returned
	ts.assertIdle()
}

// An engine failure after streaming began ends the stream with an error
// event and [DONE].
func TestErrorAfterStreamingBegan(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	ts.be.Fail = func(b *backend.Batch) error {
		for _, s := range b.Samples {
			if len(s.OutputTokens) >= 3 {
				return errors.New("device lost")
			}
		}
		return nil
	}
	code, body, _ := ts.post("/v1/chat/completions", `{"messages": [{"role": "user", "content": "Hi"}], "stream": true, "ignore_eos": true}`)
	events := strings.Split(strings.TrimSpace(body), "\n\n")
	if code != 200 || len(events) < 3 || events[len(events)-1] != "data: [DONE]" ||
		!strings.Contains(events[len(events)-2], `"error"`) || !strings.Contains(events[len(events)-2], "device lost") {
		t.Fatalf("status %d, events %q", code, events)
	}
	// Before streaming, the same failure is a plain 500.
	code, body, _ = ts.post("/v1/chat/completions", `{"messages": [{"role": "user", "content": "Hi"}], "ignore_eos": true}`)
	if code != 500 || !strings.Contains(body, "device lost") {
		t.Fatalf("non-streaming failure: %d %s", code, body)
	}
}

func TestChatWithoutTemplate(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	ts.model.Template = nil
	code, body, _ := ts.post("/v1/chat/completions", `{"messages": [{"role": "user", "content": "Hi"}]}`)
	if code != 400 || !strings.Contains(body, "no chat template") {
		t.Fatalf("%d %s", code, body)
	}
}

func TestMessagesNormalized(t *testing.T) {
	in := `[{"role": "developer", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
		{"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
			"function": {"name": "f", "arguments": "{\"z\": 1, \"a\": 2}"}}]},
		{"role": "tool", "tool_call_id": "c1", "content": "42"}]`
	out, e := normalizeMessages([]byte(in))
	if e != nil {
		t.Fatal(e)
	}
	want := `[{"role":"system","content":"a\nb"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":{"z":1,"a":2}}}]},{"role":"tool","tool_call_id":"c1","content":"42"}]`
	if string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
}

// 100 clients that hang up at random points (before the response, mid
// stream, or waiting on a non-streaming reply) leave no running sequence and
// no KV block behind; TestMain checks for leftover goroutines.
func TestManyClientsHangUp(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	// Steps take a millisecond, so requests are still generating when their
	// clients leave: without aborts they would outlive the check below.
	ts.be.StepDelay = time.Millisecond
	rng := rand.New(rand.NewPCG(1, 2))
	var wg sync.WaitGroup
	for i := range 100 {
		lines := rng.IntN(40) - 5 // < 0: hang up before reading anything
		stream := i%4 != 0
		path, body := "/v1/completions", fmt.Sprintf(`{"prompt": "x%d", "ignore_eos": true, "max_tokens": 300, "stream": %v, "n": %d}`, i, stream, 1+i%3)
		if i%2 == 0 {
			path, body = "/v1/chat/completions", fmt.Sprintf(`{"messages": [{"role": "user", "content": "x%d"}], "ignore_eos": true, "max_tokens": 300, "stream": %v}`, i, stream)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", ts.http.URL+path, strings.NewReader(body))
			if lines < 0 {
				go cancel() // may land before or during the request
			}
			resp, err := ts.http.Client().Do(req)
			if err != nil {
				return
			}
			defer resp.Body.Close()
			r := bufio.NewReader(resp.Body)
			for range max(lines, 0) {
				if _, err := r.ReadString('\n'); err != nil {
					return
				}
			}
			cancel()
		}()
	}
	wg.Wait()
	ts.srv.Wait()
	ts.assertIdle()
}
