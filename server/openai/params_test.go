package openai

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/sample"
)

// Every sampling field reaches the backend as the request gave it, over the
// model's defaults.
func TestSamplingParamsReachTheBackend(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	ts.model.Defaults = sample.Params{Temperature: 0.6, TopP: 0.9, TopK: 20, RepetitionPenalty: 1.05}
	var mu sync.Mutex
	var seen []sample.Params
	ts.be.Fail = func(b *backend.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range b.Samples {
			seen = append(seen, s.Params)
		}
		return nil
	}
	tests := []struct {
		name string
		body string
		want sample.Params
	}{
		{"model defaults", `{"prompt": "x", "max_tokens": 1, "seed": 5}`,
			sample.Params{Temperature: 0.6, TopP: 0.9, TopK: 20, RepetitionPenalty: 1.05, Seed: 5}},
		{"every field", `{"prompt": "x", "max_tokens": 1, "seed": -1, "temperature": 1.5, "top_p": 0.5, "top_k": 7,
			"min_p": 0.05, "repetition_penalty": 1.2, "presence_penalty": 0.5, "frequency_penalty": -0.5,
			"logit_bias": {"42": -100, "7": 3.5}, "logprobs": 4, "user": "u1"}`,
			sample.Params{Temperature: 1.5, TopP: 0.5, TopK: 7, MinP: 0.05, RepetitionPenalty: 1.2, PresencePenalty: 0.5,
				FrequencyPenalty: -0.5, LogitBias: map[int32]float32{42: -100, 7: 3.5}, Seed: 1<<64 - 1, Logprobs: true, TopLogprobs: 4}},
	}
	for _, tc := range tests {
		mu.Lock()
		seen = nil
		mu.Unlock()
		if code, body, _ := ts.post("/v1/completions", tc.body); code != 200 {
			t.Fatalf("%s: %d %s", tc.name, code, body)
		}
		mu.Lock()
		got := seen
		mu.Unlock()
		if len(got) != 1 || !equalParams(got[0], tc.want) {
			t.Errorf("%s: backend saw %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func equalParams(a, b sample.Params) bool {
	if len(a.LogitBias) != len(b.LogitBias) {
		return false
	}
	for k, v := range a.LogitBias {
		if b.LogitBias[k] != v {
			return false
		}
	}
	a.LogitBias, b.LogitBias = nil, nil
	return a.Temperature == b.Temperature && a.TopP == b.TopP && a.TopK == b.TopK && a.MinP == b.MinP &&
		a.RepetitionPenalty == b.RepetitionPenalty && a.PresencePenalty == b.PresencePenalty &&
		a.FrequencyPenalty == b.FrequencyPenalty && a.Seed == b.Seed && a.Logprobs == b.Logprobs && a.TopLogprobs == b.TopLogprobs
}

// Several models in one server are routed by the model field.
func TestRoutingBetweenModels(t *testing.T) {
	a := newTestServer(t, ToolParserNone, reply{"Hi", " from a.", false})
	b := newTestServer(t, ToolParserNone, reply{"Hi", " from b.", false})
	ma := &Model{Name: "a", Engine: a.eng, Tokenizer: a.tok, Template: a.model.Template, Defaults: a.model.Defaults}
	mb := &Model{Name: "b", Aliases: []string{"bee"}, Engine: b.eng, Tokenizer: b.tok, Template: b.model.Template, Defaults: b.model.Defaults}
	srv, err := New(Config{Models: []*Model{ma, mb}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	for model, want := range map[string]string{"a": a.text("Hi", " from a."), "bee": b.text("Hi", " from b.")} {
		resp, err := hs.Client().Post(hs.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model": "`+model+`", "messages": [{"role": "user", "content": "Hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		var out chatCompletion
		if err := decodeJSON(resp, &out); err != nil || out.Choices[0].Message.Content == nil ||
			*out.Choices[0].Message.Content != want || out.Model != model {
			t.Fatalf("model %s: %+v %v", model, out, err)
		}
	}
	resp, _ := hs.Client().Post(hs.URL+"/v1/completions", "application/json", strings.NewReader(`{"prompt": "x"}`))
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("no model with two served: %d", resp.StatusCode)
	}
	if _, err := New(Config{Models: []*Model{ma, ma}}); err == nil {
		t.Fatal("a name served twice was accepted")
	}
}
