package tokenizer

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sotasystems/sota/internal/testmodels"
)

// fixedNow is the clock of template tests (the Python side uses the same).
func fixedNow() time.Time { return time.Date(2024, 7, 26, 12, 0, 0, 0, time.UTC) }

// TestChatReferenceRenderings renders the stored reference conversations of
// the shared models byte for byte and tokenizes them to the stored ids.
func TestChatReferenceRenderings(t *testing.T) {
	for _, dir := range []string{"llama3.1-tokenizer", "qwen2.5-tokenizer", "qwen3-tokenizer"} {
		t.Run(dir, func(t *testing.T) {
			path := testmodels.Shared(t, dir)
			tmpl, err := LoadTemplate(path)
			if err != nil {
				t.Fatal(err)
			}
			tok := loadShared(t, dir)
			data, err := os.ReadFile(filepath.Join(path, "reference", "chat_renderings.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ref struct {
				Cases []struct {
					Name                string          `json:"name"`
					Messages            json.RawMessage `json:"messages"`
					Tools               json.RawMessage `json:"tools"`
					AddGenerationPrompt bool            `json:"add_generation_prompt"`
					Rendered            string          `json:"rendered"`
					InputIDs            []int32         `json:"input_ids"`
				} `json:"cases"`
			}
			if err := json.Unmarshal(data, &ref); err != nil {
				t.Fatal(err)
			}
			if len(ref.Cases) == 0 {
				t.Fatal("no reference cases")
			}
			for _, c := range ref.Cases {
				got, err := tmpl.RenderJSON(c.Messages, c.Tools, RenderOptions{AddGenerationPrompt: c.AddGenerationPrompt, Now: fixedNow})
				if err != nil {
					t.Errorf("%s: %v", c.Name, err)
					continue
				}
				if got != c.Rendered {
					t.Errorf("%s: rendered\n%q\nwant\n%q", c.Name, got, c.Rendered)
					continue
				}
				if ids := tok.Encode(got, false); !slices.Equal(ids, c.InputIDs) {
					t.Errorf("%s: ids %v\nwant %v", c.Name, ids, c.InputIDs)
				}
			}
		})
	}
}

// TestChatRaiseException: raise_exception surfaces as a *TemplateError
// wrapping ErrTemplateException, with the template's message.
func TestChatRaiseException(t *testing.T) {
	tmpl, err := NewTemplate(map[string]string{"default": `{% if messages[0].role != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}ok`}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = tmpl.Render([]Message{{Role: "assistant", Content: "hi"}}, nil, RenderOptions{})
	var te *TemplateError
	if !errors.As(err, &te) || !errors.Is(err, ErrTemplateException) || te.Message != "first message must be from the user" {
		t.Fatalf("err = %v, want a TemplateError with the message", err)
	}
	if out, err := tmpl.Render([]Message{{Role: "user", Content: "hi"}}, nil, RenderOptions{}); err != nil || out != "ok" {
		t.Fatalf("Render = %q, %v", out, err)
	}
}

// TestChatErrors: parse errors and render failures are ErrTemplate errors,
// never panics; a missing template is ErrNoChatTemplate.
func TestChatErrors(t *testing.T) {
	if _, err := NewTemplate(map[string]string{"default": "{% if %}"}, nil); !errors.Is(err, ErrTemplate) {
		t.Errorf("bad syntax: err = %v", err)
	}
	for _, src := range []string{"{{ messages | nosuchfilter }}", "{{ messages[0].content.nosuchmethod() }}"} {
		tmpl, err := NewTemplate(map[string]string{"default": src}, nil)
		if err != nil {
			continue
		}
		if _, err := tmpl.Render([]Message{{Role: "user", Content: "x"}}, nil, RenderOptions{}); err == nil {
			t.Errorf("%s: no error", src)
		} else if errors.Is(err, ErrTemplateException) {
			t.Errorf("%s: %v is not a template failure", src, err)
		}
	}
	if _, err := LoadTemplate(t.TempDir()); !errors.Is(err, ErrNoChatTemplate) {
		t.Errorf("empty dir: err = %v", err)
	}
	tmpl, err := NewTemplate(map[string]string{"default": "x"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmpl.Render(nil, nil, RenderOptions{Name: "tool_use"}); !errors.Is(err, ErrNoChatTemplate) {
		t.Errorf("unknown name: err = %v", err)
	}
}

// TestChatTemplateSelection: a list of named templates picks "tool_use"
// when tools are given, else "default", like transformers.
func TestChatTemplateSelection(t *testing.T) {
	dir := t.TempDir()
	cfg := `{"bos_token": {"content": "<s>"}, "eos_token": "</s>", "chat_template": [
		{"name": "default", "template": "D{{ bos_token }}{{ eos_token }}"},
		{"name": "tool_use", "template": "T{{ tools | length }}"}]}`
	if err := os.WriteFile(filepath.Join(dir, "tokenizer_config.json"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	tmpl, err := LoadTemplate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tmpl.Names(), ","); got != "default,tool_use" {
		t.Errorf("Names = %s", got)
	}
	tests := []struct {
		tools []any
		want  string
	}{{nil, "D<s></s>"}, {[]any{map[string]any{"type": "function"}}, "T1"}}
	for _, tt := range tests {
		if got, err := tmpl.Render(nil, tt.tools, RenderOptions{}); err != nil || got != tt.want {
			t.Errorf("tools %v: %q, %v; want %q", tt.tools, got, err, tt.want)
		}
	}
}
