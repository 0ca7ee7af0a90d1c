package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

// sota runs the command in-process and returns its exit code and output.
func sota(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func storiesCase(t *testing.T, i int) (prompt, text string) {
	data, err := os.ReadFile(testmodels.Shared(t, "stories260k", "reference", "greedy.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		Cases []struct {
			Prompt     string `json:"prompt"`
			GreedyText string `json:"greedy_text"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &ref); err != nil {
		t.Fatal(err)
	}
	return ref.Cases[i].Prompt, ref.Cases[i].GreedyText
}

// TestGenerateDemoReference: the embedded demo model, greedy from BOS, prints
// the reference story exactly; with a prompt it prints prompt + continuation.
func TestGenerateDemoReference(t *testing.T) {
	want, err := os.ReadFile(testmodels.Shared(t, "stories260k", "reference", "greedy_bos_200.txt"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := sota(t, "generate", "--max-tokens", "200")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if out != strings.TrimRight(string(want), "\n")+"\n" {
		t.Fatalf("stdout %q\nwant %q", out, want)
	}
	if !strings.Contains(errOut, "generated 200") || !strings.Contains(errOut, "time to first token") {
		t.Fatalf("stats missing from stderr: %q", errOut)
	}

	prompt, cont := storiesCase(t, 1)
	code, out, errOut = sota(t, "generate", "--prompt", prompt, "--max-tokens", "64", "-q")
	if code != 0 || out != prompt+cont+"\n" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q\nwant stdout %q", code, out, errOut, prompt+cont+"\n")
	}
}

func TestGenerateSeeds(t *testing.T) {
	gen := func(seed string) string {
		code, out, errOut := sota(t, "generate", "--temperature", "1", "--top-k", "40", "--seed", seed, "--max-tokens", "40", "-q")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		return out
	}
	a, b, c := gen("7"), gen("7"), gen("8")
	if a != b {
		t.Fatalf("same seed, different text:\n%q\n%q", a, b)
	}
	if a == c {
		t.Fatalf("seeds 7 and 8 gave the same text %q", a)
	}
}

func TestGenerateTokenIDsWithoutTokenizer(t *testing.T) {
	dir := testmodels.Testdata(t, "llama-tiny")
	code, out, errOut := sota(t, "generate", "--model", dir, "--prompt-ids", "1,5,9", "--max-tokens", "5", "-q")
	if code != 0 || len(strings.Fields(out)) != 5 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, errOut = sota(t, "generate", "--model", dir+"/config.json", "--random-weights", "--max-tokens", "3", "-q")
	if code != 0 || len(strings.Fields(out)) != 3 {
		t.Fatalf("random weights: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestGenerateEnvFallback(t *testing.T) {
	t.Setenv("SOTA_MAX_TOKENS", "3")
	t.Setenv("SOTA_TEMPERATURE", "0")
	dir := testmodels.Testdata(t, "llama-tiny")
	code, out, errOut := sota(t, "generate", "--model", dir, "--prompt-ids", "1", "-q")
	if code != 0 || len(strings.Fields(out)) != 3 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

func TestGenerateErrors(t *testing.T) {
	tiny := testmodels.Testdata(t, "llama-tiny")
	empty := t.TempDir()
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing model folder", []string{"--model", "/nonexistent/model"}, 1, "/nonexistent/model"},
		{"folder without config", []string{"--model", empty}, 1, "config.json"},
		{"prompt needs tokenizer", []string{"--model", tiny, "--prompt", "hi"}, 1, "needs a tokenizer"},
		{"prompt and ids", []string{"--prompt", "a", "--prompt-ids", "1"}, 1, "not both"},
		{"bad temperature", []string{"--temperature=-1"}, 1, "temperature"},
		{"bad top-p", []string{"--top-p", "1.5"}, 1, "top_p"},
		{"random weights without model", []string{"--random-weights"}, 1, "needs --model"},
		{"context too long", []string{"--max-model-len", "100000"}, 1, "max_position_embeddings"},
		{"unknown device", []string{"--device", "tpu"}, 2, "device"},
		{"unknown flag", []string{"--bogus"}, 2, "bogus"},
		{"bad prompt id", []string{"--prompt-ids", "1,x"}, 2, "prompt-ids"},
		{"prompt id outside vocab", []string{"--prompt-ids", "1,100000"}, 1, "outside the vocabulary"},
		{"output without input", []string{"--output", "x.jsonl"}, 1, "--output needs --input"},
		{"input and prompt", []string{"--input", "x.jsonl", "--prompt", "a"}, 1, "not both"},
		{"missing input file", []string{"--input", "/nonexistent/in.jsonl"}, 1, "/nonexistent/in.jsonl"},
		{"bad kv memory", []string{"--kv-cache-memory", "lots"}, 1, "--kv-cache-memory"},
		{"bad policy", []string{"--scheduling-policy", "random"}, 2, "scheduling-policy"},
		{"context over a tiny cache", []string{"--num-kv-blocks", "4", "--max-model-len", "256"}, 1, "KV blocks"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, errOut := sota(t, append([]string{"generate", "-q"}, c.args...)...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, c.code, c.want)
			}
		})
	}
}

func TestVersionAndHelp(t *testing.T) {
	if code, out, _ := sota(t, "version"); code != 0 || !strings.HasPrefix(out, "sota ") {
		t.Fatalf("version: exit %d, %q", code, out)
	}
	if code, out, _ := sota(t, "generate", "--help"); code != 0 || !strings.Contains(out, "--max-tokens") {
		t.Fatalf("help: exit %d, %q", code, out)
	}
}
