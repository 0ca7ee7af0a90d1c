package main

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sotasystems/sota/internal/testmodels"
)

// syncBuffer is a bytes.Buffer safe for the watcher's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// The first signal cancels (serve drains) and says how to force; the second
// exits at once with 128+signal.
func TestWatchSignals(t *testing.T) {
	old := signalLogger.Load()
	defer signalLogger.Store(old)
	tests := []struct {
		name          string
		first, second os.Signal
		code          int
		logger        bool // run's logger is built: the notes go through it
	}{
		{"ctrl-c twice", os.Interrupt, os.Interrupt, 130, false},
		{"term then ctrl-c", syscall.SIGTERM, os.Interrupt, 130, false},
		{"ctrl-c then term, logged", os.Interrupt, syscall.SIGTERM, 143, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sigs := make(chan os.Signal, 2)
			var stderr syncBuffer
			signalLogger.Store(nil)
			if tt.logger {
				signalLogger.Store(slog.New(slog.NewTextHandler(&stderr, nil)))
			}
			exited := make(chan int, 1)
			ctx, stop := watchSignals(context.Background(), sigs, &stderr, func(code int) { exited <- code })
			defer stop()
			sigs <- tt.first
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("the first signal did not cancel")
			}
			if !strings.Contains(stderr.String(), "press Ctrl-C again to force") {
				t.Fatalf("stderr %q", stderr.String())
			}
			select {
			case code := <-exited:
				t.Fatalf("exit %d after one signal", code)
			default:
			}
			sigs <- tt.second
			select {
			case code := <-exited:
				if code != tt.code {
					t.Fatalf("exit %d, want %d", code, tt.code)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the second signal did not exit")
			}
		})
	}
	// stop with no signal ends the watch; nothing exits.
	_, stop := watchSignals(context.Background(), make(chan os.Signal), &syncBuffer{}, func(int) { t.Error("exit") })
	stop()
}

func TestCLIConventions(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string // substring
		stderr   string // substring
		noStderr bool
	}{
		{"bare sota prints help", nil, 0, "Usage: sota <command>", "", true},
		{"--version", []string{"--version"}, 0, "sota ", "", true},
		{"version", []string{"version"}, 0, "sota ", "", true},
		{"unknown flag points to the subcommand's help", []string{"serve", "--bogus"}, 2, "", "(see 'sota serve --help')", false},
		{"unknown flag suggestion", []string{"serve", "--max-modle-len", "8"}, 2, "", `did you mean "--max-model-len"?`, false},
		{"generate's help", []string{"generate", "--bogus"}, 2, "", "(see 'sota generate --help')", false},
		{"unknown command", []string{"frobnicate"}, 2, "", "(see 'sota --help')", false},
		{"--dtype auto", []string{"generate", "-q", "--dtype", "auto", "--max-tokens", "2"}, 0, "", "", true},
		{"--dtype float32 on cpu", []string{"generate", "-q", "--dtype", "float32", "--max-tokens", "2"}, 0, "", "", true},
		{"--dtype bfloat16 on cpu", []string{"generate", "-q", "--dtype", "bfloat16", "--max-tokens", "2"}, 0, "", "", true},
		{"--dtype float16 on cpu", []string{"generate", "-q", "--dtype", "float16"}, 1, "", "stores float32 or bfloat16", false},
		{"--quantization int8", []string{"generate", "-q", "--quantization", "int8", "--max-tokens", "2"}, 0, "", "", true},
		{"--quantization int8 with --dtype bfloat16", []string{"generate", "-q", "--quantization", "int8", "--dtype", "bfloat16"}, 1, "", "compute in float32", false},
		{"--quantization unknown", []string{"generate", "-q", "--quantization", "awq"}, 2, "", "--quantization", false},
		{"--dtype unknown", []string{"generate", "-q", "--dtype", "fp8"}, 2, "", "--dtype", false},
		{"max tokens capped", []string{"generate", "-q", "--max-tokens", "600", "--prompt", "Once"}, 0, "",
			"--max-tokens 600 capped to 510: the prompt has 2 tokens and the context 512", false},
		{"max tokens capped by --max-model-len", []string{"generate", "-q", "--max-tokens", "100", "--max-model-len", "64", "--prompt", "Once"}, 0, "",
			"--max-tokens 100 capped to 62", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := sota(t, tt.args...)
			if code != tt.code || !strings.Contains(out, tt.stdout) || !strings.Contains(errOut, tt.stderr) || (tt.noStderr && errOut != "") {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q", code, out, errOut, tt.code, tt.stdout, tt.stderr)
			}
		})
	}
}

