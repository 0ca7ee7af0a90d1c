package tokenizer

import (
	"strings"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

// TestPrime: a Decoder primed with the prompt streams a continuation exactly
// as the prompt+continuation decodes after the prompt's own text — including
// SentencePiece's leading space of the first generated token, and characters
// whose bytes straddle the prompt/continuation boundary.
func TestPrime(t *testing.T) {
	tokenizers := []string{"stories260k/hf", "llama2-tokenizer", "mistral-tokenizers/v1", "llama3.1-tokenizer", "qwen2.5-tokenizer"}
	texts := []struct{ prompt, continuation string }{
		{"Once upon a time, there was a little dog named", " Max. Max loved to play."},
		{"Hello", " world"},
		{"Hello ", "world"},
		{"line one\n", "line two"},
		{"東京", "と大阪 🙂 café"},
		{"", "Start of text"},
	}
	for _, name := range tokenizers {
		tok, err := Load(testmodels.Shared(t, strings.Split(name, "/")...))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range texts {
			all := tok.Encode(c.prompt+c.continuation, true)
			prompt := tok.Encode(c.prompt, true)
			// Split where the prompt's ids stop agreeing with the whole text's.
			n := 0
			for n < len(prompt) && n < len(all) && prompt[n] == all[n] {
				n++
			}
			want := strings.TrimPrefix(tok.Decode(all, true), tok.Decode(all[:n], true))
			for _, skip := range []bool{true, false} {
				if !skip {
					want = strings.TrimPrefix(tok.Decode(all, false), tok.Decode(all[:n], false))
				}
				d := tok.NewDecoder(skip)
				d.Prime(all[:n])
				var got strings.Builder
				for _, id := range all[n:] {
					got.WriteString(d.Add(id))
				}
				got.WriteString(d.Flush())
				if got.String() != want {
					t.Errorf("%s %q|%q skip=%v: streamed %q, want %q", name, c.prompt, c.continuation, skip, got.String(), want)
				}
			}
		}
	}
}
