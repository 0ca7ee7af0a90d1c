package tokenizer

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

// loadSPMFile loads a SentencePiece model file on its own.
func loadSPMFile(t testing.TB, path string) *Tokenizer {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := parseSentencePiece(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return tok
}

// spmModels are the SentencePiece files in the shared models.
var spmModels = [][]string{
	{"llama2-tokenizer", "tokenizer.model"},
	{"mistral-tokenizers", "v1", "tokenizer.model"},
	{"mistral-tokenizers", "v2", "tokenizer.model.v2"},
	{"mistral-tokenizers", "v3", "tokenizer.model.v3"},
}

// TestDifferentialSPM compares encoding from tokenizer.model with
// SentencePiece itself (the oracle cuts control pieces out of the text
// first, as the Hugging Face conversion does) on the generated corpus, and
// decoding with SentencePiece's decode where the ids hold no <unk>.
func TestDifferentialSPM(t *testing.T) {
	if testing.Short() {
		t.Skip("differential test: not in -short")
	}
	corpus := diffCorpus(diffStrings)
	for _, file := range spmModels {
		t.Run(filepath.Join(file...), func(t *testing.T) {
			path := testmodels.Shared(t, file...)
			tok := loadSPMFile(t, path)
			reqs := make([]any, len(corpus))
			for i, s := range corpus {
				reqs[i] = map[string]string{"text": s}
			}
			answers := runOracle(t, reqs, "spm", path)
			rep := &diffReport{t: t}
			decoded := 0
			for i, s := range corpus {
				var want struct {
					IDs     []int32 `json:"ids"`
					Decoded string  `json:"decoded"`
				}
				if err := json.Unmarshal(answers[i], &want); err != nil {
					t.Fatal(err)
				}
				got := tok.Encode(s, false)
				if !slices.Equal(got, want.IDs) {
					rep.fail("Encode(%q)\n got %v\nwant %v", s, got, want.IDs)
					continue
				}
				if !slices.Contains(got, tok.model.unkID) {
					decoded++
					if d := tok.Decode(got, true); d != want.Decoded {
						rep.fail("Decode(Encode(%q), true) = %q, sentencepiece %q", s, d, want.Decoded)
					}
				}
				if st, d := streamDecode(t, tok, got, true), tok.Decode(got, true); st != d {
					rep.fail("stream of Encode(%q) = %q, Decode = %q", s, st, d)
				}
			}
			t.Logf("%d strings encoded, %d decoded, compared with sentencepiece: %d differences", len(corpus), decoded, rep.fails)
		})
	}
}

// TestSPMMatchesTokenizerJSON: where a folder has both files, the
// tokenizer built from tokenizer.model behaves exactly like the one from
// tokenizer.json (which TestDifferentialHF compares with the reference) on
// text without special tokens.
func TestSPMMatchesTokenizerJSON(t *testing.T) {
	corpus := diffCorpus(diffStrings)
	if testing.Short() {
		corpus = corpus[:500]
	}
	for _, dir := range [][]string{{"llama2-tokenizer"}, {"mistral-tokenizers", "v1"}} {
		t.Run(filepath.Join(dir...), func(t *testing.T) {
			fromJSON := loadShared(t, dir...)
			fromSPM := loadSPMFile(t, filepath.Join(testmodels.Shared(t, dir...), "tokenizer.model"))
			rep := &diffReport{t: t}
			for _, s := range corpus {
				if strings.Contains(s, "<s>") || strings.Contains(s, "</s>") || strings.Contains(s, "<unk>") {
					// tokenizer.json (legacy) prefixes every stretch between
					// special tokens; the model file only the first.
					continue
				}
				for _, special := range []bool{false, true} {
					a, b := fromSPM.Encode(s, special), fromJSON.Encode(s, special)
					if !slices.Equal(a, b) {
						rep.fail("Encode(%q, %v): model %v, json %v", s, special, a, b)
					}
					for _, skip := range []bool{false, true} {
						if x, y := fromSPM.Decode(b, skip), fromJSON.Decode(b, skip); x != y {
							rep.fail("Decode(%v, %v): model %q, json %q", b, skip, x, y)
						}
					}
				}
			}
			if fromSPM.VocabSize() != fromJSON.VocabSize() {
				t.Errorf("vocab size: model %d, json %d", fromSPM.VocabSize(), fromJSON.VocabSize())
			}
		})
	}
}
