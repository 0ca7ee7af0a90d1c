package anthropic

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/sotasystems/sota/admission"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeGen answers every call with reply after sending progress.
type fakeGen struct {
	reply    Reply
	progress []string
	got      Call
	ctxErr   error // the context's error after the progress
}

func (g *fakeGen) Chat(ctx context.Context, c Call) Reply {
	g.got = c
	if c.Progress != nil {
		for _, p := range g.progress {
			c.Progress(p)
		}
	}
	g.ctxErr = ctx.Err()
	return g.reply
}

// failWriter is a client that takes no bytes.
type failWriter struct{ h http.Header }

func (w *failWriter) Header() http.Header       { return w.h }
func (w *failWriter) WriteHeader(int)           {}
func (w *failWriter) Write([]byte) (int, error) { return 0, errors.New("stalled") }

// A stream whose client takes no bytes aborts its generation.
func TestStreamWriteFailureAborts(t *testing.T) {
	g := &fakeGen{reply: Reply{Status: 200, Body: []byte(completionOK)}, progress: []string{"a", "b"}}
	s, err := New(Config{Generator: g})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/v1/messages", strings.NewReader(strings.Replace(simple, `{"model"`, `{"stream":true,"model"`, 1)))
	s.messages(&failWriter{h: http.Header{}}, r)
	if g.ctxErr == nil {
		t.Error("the generation's context is still live after a failed write")
	}
}

type keys map[string]admission.Principal

func (k keys) Authenticate(_ context.Context, key string) (admission.Principal, error) {
	if p, ok := k[key]; ok {
		return p, nil
	}
	return admission.Principal{}, fmt.Errorf("%w: invalid API key", admission.ErrUnauthorized)
}

const completionOK = `{"id":"chatcmpl-abc","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Hello there"}}],"usage":{"prompt_tokens":7,"completion_tokens":2}}`