// vLLM's --enable-auto-tool-choice and --dtype are accepted by serve.
func TestServeVLLMFlags(t *testing.T) {
	_, stop := startServe(t, "--backend", "fake", "--enable-auto-tool-choice", "--dtype", "auto")
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}
}

// The demo model's chat ends with its story: BOS stops a served generation.
func TestServeDemoStopsAtStoryEnd(t *testing.T) {
	url, stop := startServe(t)
	defer stop()
	stopped := 0
	for seed := range 8 {
		code, out := postJSON(t, url+"/v1/chat/completions", `{"messages": [{"role": "user", "content": "Once upon a time"}], "max_tokens": 500, "seed": `+
			strings.Repeat("1", seed+1)+`}`)
		if code != 200 {
			t.Fatalf("chat: %d %v", code, out)
		}
		choice := out["choices"].([]any)[0].(map[string]any)
		if choice["finish_reason"] == "stop" {
			stopped++
			if text := choice["message"].(map[string]any)["content"].(string); strings.Contains(text, "<s>") {
				t.Fatalf("BOS in the text: %q", text)
			}
		}
	}
	if stopped == 0 {
		t.Fatal("no chat turn ended with its story in 8 tries of up to 500 tokens")
	}
}

// tokenize --chat renders what serve renders: the served prompt has exactly
// the tokens of tokenize's rendering.
func TestTokenizeChatParity(t *testing.T) {
	// serve needs a config.json (the fake backend reads no weights): the
	// tokenizer's folder, with a config of its family beside it.
	shared := func(name, config string) func(t *testing.T) []string {
		return func(t *testing.T) []string {
			tok := testmodels.Shared(t, name)
			cfg := testmodels.Shared(t, "configs", config)
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(tok)); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			return []string{"--model", dir}
		}
	}
	models := []struct {
		name string
		args func(t *testing.T) []string // of serve and tokenize
	}{
		{"built-in", func(*testing.T) []string { return nil }},
		{"qwen3", shared("qwen3-tokenizer", "qwen2.5-7b-instruct.json")},
		{"qwen2.5", shared("qwen2.5-tokenizer", "qwen2.5-7b-instruct.json")},
		{"llama3.1", shared("llama3.1-tokenizer", "llama-3.1-8b-instruct.json")},
	}
	messages := []string{
		`[{"role": "user", "content": "Once upon a time"}]`,
		`[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi <b>&"}, {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Again"}]`,
		// Normalized by the server before rendering: content parts, developer.
		`[{"role": "developer", "content": [{"type": "text", "text": "Be brief."}]}, {"role": "user", "content": [{"type": "text", "text": "Part one"}, {"type": "text", "text": "part two"}]}]`,
	}
	for _, m := range models {
		t.Run(m.name, func(t *testing.T) {
			args := m.args(t)
			url, stop := startServe(t, append([]string{"--backend", "fake"}, args...)...)
			defer stop()
			for _, msgs := range messages {
				code, rendered, errOut := sota(t, append(append([]string{"tokenize", "--chat"}, args...), msgs)...)
				if code != 0 {
					t.Fatalf("tokenize --chat: exit %d: %s", code, errOut)
				}
				code, ids, errOut := tokenizeRun(t, rendered, append([]string{"--no-add-special"}, args...)...)
				if code != 0 {
					t.Fatalf("tokenize: exit %d: %s", code, errOut)
				}
				n := strings.Count(ids, ",") + 1
				status, out := postJSON(t, url+"/v1/chat/completions", `{"messages": `+msgs+`, "max_tokens": 1}`)
				if status != 200 {
					t.Fatalf("chat: %d %v", status, out)
				}
				if got := int(out["usage"].(map[string]any)["prompt_tokens"].(float64)); got != n {
					t.Fatalf("served prompt has %d tokens, tokenize --chat's rendering %d (%s)", got, n, rendered)
				}
			}
		})
	}
}
