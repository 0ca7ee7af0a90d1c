package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func readResults(t *testing.T, data string) []batchResult {
	t.Helper()
	var res []batchResult
	for _, line := range strings.Split(strings.TrimSpace(data), "\n") {
		var r batchResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("output line %q: %v", line, err)
		}
		res = append(res, r)
	}
	return res
}

// A JSONL file runs through the engine together and gives, in input order,
// the same text as each prompt alone with `generate --prompt`.
func TestGenerateBatchMatchesSingle(t *testing.T) {
	prompts := []string{"Once upon a time", "The cat", "Lily and Ben went to the park. They saw a big dog and", "Tom"}
	var in strings.Builder
	for i, p := range prompts {
		b, _ := json.Marshal(map[string]any{"id": i * 10, "prompt": p, "max_tokens": 20 + 7*i})
		in.Write(b)
		in.WriteString("\n\n") // blank lines are skipped
	}
	input := writeFile(t, "in.jsonl", in.String())
	output := filepath.Join(t.TempDir(), "out.jsonl")
	code, _, errOut := sota(t, "generate", "--input", input, "--output", output, "--temperature", "0", "--max-num-seqs", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(errOut, "4 requests (0 failed)") || !strings.Contains(errOut, "generated tokens/s") {
		t.Fatalf("summary missing: %q", errOut)
	}
	data, err := os.ReadFile(output)
	if err != nil {
		t.Fatal(err)
	}
	res := readResults(t, string(data))
	if len(res) != len(prompts) {
		t.Fatalf("%d results for %d requests", len(res), len(prompts))
	}
	for i, r := range res {
		if r.Index != i || r.ID != float64(i*10) || r.Error != "" || len(r.Outputs) != 1 || r.Usage == nil {
			t.Fatalf("result %d: %+v", i, r)
		}
		o := r.Outputs[0]
		if len(o.TokenIDs) > 20+7*i || o.Text == nil || r.Usage.CompletionTokens != len(o.TokenIDs) {
			t.Fatalf("result %d: %d tokens, usage %+v", i, len(o.TokenIDs), r.Usage)
		}
		code, single, errOut := sota(t, "generate", "-q", "--prompt", prompts[i], "--max-tokens", strconv.Itoa(20+7*i), "--temperature", "0")
		if code != 0 {
			t.Fatalf("single %d: %s", i, errOut)
		}
		if want := prompts[i] + *o.Text + "\n"; single != want {
			t.Fatalf("prompt %d: batch text %q, single text %q", i, want, single)
		}
	}
}

func TestGenerateBatchFieldsAndErrors(t *testing.T) {
	lines := []string{
		`{"prompt_ids": [1, 400, 401], "max_tokens": 5, "n": 3, "temperature": 1, "seed": 5, "logprobs": 2}`,
		`{"prompt": "x", "prompt_ids": [1]}`,
		`not json`,
		`{"max_tokens": 3}`,
		`{"prompt": "Hi", "max_tokens": 0}`,
		`{"prompt_ids": [1, 9999]}`,
		`{"prompt": "Hi", "max_tokens": 4, "stop_token_ids": [], "ignore_eos": true, "tenant": "t", "priority": 2}`,
	}
	input := writeFile(t, "in.jsonl", strings.Join(lines, "\n"))
	code, out, errOut := sota(t, "generate", "--input", input)
	if code != 1 || !strings.Contains(errOut, "5 of 7 requests failed") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	res := readResults(t, out)
	wantErr := []string{"", "not both", "bad JSON", "missing prompt", "max_tokens", "vocabulary", ""}
	for i, r := range res {
		if (wantErr[i] == "") != (r.Error == "") || !strings.Contains(r.Error, wantErr[i]) {
			t.Fatalf("line %d: error %q, want %q", i, r.Error, wantErr[i])
		}
	}
	first := res[0]
	if len(first.Outputs) != 3 || first.Usage.CompletionTokens != 15 || first.Usage.PromptTokens != 3 {
		t.Fatalf("n=3 result: %+v", first)
	}
	for _, o := range first.Outputs {
		if len(o.Logprobs) != 5 || len(o.Logprobs[0].Top) != 2 || o.CumulativeLogprob == nil || *o.CumulativeLogprob >= 0 {
			t.Fatalf("logprobs of output %d: %+v", o.Index, o)
		}
	}
	if last := res[6]; len(last.Outputs[0].TokenIDs) != 4 || last.Outputs[0].FinishReason != "length" {
		t.Fatalf("last result %+v", last)
	}
}

// A max_tokens past the context runs what fits and says so in the result.
func TestGenerateBatchCapsMaxTokens(t *testing.T) {
	input := writeFile(t, "in.jsonl", `{"prompt_ids": [1, 400], "max_tokens": 600, "ignore_eos": true}`)
	code, out, errOut := sota(t, "generate", "--input", input)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	res := readResults(t, out)
	if len(res) != 1 || !strings.Contains(res[0].Warning, "max_tokens 600 capped to 510") ||
		len(res[0].Outputs) != 1 || len(res[0].Outputs[0].TokenIDs) != 510 {
		t.Fatalf("result %+v", res)
	}
}
