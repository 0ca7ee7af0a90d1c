package responses

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sotasystems/sota/admission"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeGen answers each call with the next reply after sending progress.
type fakeGen struct {
	mu       sync.Mutex
	replies  []Reply
	progress []string
	calls    []Call
	ctxErr   error // the context's error after the last call's progress
}

func (g *fakeGen) Chat(ctx context.Context, c Call) Reply {
	g.mu.Lock()
	g.calls = append(g.calls, c)
	r := g.replies[0]
	if len(g.replies) > 1 {
		g.replies = g.replies[1:]
	}
	g.mu.Unlock()
	if c.Progress != nil {
		for _, p := range g.progress {
			c.Progress(p)
		}
	}
	g.mu.Lock()
	g.ctxErr = ctx.Err()
	g.mu.Unlock()
	return r
}

// failWriter is a client that takes no bytes.
type failWriter struct{ h http.Header }

func (w *failWriter) Header() http.Header       { return w.h }
func (w *failWriter) WriteHeader(int)           {}
func (w *failWriter) Write([]byte) (int, error) { return 0, errors.New("stalled") }

// A stream whose client takes no bytes aborts its generation.
func TestStreamWriteFailureAborts(t *testing.T) {
	g := &fakeGen{replies: []Reply{chatReply("ab", "stop")}, progress: []string{"a", "b"}}
	s, err := New(Config{Generator: g})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "/v1/responses", strings.NewReader(`{"model":"m","input":"x","stream":true}`))
	s.create(&failWriter{h: http.Header{}}, r)
	if g.ctxErr == nil {
		t.Error("the generation's context is still live after a failed write")
	}
}

func (g *fakeGen) last() Call {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[len(g.calls)-1]
}

type keys map[string]admission.Principal

func (k keys) Authenticate(_ context.Context, key string) (admission.Principal, error) {
	if p, ok := k[key]; ok {
		return p, nil
	}
	return admission.Principal{}, fmt.Errorf("%w: invalid API key", admission.ErrUnauthorized)
}

func chatReply(text, finish string) Reply {
	return Reply{Status: 200, Body: fmt.Appendf(nil, `{"id":"chatcmpl-1","choices":[{"finish_reason":%q,"message":{"role":"assistant","content":%q}}],"usage":{"prompt_tokens":5,"completion_tokens":3}}`, finish, text)}
}

var (
	acme = admission.Principal{Tenant: "acme", Tier: admission.OpenTier()}
	beta = admission.Principal{Tenant: "beta", Tier: admission.OpenTier()}
	auth = keys{"sk-acme": acme, "sk-beta": beta}
)

