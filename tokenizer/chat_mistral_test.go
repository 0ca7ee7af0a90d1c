package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

// TestMistralGoldenChat renders mistral-common's golden samples with
// Mistral's own v3 template and tokenizes them with the v3 tokenizer.model:
// the ids must equal mistral-common's. (The get_weather samples are left
// out: their stored tool-call arguments are serialised by mistral-common
// with other JSON spacing than the template produces, in Python as here.)
func TestMistralGoldenChat(t *testing.T) {
	base := testmodels.Shared(t, "mistral-tokenizers")
	src, err := os.ReadFile(filepath.Join(base, "chat_templates", "v3_spm.jinja"))
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := NewTemplate(map[string]string{"default": string(src)}, map[string]any{"bos_token": "<s>", "eos_token": "</s>"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Load(filepath.Join(base, "v3"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"no_tools", "parallel_calls", "several_calls"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(base, "reference", "mistral_common_samples", name)
			var sample struct {
				Messages json.RawMessage `json:"messages"`
				Tools    json.RawMessage `json:"tools"`
			}
			var want struct {
				Tokens []int32 `json:"tokens"`
			}
			for file, v := range map[string]any{"sample.json": &sample, "tokens_v3.json": &want} {
				data, err := os.ReadFile(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(data, v); err != nil {
					t.Fatalf("%s: %v", file, err)
				}
			}
			text, err := tmpl.RenderJSON(sample.Messages, sample.Tools, RenderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Encode(text, false); !slices.Equal(got, want.Tokens) {
				t.Errorf("rendered %q\nids  %v\nwant %v", text, got, want.Tokens)
			}
		})
	}
}
