package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

// TestReferenceTokenization checks the published reference ids of the
// shared SentencePiece-derived tokenizers (BOS included) and that decoding
// gives the text back.
func TestReferenceTokenization(t *testing.T) {
	for _, dir := range [][]string{{"stories260k", "hf"}, {"llama2-tokenizer"}} {
		t.Run(filepath.Join(dir...), func(t *testing.T) {
			path := testmodels.Shared(t, dir...)
			tok, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			refDir := filepath.Join(path, "reference")
			if dir[0] == "stories260k" {
				refDir = filepath.Join(path, "..", "reference")
			}
			data, err := os.ReadFile(filepath.Join(refDir, "tokenization.json"))
			if err != nil {
				t.Fatal(err)
			}
			var ref struct {
				Cases []struct {
					Text string  `json:"text"`
					IDs  []int32 `json:"ids"`
				} `json:"cases"`
			}
			if err := json.Unmarshal(data, &ref); err != nil {
				t.Fatal(err)
			}
			if len(ref.Cases) == 0 {
				t.Fatal("no reference cases")
			}
			for _, c := range ref.Cases {
				got := tok.Encode(c.Text, true)
				if !slices.Equal(got, c.IDs) {
					t.Errorf("Encode(%q) = %v, want %v", c.Text, got, c.IDs)
				}
				if back := tok.Decode(c.IDs, true); back != c.Text {
					t.Errorf("Decode(%v) = %q, want %q", c.IDs, back, c.Text)
				}
			}
		})
	}
}
