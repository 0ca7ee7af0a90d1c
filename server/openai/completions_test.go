package openai

import (
	"encoding/json"
	"strings"
	"testing"

	sdk "github.com/openai/openai-go/v3"
)

func TestCompletions(t *testing.T) {
	ts := newTestServer(t, ToolParserNone,
		reply{"Once", " upon a time", true},
		reply{"The cat", " sat on the mat.", true})
	once := ts.textAfter(ts.tok.Encode("Once", true), " upon a time")
	cat := ts.textAfter(ts.tok.Encode("The cat", true), " sat on the mat.")
	tests := []struct {
		name   string
		prompt sdk.CompletionNewParamsPromptUnion
		n      int64
		echo   bool
		want   []string
	}{
		{"string", sdk.CompletionNewParamsPromptUnion{OfString: sdk.String("Once")}, 1, false, []string{once}},
		{"list of strings, n 2", sdk.CompletionNewParamsPromptUnion{OfArrayOfStrings: []string{"Once", "The cat"}}, 2, false,
			[]string{once, once, cat, cat}},
		{"token ids", sdk.CompletionNewParamsPromptUnion{OfArrayOfTokens: toInt64(ts.tok.Encode("The cat", true))}, 1, false, []string{cat}},
		{"echo", sdk.CompletionNewParamsPromptUnion{OfString: sdk.String("The cat")}, 1, true, []string{"The cat" + cat}},
	}
	for _, tc := range tests {
		for _, streaming := range []bool{false, true} {
			p := sdk.CompletionNewParams{Model: "stories", Prompt: tc.prompt, N: sdk.Int(tc.n), Echo: sdk.Bool(tc.echo)}
			texts := make([]string, len(tc.want))
			finish := make([]string, len(tc.want))
			var usage sdk.CompletionUsage
			if streaming {
				p.StreamOptions = sdk.ChatCompletionStreamOptionsParam{IncludeUsage: sdk.Bool(true)}
				stream := ts.client.Completions.NewStreaming(t.Context(), p)
				for stream.Next() {
					c := stream.Current()
					for _, ch := range c.Choices {
						texts[ch.Index] += ch.Text
						if ch.FinishReason != "" {
							finish[ch.Index] = string(ch.FinishReason)
						}
					}
					if c.Usage.TotalTokens > 0 {
						usage = c.Usage
					}
				}
				if err := stream.Err(); err != nil {
					t.Fatal(err)
				}
			} else {
				resp, err := ts.client.Completions.New(t.Context(), p)
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.Choices) != len(tc.want) {
					t.Fatalf("%s: %d choices", tc.name, len(resp.Choices))
				}
				for _, ch := range resp.Choices {
					texts[ch.Index], finish[ch.Index] = ch.Text, string(ch.FinishReason)
				}
				usage = resp.Usage
			}
			for i := range tc.want {
				if texts[i] != tc.want[i] || finish[i] != "stop" {
					t.Errorf("%s (stream %v): choice %d = %q %q, want %q", tc.name, streaming, i, texts[i], finish[i], tc.want[i])
				}
			}
			if usage.TotalTokens == 0 || usage.TotalTokens != usage.PromptTokens+usage.CompletionTokens {
				t.Errorf("%s (stream %v): usage %+v", tc.name, streaming, usage)
			}
		}
	}
}

func toInt64(ids []int32) []int64 {
	out := make([]int64, len(ids))
	for i, id := range ids {
		out[i] = int64(id)
	}
	return out
}

func TestCompletionLogprobs(t *testing.T) {
	ts := newTestServer(t, ToolParserNone, reply{"Once", " upon a time", true})
	code, body, _ := ts.post("/v1/completions", `{"prompt": "Once", "logprobs": 3, "max_tokens": 2}`)
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var resp completion
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	lp := resp.Choices[0].Logprobs
	if lp == nil || len(lp.Tokens) != 2 || len(lp.TopLogprobs) != 2 || len(lp.TopLogprobs[0]) != 3 ||
		strings.Join(lp.Tokens, "") != resp.Choices[0].Text || lp.TextOffset[1] != len(lp.Tokens[0]) {
		t.Fatalf("logprobs %+v for text %q", lp, resp.Choices[0].Text)
	}
}