func serve(t *testing.T, g *fakeGen, auth admission.Authenticator) *httptest.Server {
	t.Helper()
	s, err := New(Config{Generator: g, Auth: auth})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Mount(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs
}

func post(t *testing.T, url, body string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", url+"/v1/messages", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

const simple = `{"model":"stories","max_tokens":16,"messages":[{"role":"user","content":"Hi"}]}`

func TestMessages(t *testing.T) {
	for _, tc := range []struct {
		name     string
		body     string
		reply    Reply
		status   int
		contains []string
		chat     []string // substrings of the chat body sent on
	}{
		{name: "text", body: simple, reply: Reply{Status: 200, Body: []byte(completionOK)}, status: 200,
			contains: []string{`"type":"message"`, `"role":"assistant"`, `"content":[{"type":"text","text":"Hello there"}]`,
				`"stop_reason":"end_turn"`, `"usage":{"input_tokens":7,"output_tokens":2}`, `"id":"msg_abc"`, `"model":"stories"`},
			chat: []string{`"max_tokens":16`, `{"role":"user","content":"Hi"}`}},
		{name: "max tokens", body: simple, reply: Reply{Status: 200, Body: []byte(strings.Replace(completionOK, `"stop"`, `"length"`, 1))},
			status: 200, contains: []string{`"stop_reason":"max_tokens"`}},
		{name: "tool use", body: `{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"w"}],"tools":[{"name":"get","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"}}`,
			reply:  Reply{Status: 200, Body: []byte(`{"id":"chatcmpl-x","choices":[{"finish_reason":"tool_calls","message":{"content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get","arguments":"{\"city\":\"Paris\"}"}}]}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`)},
			status: 200, contains: []string{`"content":[{"type":"tool_use","id":"call_1","name":"get","input":{"city":"Paris"}}]`, `"stop_reason":"tool_use"`},
			chat: []string{`"tool_choice":"required"`, `"tools":[{"function":{"name":"get","parameters":{"type":"object"}},"type":"function"}]`}},
		{name: "system, tool_use and tool_result", body: `{"model":"m","max_tokens":5,"system":[{"type":"text","text":"Be brief."}],"messages":[
			{"role":"user","content":[{"type":"text","text":"w"}]},
			{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"get","input":{"a":1}}]},
			{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"sunny"},{"type":"text","text":"and?"}]}],
			"stop_sequences":["END"],"temperature":0.5,"top_k":3,"metadata":{"user_id":"u1"}}`,
			reply: Reply{Status: 200, Body: []byte(completionOK)}, status: 200,
			chat: []string{`{"role":"system","content":"Be brief."}`, `"tool_calls":[{"id":"t1","type":"function","function":{"name":"get","arguments":"{\"a\":1}"}}]`,
				`{"role":"tool","content":"sunny","tool_call_id":"t1"},{"role":"user","content":"and?"}`, `"stop":["END"]`, `"temperature":0.5`, `"top_k":3`, `"user":"u1"`}},
		{name: "reasoning", body: simple, reply: Reply{Status: 200, Body: []byte(`{"id":"chatcmpl-r","choices":[{"finish_reason":"stop","message":{"content":"42","reasoning_content":"think"}}],"usage":{}}`)},
			status: 200, contains: []string{`"content":[{"type":"thinking","thinking":"think","signature":""},{"type":"text","text":"42"}]`}},
		{name: "max_tokens required", body: `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`, status: 400,
			contains: []string{`{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: Field required"}}`}},
		{name: "bad role", body: `{"model":"m","max_tokens":1,"messages":[{"role":"system","content":"Hi"}]}`, status: 400, contains: []string{`messages.0.role`}},
		{name: "image refused", body: `{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"image","source":{}}]}]}`, status: 400, contains: []string{`\"image\"`}},
		{name: "wrong type", body: `{"model":"m","max_tokens":"x","messages":[]}`, status: 400, contains: []string{`invalid_request_error`}},
		{name: "not an object", body: `[]`, status: 400},
		{name: "chat 404", body: simple, reply: Reply{Status: 404, Body: []byte(`{"error":{"message":"the model \"stories\" does not exist","type":"invalid_request_error","code":"model_not_found"}}`)},
			status: 404, contains: []string{`{"type":"error","error":{"type":"not_found_error","message":"the model \"stories\" does not exist"}}`}},
		{name: "chat 429", body: simple, reply: Reply{Status: 429, Body: []byte(`{"error":{"message":"busy","type":"stream_capacity_exceeded","code":429,"retry_after":3}}`)},
			status: 429, contains: []string{`"rate_limit_error"`}},
		{name: "chat 503", body: simple, reply: Reply{Status: 503, Body: []byte(`{"error":{"message":"draining"}}`)}, status: 503, contains: []string{`"overloaded_error"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &fakeGen{reply: tc.reply}
			hs := serve(t, g, nil)
			resp, body := post(t, hs.URL, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("body lacks %s:\n%s", c, body)
				}
			}
			for _, c := range tc.chat {
				if !strings.Contains(string(g.got.Body), c) {
					t.Errorf("chat body lacks %s:\n%s", c, g.got.Body)
				}
			}
			if tc.status == 429 && resp.Header.Get("Retry-After") != "3" {
				t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
			}
			if resp.Header.Get("Request-Id") == "" {
				t.Error("no request-id header")
			}
		})
	}
}

func TestAuth(t *testing.T) {
	p := admission.Principal{Tenant: "acme", Tier: admission.OpenTier()}
	auth := keys{"sk-sota-good": p}
	for _, tc := range []struct {
		name   string
		header []string
		status int
	}{
		{"x-api-key", []string{"x-api-key", "sk-sota-good"}, 200},
		{"bearer", []string{"Authorization", "Bearer sk-sota-good"}, 200},
		{"none", nil, 401},
		{"wrong x-api-key", []string{"x-api-key", "sk-sota-bad"}, 401},
		{"bad class", []string{"x-api-key", "sk-sota-good", "X-Siati-Tier", "warp"}, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &fakeGen{reply: Reply{Status: 200, Body: []byte(completionOK)}}
			hs := serve(t, g, auth)
			resp, body := post(t, hs.URL, simple, tc.header...)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.status == 401 && !strings.Contains(body, `"authentication_error"`) {
				t.Errorf("body %s", body)
			}
			if tc.status == 200 && g.got.Principal.Tenant != "acme" {
				t.Errorf("ran as %q", g.got.Principal.Tenant)
			}
		})
	}
}

// events parses an SSE body into (event, data) pairs, checking each event
// line names the data's type.
func events(t *testing.T, body string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, frame := range strings.Split(strings.TrimSpace(body), "\n\n") {
		lines := strings.Split(frame, "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") {
			t.Fatalf("bad frame %q", frame)
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[1], "data: ")), &d); err != nil {
			t.Fatal(err)
		}
		if d["type"] != strings.TrimPrefix(lines[0], "event: ") {
			t.Fatalf("event %s carries type %v", lines[0], d["type"])
		}
		out = append(out, d)
	}
	return out
}

func types(evs []map[string]any) string {
	var s []string
	for _, e := range evs {
		s = append(s, e["type"].(string))
	}
	return strings.Join(s, ",")
}

func TestStream(t *testing.T) {
	streamBody := strings.Replace(simple, `{"model"`, `{"stream":true,"model"`, 1)
	for _, tc := range []struct {
		name     string
		body     string
		progress []string
		reply    Reply
		status   int
		want     string // event types
		contains []string
	}{
		{name: "text", body: streamBody, progress: []string{"Hello", " there"}, reply: Reply{Status: 200, Body: []byte(completionOK)}, status: 200,
			want:     "message_start,content_block_start,content_block_delta,content_block_delta,content_block_stop,message_delta,message_stop",
			contains: []string{`"text":" there"`, `"stop_reason":"end_turn"`, `"usage":{"input_tokens":7,"output_tokens":2}`}},
		{name: "error before text", body: streamBody, reply: Reply{Status: 400, Body: []byte(`{"error":{"message":"too long"}}`)}, status: 400},
		{name: "error after text", body: streamBody, progress: []string{"Hel"}, reply: Reply{Status: 500, Body: []byte(`{"error":{"message":"engine failed"}}`)}, status: 200,
			want: "message_start,content_block_start,content_block_delta,error", contains: []string{`"api_error"`}},
		{name: "tools buffered", body: strings.Replace(streamBody, `"messages"`, `"tools":[{"name":"get"}],"messages"`, 1), progress: []string{"<tool_call>"},
			reply:    Reply{Status: 200, Body: []byte(`{"id":"chatcmpl-x","choices":[{"finish_reason":"tool_calls","message":{"content":"Sure.","tool_calls":[{"id":"call_1","function":{"name":"get","arguments":"{\"a\":1}"}}]}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`)},
			status:   200,
			want:     "message_start,content_block_start,content_block_delta,content_block_stop,content_block_start,content_block_delta,content_block_stop,message_delta,message_stop",
			contains: []string{`"partial_json":"{\"a\":1}"`, `"stop_reason":"tool_use"`, `"text":"Sure."`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &fakeGen{reply: tc.reply, progress: tc.progress}
			hs := serve(t, g, nil)
			resp, body := post(t, hs.URL, tc.body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, body)
			}
			if tc.want == "" {
				if !strings.Contains(body, `"type":"error"`) {
					t.Errorf("body %s", body)
				}
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
				t.Errorf("Content-Type %q", ct)
			}
			if got := types(events(t, body)); got != tc.want {
				t.Errorf("events %s\nwant   %s", got, tc.want)
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("body lacks %s:\n%s", c, body)
				}
			}
		})
	}
}

func TestCountTokens(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		reply  Reply
		status int
		want   string
	}{
		{"counted", `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`, Reply{Status: 200, Body: []byte(`{"count":12,"max_model_len":512,"tokens":[]}`)}, 200, `{"input_tokens":12}`},
		{"no model", `{"messages":[{"role":"user","content":"Hi"}]}`, Reply{}, 400, `"invalid_request_error"`},
		{"tokenizer refuses", `{"model":"m","messages":[{"role":"user","content":"Hi"}]}`, Reply{Status: 404, Body: []byte(`{"error":{"message":"no such model"}}`)}, 404, `"not_found_error"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &fakeGen{reply: tc.reply}
			hs := serve(t, g, nil)
			req, _ := http.NewRequest("POST", hs.URL+"/v1/messages/count_tokens", strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.want) {
				t.Fatalf("%d %s, want %d %s", resp.StatusCode, b, tc.status, tc.want)
			}
			if tc.status == 200 && (!g.got.CountTokens || strings.Contains(string(g.got.Body), "max_tokens")) {
				t.Errorf("call %+v", g.got)
			}
		})
	}
}
