package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/fake"
	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/server/anthropic"
	"github.com/sotasystems/sota/server/openai"
	"github.com/sotasystems/sota/server/responses"
	"github.com/sotasystems/sota/tokenizer"
)

// A tool call the model makes (hermes format, scripted on the fake
// backend) reaches Anthropic clients as a tool_use block and Responses
// clients as a function_call item, streamed or not.
func TestOtherAPIsToolCalls(t *testing.T) {
	tok, err := tokenizer.LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	const question = "What is the weather in Paris?"
	call := "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
	be := fake.New(backend.Geometry{VocabSize: tok.VocabSize(), MaxModelLen: 512, BlockSize: 16, NumBlocks: 256},
		fake.Script{Prompt: tok.Encode(question, false), Output: tok.Encode(call, false), EOS: 2})
	quiet := slog.New(slog.DiscardHandler)
	eng, err := engine.New(be, engine.Config{EOSTokenIDs: []int32{2}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	tmpl, err := tokenizer.NewTemplate(map[string]string{"default": "{% for m in messages %}{{ m['content'] }}{% endfor %}"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := openai.New(openai.Config{Logger: quiet, Models: []*openai.Model{{Name: "m", Engine: eng, Tokenizer: tok, Template: tmpl,
		ToolParser: openai.ToolParserHermes, Defaults: sample.Defaults()}}})
	if err != nil {
		t.Fatal(err)
	}
	ant, err := anthropic.New(anthropic.Config{Generator: chatGenerator{srv}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	res, err := responses.New(responses.Config{Generator: responsesGenerator{srv}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	ant.Mount(mux)
	res.Mount(mux)
	hs := httptest.NewServer(mux)
	defer hs.Close()

	weather := `{"name":"get_weather","description":"Weather","%s":{"type":"object","properties":{"city":{"type":"string"}}}}`
	antTools := strings.Replace(weather, "%s", "input_schema", 1)
	resTools := `{"type":"function",` + strings.TrimPrefix(strings.Replace(weather, "%s", "parameters", 1), "{")
	for _, tc := range []struct {
		name, path, body string
		want             []string
	}{
		{"anthropic", "/v1/messages", `{"model":"m","max_tokens":64,"tools":[` + antTools + `],"messages":[{"role":"user","content":"` + question + `"}]}`,
			[]string{`"type":"tool_use"`, `"name":"get_weather","input":{"city":"Paris"}`, `"stop_reason":"tool_use"`}},
		{"anthropic stream", "/v1/messages", `{"model":"m","max_tokens":64,"stream":true,"tools":[` + antTools + `],"messages":[{"role":"user","content":"` + question + `"}]}`,
			[]string{`"content_block":{"id":"call_`, `"partial_json":"{\"city\":\"Paris\"}","type":"input_json_delta"`, `"message":{"content":[],`, `"usage":{"input_tokens":16,"output_tokens":0}`, `"stop_reason":"tool_use"`, "event: message_stop"}},
		{"responses", "/v1/responses", `{"model":"m","tools":[` + resTools + `],"input":"` + question + `"}`,
			[]string{`"type":"function_call"`, `"call_id":"call_`, `"name":"get_weather","arguments":"{\"city\":\"Paris\"}"`, `"status":"completed"`}},
		{"responses stream", "/v1/responses", `{"model":"m","stream":true,"tools":[` + resTools + `],"input":"` + question + `"}`,
			[]string{"event: response.function_call_arguments.done", `"arguments":"{\"city\":\"Paris\"}"`, "event: response.completed",
				`"response":{"id":"resp_`, `"status":"in_progress","completed_at":null`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.Post(hs.URL+tc.path, "application/json", strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d: %s", resp.StatusCode, b)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(b), w) {
					t.Errorf("lacks %s:\n%s", w, b)
				}
			}
		})
	}
}
