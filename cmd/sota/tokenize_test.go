package main

import (
	"strings"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

// tokenizeRun runs `sota tokenize` with input on stdin.
func tokenizeRun(t *testing.T, input string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(input)
	defer func() { stdin = old }()
	return sota(t, append([]string{"tokenize"}, args...)...)
}

// TestTokenize: encode, decode and chat rendering, one JSON value a line.
func TestTokenize(t *testing.T) {
	llama3 := testmodels.Shared(t, "llama3.1-tokenizer")
	qwen3 := testmodels.Shared(t, "qwen3-tokenizer")
	mistral := testmodels.Shared(t, "mistral-tokenizers", "v3")
	tests := []struct {
		name  string
		args  []string
		input string
		want  string
	}{
		{"demo encode", nil, "\"Hello world\"\n\n\"\"\n", "[1,346,306,414,263,304,341]\n[1]\n"},
		{"demo plain text lines", nil, "Hello world\n  Hello world\r\n", "[1,346,306,414,263,304,341]\n[1,410,410,346,306,414,263,304,341]\n"},
		{"demo positional", []string{"Hello world", `"Hello world"`}, "ignored\n", "[1,346,306,414,263,304,341]\n[1,346,306,414,263,304,341]\n"},
		{"demo not a JSON string is text", nil, "[1]\n", "[1,410,508,475,509]\n"},
		{"demo chat, serve's template", []string{"--chat"}, `[{"role": "user", "content": "Lily"}]`, "\"<s>Lily\\n\"\n"},
		{"demo no special", []string{"--no-add-special"}, `"Hello world"`, "[346,306,414,263,304,341]\n"},
		{"demo decode", []string{"--decode"}, "[1,346,306,414,263,304,341]\n", "\"<s> Hello world\"\n"},
		{"demo decode skip", []string{"--decode", "--skip-special"}, "[1,346,306,414,263,304,341]\n", "\"Hello world\"\n"},
		{"llama3 encode", []string{"--model", llama3}, "\"Hello world\"\n\"<|eot_id|>\"\n", "[128000,9906,1917]\n[128000,128009]\n"},
		{"sentencepiece file", []string{"--model", mistral, "--no-add-special"}, `"[INST] What's up?"`, "[3,2592,29510,29481,1350,29572]\n"},
		{"chat array", []string{"--model", qwen3, "--chat"}, `[{"role": "user", "content": "Hi <b>&"}]`,
			`"<|im_start|>user\nHi <b>&<|im_end|>\n<|im_start|>assistant\n"` + "\n"},
		{"chat object, thinking off", []string{"--model", qwen3, "--chat", "--no-add-generation-prompt"},
			`{"messages": [{"role": "user", "content": "x"}], "tools": null}`, `"<|im_start|>user\nx<|im_end|>\n"` + "\n"},
		{"chat kwargs", []string{"--model", qwen3, "--chat", "--template-kwargs", `{"enable_thinking": false}`},
			`[{"role": "user", "content": "x"}]`, `"<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := tokenizeRun(t, tt.input, tt.args...)
			if code != 0 || out != tt.want {
				t.Fatalf("exit %d, stdout %q, stderr %q\nwant stdout %q", code, out, errOut, tt.want)
			}
		})
	}
}

func TestTokenizeErrors(t *testing.T) {
	qwen3 := testmodels.Shared(t, "qwen3-tokenizer")
	tests := []struct {
		name  string
		args  []string
		input string
		code  int
		want  string
	}{
		{"not ids", []string{"--decode"}, "\"x\"\n", 1, "line 1: want a JSON array"},
		{"no template", []string{"--chat", "--model", qwen3 + "/../llama2-tokenizer"}, "[]\n", 1, "no chat template"},
		{"bad messages", []string{"--chat", "--model", qwen3}, "\"hi\"\n", 1, "line 1: messages"},
		{"bad kwargs", []string{"--chat", "--model", qwen3, "--template-kwargs", "{"}, "", 1, "--template-kwargs"},
		{"decode and chat", []string{"--chat", "--decode"}, "", 2, "--decode"},
		{"missing model", []string{"--model", "/nonexistent/model"}, "", 1, "/nonexistent/model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := tokenizeRun(t, tt.input, tt.args...)
			if code != tt.code || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tt.code, tt.want)
			}
		})
	}
}