func serve(t *testing.T, g *fakeGen) *httptest.Server {
	t.Helper()
	s, err := New(Config{Generator: g, Auth: auth, Now: func() time.Time { return time.Unix(1000, 0) }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Mount(mux)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs
}

func do(t *testing.T, method, url, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestCreate(t *testing.T) {
	toolReply := Reply{Status: 200, Body: []byte(`{"id":"chatcmpl-2","choices":[{"finish_reason":"tool_calls","message":{"content":null,"tool_calls":[{"id":"call_9","type":"function","function":{"name":"get","arguments":"{\"city\":\"Paris\"}"}}]}}],"usage":{"prompt_tokens":1,"completion_tokens":1}}`)}
	for _, tc := range []struct {
		name     string
		body     string
		reply    Reply
		status   int
		contains []string
		chat     []string
	}{
		{name: "string input", body: `{"model":"m","input":"Hi","instructions":"Be brief.","max_output_tokens":9,"temperature":0.2}`,
			reply: chatReply("Hello", "stop"), status: 200,
			contains: []string{`"object":"response"`, `"status":"completed"`, `"type":"output_text","text":"Hello"`, `"instructions":"Be brief."`,
				`"usage":{"input_tokens":5,"input_tokens_details":{"cached_tokens":0},"output_tokens":3,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":8}`,
				`"store":true`, `"max_output_tokens":9`, `"created_at":1000`},
			chat: []string{`"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]`, `"max_tokens":9`, `"temperature":0.2`}},
		{name: "incomplete", body: `{"model":"m","input":"Hi"}`, reply: chatReply("Hel", "length"), status: 200,
			contains: []string{`"status":"incomplete"`, `"incomplete_details":{"reason":"max_output_tokens"}`}},
		{name: "items and tools", body: `{"model":"m","input":[{"role":"developer","content":"d"},{"type":"message","role":"user","content":[{"type":"input_text","text":"a"},{"type":"input_text","text":"b"}]},
			{"type":"function_call","call_id":"c1","name":"get","arguments":"{}"},{"type":"function_call","call_id":"c2","name":"get","arguments":"{}"},
			{"type":"function_call_output","call_id":"c1","output":"sunny"}],
			"tools":[{"type":"function","name":"get","parameters":{"type":"object"}}],"tool_choice":{"type":"function","name":"get"},"text":{"format":{"type":"json_object"}}}`,
			reply: toolReply, status: 200,
			contains: []string{`{"type":"function_call","id":"fc_9","status":"completed","call_id":"call_9","name":"get","arguments":"{\"city\":\"Paris\"}"}`},
			chat: []string{`{"role":"developer","content":"d"},{"role":"user","content":"ab"}`,
				`"tool_calls":[{"id":"c1","type":"function","function":{"name":"get","arguments":"{}"}},{"id":"c2"`,
				`{"role":"tool","content":"sunny","tool_call_id":"c1"}`, `"tool_choice":{"function":{"name":"get"},"type":"function"}`,
				`"response_format":{"type":"json_object"}`, `"tools":[{"function":{"name":"get","parameters":{"type":"object"}},"type":"function"}]`}},
		{name: "reasoning", body: `{"model":"m","input":"Hi"}`,
			reply:  Reply{Status: 200, Body: []byte(`{"id":"chatcmpl-3","choices":[{"finish_reason":"stop","message":{"content":"42","reasoning_content":"think"}}],"usage":{}}`)},
			status: 200, contains: []string{`"output":[{"type":"reasoning","id":"rs_`, `"summary":[],"content":[{"type":"reasoning_text","text":"think"}]},{"type":"message"`}},
		{name: "no model", body: `{"input":"x"}`, status: 400, contains: []string{`"param":"model"`}},
		{name: "image", body: `{"model":"m","input":[{"role":"user","content":[{"type":"input_image","image_url":"x"}]}]}`, status: 400, contains: []string{`input_image`}},
		{name: "bad role", body: `{"model":"m","input":[{"role":"tool","content":"x"}]}`, status: 400},
		{name: "background", body: `{"model":"m","input":"x","background":true}`, status: 400},
		{name: "bad input", body: `{"model":"m","input":5}`, status: 400},
		{name: "wrong type", body: `{"model":5}`, status: 400},
		{name: "unknown previous", body: `{"model":"m","input":"x","previous_response_id":"resp_nope"}`, status: 404, contains: []string{`"param":"previous_response_id"`}},
		{name: "chat error passes through", body: `{"model":"m","input":"x"}`,
			reply:  Reply{Status: 429, Body: []byte(`{"error":{"message":"busy","type":"stream_capacity_exceeded","param":null,"code":429,"retry_after":2}}`)},
			status: 429, contains: []string{`{"error":{"message":"busy","type":"stream_capacity_exceeded","param":null,"code":429,"retry_after":2}}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &fakeGen{replies: []Reply{tc.reply}}
			hs := serve(t, g)
			status, body := do(t, "POST", hs.URL+"/v1/responses", "sk-acme", tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("body lacks %s:\n%s", c, body)
				}
			}
			for _, c := range tc.chat {
				if len(g.calls) == 0 || !strings.Contains(string(g.last().Body), c) {
					t.Errorf("chat body lacks %s", c)
				}
			}
		})
	}
}

func TestStoreAndPrevious(t *testing.T) {
	g := &fakeGen{replies: []Reply{chatReply("Hello", "stop"), chatReply("Again", "stop")}}
	hs := serve(t, g)
	status, body := do(t, "POST", hs.URL+"/v1/responses", "sk-acme", `{"model":"m","input":"Hi","instructions":"Be brief."}`)
	var first responseObject
	if err := json.Unmarshal([]byte(body), &first); status != 200 || err != nil {
		t.Fatalf("%d %s", status, body)
	}
	if status, got := do(t, "GET", hs.URL+"/v1/responses/"+first.ID, "sk-acme", ""); status != 200 || strings.TrimSpace(got) != strings.TrimSpace(body) {
		t.Errorf("GET: %d %s\nwant %s", status, got, body)
	}
	if status, _ := do(t, "GET", hs.URL+"/v1/responses/"+first.ID, "sk-beta", ""); status != 404 {
		t.Errorf("another tenant's GET: %d", status)
	}
	if status, _ := do(t, "GET", hs.URL+"/v1/responses/"+first.ID, "", ""); status != 401 {
		t.Errorf("GET without a key: %d", status)
	}
	// The follow-up continues the conversation, without the first's instructions.
	status, body = do(t, "POST", hs.URL+"/v1/responses", "sk-acme", `{"model":"m","input":"More","previous_response_id":"`+first.ID+`"}`)
	if status != 200 || !strings.Contains(body, `"previous_response_id":"`+first.ID+`"`) {
		t.Fatalf("%d %s", status, body)
	}
	want := `"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"},{"role":"user","content":"More"}]`
	if got := string(g.last().Body); !strings.Contains(got, want) {
		t.Errorf("chat body %s\nlacks %s", got, want)
	}
	if status, _ := do(t, "POST", hs.URL+"/v1/responses", "sk-beta", `{"model":"m","input":"x","previous_response_id":"`+first.ID+`"}`); status != 404 {
		t.Errorf("another tenant's previous_response_id: %d", status)
	}
	status, body = do(t, "POST", hs.URL+"/v1/responses", "sk-acme", `{"model":"m","input":"x","store":false}`)
	var unstored responseObject
	if err := json.Unmarshal([]byte(body), &unstored); status != 200 || err != nil {
		t.Fatalf("store:false: %d %s", status, body)
	}
	if status, _ := do(t, "GET", hs.URL+"/v1/responses/"+unstored.ID, "sk-acme", ""); status != 404 || unstored.Store {
		t.Errorf("store:false response: GET %d, store %v", status, unstored.Store)
	}
	if status, body := do(t, "DELETE", hs.URL+"/v1/responses/"+first.ID, "sk-acme", ""); status != 200 || !strings.Contains(body, `"deleted":true`) {
		t.Errorf("DELETE: %d %s", status, body)
	}
	if status, _ := do(t, "DELETE", hs.URL+"/v1/responses/"+first.ID, "sk-acme", ""); status != 404 {
		t.Errorf("second DELETE: %d", status)
	}
	for _, path := range []string{"/v1/responses/" + first.ID + "/input_items", "/v1/responses"} {
		if status, body := do(t, "GET", hs.URL+path, "sk-acme", ""); status != 404 || !strings.Contains(body, `"error":{`) {
			t.Errorf("GET %s: %d %s", path, status, body)
		}
	}
}

func eventTypes(t *testing.T, body string) ([]string, []map[string]any) {
	t.Helper()
	var types []string
	var data []map[string]any
	for i, frame := range strings.Split(strings.TrimSpace(body), "\n\n") {
		lines := strings.Split(frame, "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "event: ") || !strings.HasPrefix(lines[1], "data: ") {
			t.Fatalf("bad frame %q", frame)
		}
		var d map[string]any
		if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[1], "data: ")), &d); err != nil {
			t.Fatal(err)
		}
		if d["type"] != strings.TrimPrefix(lines[0], "event: ") || d["sequence_number"] != float64(i) {
			t.Fatalf("frame %d: %s", i, frame)
		}
		types = append(types, d["type"].(string))
		data = append(data, d)
	}
	return types, data
}

func TestStream(t *testing.T) {
	text := "response.created,response.in_progress,response.output_item.added,response.content_part.added," +
		"response.output_text.delta,response.output_text.delta,response.output_text.done,response.content_part.done,response.output_item.done,"
	for _, tc := range []struct {
		name     string
		body     string
		progress []string
		reply    Reply
		status   int
		want     string
	}{
		{name: "text", body: `{"model":"m","input":"Hi","stream":true}`, progress: []string{"Hel", "lo"}, reply: chatReply("Hello", "stop"),
			status: 200, want: text + "response.completed"},
		{name: "incomplete", body: `{"model":"m","input":"Hi","stream":true}`, progress: []string{"Hel", "lo"}, reply: chatReply("Hello", "length"),
			status: 200, want: text + "response.incomplete"},
		{name: "reasoning after streamed text", body: `{"model":"m","input":"Hi","stream":true}`, progress: []string{"Hel", "lo"},
			reply:  Reply{Status: 200, Body: []byte(`{"id":"chatcmpl-3","choices":[{"finish_reason":"stop","message":{"content":"Hello","reasoning_content":"hm"}}],"usage":{}}`)},
			status: 200, want: text + "response.output_item.added,response.output_item.done,response.completed"},
		{name: "error before text", body: `{"model":"m","input":"Hi","stream":true}`, reply: Reply{Status: 400, Body: []byte(`{"error":{"message":"too long","type":"invalid_request_error"}}`)},
			status: 400},
		{name: "error after text", body: `{"model":"m","input":"Hi","stream":true}`, progress: []string{"Hel"}, reply: Reply{Status: 500, Body: []byte(`{"error":{"message":"engine failed","type":"internal_error"}}`)},
			status: 200, want: "response.created,response.in_progress,response.output_item.added,response.content_part.added,response.output_text.delta,response.failed"},
		{name: "tool call", body: `{"model":"m","input":"Hi","stream":true,"tools":[{"type":"function","name":"get"}]}`, progress: []string{"<tool_call>"},
			reply:  Reply{Status: 200, Body: []byte(`{"id":"chatcmpl-2","choices":[{"finish_reason":"tool_calls","message":{"content":"","tool_calls":[{"id":"call_9","function":{"name":"get","arguments":"{}"}}]}}],"usage":{}}`)},
			status: 200, want: "response.created,response.in_progress,response.output_item.added,response.function_call_arguments.delta,response.function_call_arguments.done,response.output_item.done,response.completed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &fakeGen{replies: []Reply{tc.reply}, progress: tc.progress}
			hs := serve(t, g)
			status, body := do(t, "POST", hs.URL+"/v1/responses", "sk-acme", tc.body)
			if status != tc.status {
				t.Fatalf("status %d, want %d: %s", status, tc.status, body)
			}
			if tc.want == "" {
				if !strings.Contains(body, `"error"`) {
					t.Errorf("body %s", body)
				}
				return
			}
			types, data := eventTypes(t, body)
			if got := strings.Join(types, ","); got != tc.want {
				t.Errorf("events %s\nwant   %s", got, tc.want)
			}
			for _, i := range []int{0, 1} {
				if r := data[i]["response"].(map[string]any); r["status"] != "in_progress" || len(r["output"].([]any)) != 0 || r["usage"] != nil {
					t.Errorf("%s carries %v", types[i], r)
				}
			}
			final := data[len(data)-1]["response"].(map[string]any)
			if tc.name == "text" {
				out := final["output"].([]any)[0].(map[string]any)
				added := data[2]["item"].(map[string]any)
				if out["id"] != added["id"] || out["content"].([]any)[0].(map[string]any)["text"] != "Hello" {
					t.Errorf("final output %v, added item %v", out, added)
				}
				// A streamed response is stored as it ended.
				if status, got := do(t, "GET", hs.URL+"/v1/responses/"+final["id"].(string), "sk-acme", ""); status != 200 || !strings.Contains(got, `"status":"completed"`) {
					t.Errorf("GET streamed: %d %s", status, got)
				}
			}
		})
	}
}

func TestMemoryBound(t *testing.T) {
	m := newMemory(2)
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		if err := m.PutResponse(ctx, storeResponse(id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Response(ctx, "t", "a"); err == nil {
		t.Error("the oldest response was kept past the bound")
	}
	for _, id := range []string{"b", "c"} {
		if _, err := m.Response(ctx, "t", id); err != nil {
			t.Error(err)
		}
	}
}
