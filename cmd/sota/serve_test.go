package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

// logWatch is a stderr that reports the server's URL once it logs it.
type logWatch struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	url  chan string
	once sync.Once
}

var servingURL = regexp.MustCompile(`msg=serving url=(\S+)`)

func (w *logWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := servingURL.FindSubmatch(w.buf.Bytes()); m != nil {
		w.once.Do(func() { w.url <- string(m[1]) })
	}
	return len(p), nil
}

func (w *logWatch) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// startServe runs `sota serve --port 0 args...` in-process and returns its
// URL and a stop function that cancels it (like SIGTERM) and returns the
// exit code.
func startServe(t *testing.T, args ...string) (string, func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logs := &logWatch{url: make(chan string, 1)}
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"serve", "--port", "0"}, args...), io.Discard, logs) }()
	select {
	case url := <-logs.url:
		return url, func() int { cancel(); return <-done }
	case code := <-done:
		cancel()
		t.Fatalf("serve exited %d before serving: %s", code, logs.String())
	}
	return "", nil
}

func postJSON(t *testing.T, url, body string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// The built-in model, served with no flags, answers completions exactly as
// `generate` does, and chat through its plain template.
func TestServeDemoModel(t *testing.T) {
	url, stop := startServe(t)
	code, out := postJSON(t, url+"/v1/completions", `{"prompt": "Once upon a time", "max_tokens": 20, "temperature": 0}`)
	if code != 200 {
		t.Fatalf("completions: %d %v", code, out)
	}
	text := out["choices"].([]any)[0].(map[string]any)["text"].(string)
	_, gen, _ := sota(t, "generate", "-q", "--prompt", "Once upon a time", "--max-tokens", "20", "--temperature", "0")
	if "Once upon a time"+text+"\n" != gen {
		t.Fatalf("served text %q, generate printed %q", text, gen)
	}
	code, out = postJSON(t, url+"/v1/chat/completions", `{"model": "stories260k", "messages": [{"role": "user", "content": "Lily"}], "max_tokens": 5}`)
	if code != 200 || out["usage"].(map[string]any)["completion_tokens"].(float64) != 5 {
		t.Fatalf("chat: %d %v", code, out)
	}
	if c := stop(); c != 0 {
		t.Fatalf("exit code %d after SIGTERM", c)
	}
}

func TestServeFakeBackendAndNames(t *testing.T) {
	url, stop := startServe(t, "--backend", "fake", "--served-model-name", "demo", "--served-model-name", "demo-alias")
	defer stop()
	resp, err := http.Get(url + "/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Data []struct{ ID string } `json:"data"`
	}
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Data) != 2 || list.Data[0].ID != "demo" || list.Data[1].ID != "demo-alias" {
		t.Fatalf("models %+v", list.Data)
	}
	code, out := postJSON(t, url+"/v1/completions", `{"model": "demo-alias", "prompt": "x", "max_tokens": 30, "ignore_eos": true}`)
	if code != 200 || out["usage"].(map[string]any)["completion_tokens"].(float64) != 30 {
		t.Fatalf("fake completions: %d %v", code, out)
	}
}

func TestServeFlagErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"delay without fake", []string{"--fake-step-delay", "5ms"}, "--backend fake"},
		{"bad port", []string{"--port", "70000"}, "--port"},
		{"names with several models", []string{"--model", "a=x", "--model", "b=y", "--served-model-name", "z"}, "single --model"},
		{"missing model", []string{"--model", "/nonexistent/model"}, "/nonexistent/model"},
		{"model without tokenizer", []string{"--model", "../../testdata/llama-tiny"}, "no tokenizer"},
		{"bad parser", []string{"--tool-call-parser", "xml"}, "tool-call-parser"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := sota(t, append([]string{"serve", "--port", "0"}, tc.args...)...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d, stderr %q; want failure mentioning %q", code, errOut, tc.want)
			}
		})
	}
}

// The fake backend serves a real model folder without weights: Llama-3.1's
// own chat template renders tools, tool calls and results over HTTP, and
// its raise_exception becomes a 422.
func TestServeRealTemplateOnFakeBackend(t *testing.T) {
	dir := testmodels.Shared(t, "llama3.1-tokenizer")
	url, stop := startServe(t, "--backend", "fake", "--model", dir)
	defer stop()
	tools := `"tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
		"parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]`
	call := func(id string) string {
		return `{"id": "` + id + `", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}`
	}
	ok := `{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"},
		{"role": "assistant", "content": null, "tool_calls": [` + call("c1") + `]},
		{"role": "tool", "tool_call_id": "c1", "content": "sunny"}], "max_tokens": 3, ` + tools + `}`
	code, out := postJSON(t, url+"/v1/chat/completions", ok)
	if code != 200 || out["usage"].(map[string]any)["prompt_tokens"].(float64) < 100 {
		t.Fatalf("chat with tools: %d %v", code, out)
	}
	two := strings.Replace(ok, call("c1"), call("c1")+", "+call("c2"), 1)
	code, out = postJSON(t, url+"/v1/chat/completions", two)
	if code != 422 || !strings.Contains(out["error"].(map[string]any)["message"].(string), "single tool-calls") {
		t.Fatalf("two tool calls: %d %v", code, out)
	}
}
