package openai

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestReasoningSplit(t *testing.T) {
	tests := []struct {
		name               string
		p                  ReasoningParser
		deltas             []string
		reasoning, content string
	}{
		{"qwen3 thinking", ReasoningQwen3, []string{"<th", "ink>\nLet me", " think.</th", "ink>\n\nParis."}, "\nLet me think.", "\n\nParis."},
		{"qwen3 no thinking", ReasoningQwen3, []string{"Paris", " is nice."}, "", "Paris is nice."},
		{"qwen3 a less-than that is not a tag", ReasoningQwen3, []string{"<", "b>bold</b>"}, "", "<b>bold</b>"},
		{"qwen3 cut short", ReasoningQwen3, []string{"<think>still thin"}, "still thin", ""},
		{"deepseek starts inside", ReasoningDeepSeekR1, []string{"Hmm, 2+2", "=4.</think>", "4"}, "Hmm, 2+2=4.", "4"},
		{"deepseek with an opening tag", ReasoningDeepSeekR1, []string{"<think>", "x</think>y"}, "x", "y"},
		{"none", ReasoningNone, []string{"<think>x</think>y"}, "", "<think>x</think>y"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newReasoningSplitter(tc.p)
			var reasoning, content string
			for _, d := range tc.deltas {
				a, b := r.push(d)
				reasoning, content = reasoning+a, content+b
			}
			a, b := r.finish()
			reasoning, content = reasoning+a, content+b
			if reasoning != tc.reasoning || content != tc.content {
				t.Fatalf("reasoning %q content %q, want %q %q", reasoning, content, tc.reasoning, tc.content)
			}
			whole := ""
			for _, d := range tc.deltas {
				whole += d
			}
			if a, b := tc.p.split(whole); a != tc.reasoning || b != tc.content {
				t.Fatalf("split: %q %q", a, b)
			}
		})
	}
}

func TestReasoningContentOverHTTP(t *testing.T) {
	ts := newTestServer(t, ToolParserNone, reply{"Capital of France?", "<think>\nIt is Paris.</think>\n\nParis.", false})
	ts.model.ReasoningParser = ReasoningQwen3
	full := ts.text("Capital of France?", "<think>\nIt is Paris.</think>\n\nParis.")
	wantReasoning, wantContent := ReasoningQwen3.split(full)
	if wantReasoning == "" || wantContent == "" {
		t.Fatalf("test text splits into %q and %q", wantReasoning, wantContent)
	}
	body := `{"messages": [{"role": "user", "content": "Capital of France?"}]`
	code, out, _ := ts.post("/v1/chat/completions", body+`}`)
	var resp chatCompletion
	if err := json.Unmarshal([]byte(out), &resp); err != nil || code != 200 {
		t.Fatalf("%d %s", code, out)
	}
	m := resp.Choices[0].Message
	if m.ReasoningContent == nil || *m.ReasoningContent != wantReasoning || *m.Content != wantContent {
		t.Fatalf("message %+v, want reasoning %q content %q", m, wantReasoning, wantContent)
	}
	code, out, _ = ts.post("/v1/chat/completions", body+`, "stream": true}`)
	var reasoning, content string
	for _, ev := range strings.Split(strings.TrimSpace(out), "\n\n") {
		data := strings.TrimPrefix(ev, "data: ")
		if data == "[DONE]" {
			break
		}
		var ch chatChunk
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			t.Fatalf("%v: %s", err, data)
		}
		for _, c := range ch.Choices {
			if c.Delta.ReasoningContent != nil {
				reasoning += *c.Delta.ReasoningContent
			}
			if c.Delta.Content != nil {
				content += *c.Delta.Content
			}
		}
	}
	if code != 200 || reasoning != wantReasoning || content != wantContent {
		t.Fatalf("stream: reasoning %q content %q, want %q %q", reasoning, content, wantReasoning, wantContent)
	}
}
