package tokenizer

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzChatTemplate renders fuzzed message text through the real templates
// (which must always succeed and carry the text through) and renders
// fuzzed template sources (which may fail, but only with this package's
// errors, never a panic).
func FuzzChatTemplate(f *testing.F) {
	f.Add("Hello", "{{ messages[0].content }}")
	f.Add("<|im_end|>\n{{ x }}", "{% for m in messages %}{{ m.role | upper }}{% endfor %}")
	f.Add("é🙂\u0000\"\\", "{{ messages | tojson(indent=2) }}{{ raise_exception('no') }}")
	f.Add("", "{% set ns = namespace(a=1) %}{% set ns.a = ns.a + 1 %}{{ ns.a }}{{ messages[::-1] }}")
	f.Add(" x ", "{{ messages[0].content.split()|join(',') }}{{ '%s'|format(1) }}{% if %}")
	f.Fuzz(func(t *testing.T, content, src string) {
		if !utf8.ValidString(content) {
			content = strings.ToValidUTF8(content, "")
		}
		msgs, err := json.Marshal([]Message{{Role: "system", Content: "sys"}, {Role: "user", Content: content},
			{Role: "assistant", Content: content}, {Role: "user", Content: "next"}})
		if err != nil {
			t.Skip()
		}
		for _, m := range fuzzTemplates(t) {
			out, err := m.RenderJSON(msgs, nil, RenderOptions{AddGenerationPrompt: true, Now: fixedNow})
			if err != nil {
				t.Fatalf("content %q: %v", content, err)
			}
			if !strings.Contains(out, strings.TrimFunc(content, pyIsSpace)) {
				t.Fatalf("content %q missing from %q", content, out)
			}
		}
		tmpl, err := NewTemplate(map[string]string{"default": src}, map[string]any{"bos_token": "<s>"})
		if err != nil {
			if !errors.Is(err, ErrTemplate) {
				t.Fatalf("NewTemplate(%q): %v is not ErrTemplate", src, err)
			}
			return
		}
		_, err = tmpl.RenderJSON(msgs, json.RawMessage(`[{"type": "function", "function": {"name": "f"}}]`),
			RenderOptions{AddGenerationPrompt: true, Now: fixedNow})
		if err != nil && !errors.Is(err, ErrTemplate) && !errors.Is(err, ErrTemplateException) {
			t.Fatalf("Render(%q): %v", src, err)
		}
	})
}

var fuzzTemplateCache []*Template

// fuzzTemplates loads the Llama 3.1 and Qwen 3 templates once.
func fuzzTemplates(t *testing.T) []*Template {
	if fuzzTemplateCache != nil {
		return fuzzTemplateCache
	}
	for _, dir := range []string{"llama3.1-tokenizer", "qwen3-tokenizer"} {
		src, vars := sharedTemplate(t, dir)
		tmpl, err := NewTemplate(map[string]string{"default": src}, vars)
		if err != nil {
			t.Fatal(err)
		}
		fuzzTemplateCache = append(fuzzTemplateCache, tmpl)
	}
	return fuzzTemplateCache
}
