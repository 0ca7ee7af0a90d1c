package tokenizer

import (
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

// diffStrings is how many corpus strings each tokenizer is compared on.
const diffStrings = 5000

// diffDecodeSeqs is how many random id sequences are decoded by both sides.
const diffDecodeSeqs = 500

// hfAnswer is the oracle's answer in hf mode.
type hfAnswer struct {
	IDs         []int32 `json:"ids"`
	IDsSpecial  []int32 `json:"ids_special"`
	Decoded     string  `json:"decoded"`
	DecodedSkip string  `json:"decoded_skip"`
}

// diffReport counts mismatches and reports the first few.
type diffReport struct {
	t     *testing.T
	fails int
}

func (r *diffReport) fail(format string, args ...any) {
	r.t.Helper()
	if r.fails++; r.fails <= 15 {
		r.t.Errorf(format, args...)
	}
}

// randomIDs makes id sequences that stress decoding: byte tokens out of
// order, special tokens, ids past the vocabulary.
func randomIDs(tok *Tokenizer, n int) [][]int32 {
	r := rand.New(rand.NewPCG(7, uint64(tok.VocabSize())))
	size := int32(tok.VocabSize())
	var specials []int32
	for id := range size {
		if tok.IsSpecial(id) {
			specials = append(specials, id)
		}
	}
	out := make([][]int32, n)
	for i := range out {
		for k := 1 + r.IntN(16); k > 0; k-- {
			var id int32
			switch r.IntN(6) {
			case 0:
				id = r.Int32N(min(size, 300)) // byte tokens live low in SentencePiece vocabularies
			case 1:
				if len(specials) > 0 {
					id = specials[r.IntN(len(specials))]
				}
			case 2:
				id = size - 1 - r.Int32N(min(size, 400))
			default:
				id = r.Int32N(size)
			}
			out[i] = append(out[i], id)
		}
	}
	return out
}

// TestDifferentialHF compares Encode and Decode with the Python tokenizers
// package on the generated corpus, for every tokenizer.json in the shared
// models: zero differences allowed. Streaming every encoding through a
// Decoder must give Decode's text.
func TestDifferentialHF(t *testing.T) {
	if testing.Short() {
		t.Skip("differential test: not in -short")
	}
	corpus := diffCorpus(diffStrings)
	for _, dir := range [][]string{
		{"llama3.1-tokenizer"}, {"qwen2.5-tokenizer"}, {"qwen3-tokenizer"}, {"llama2-tokenizer"},
		{"mistral-tokenizers", "v1"}, {"stories260k", "hf"},
	} {
		t.Run(filepath.Join(dir...), func(t *testing.T) {
			path := testmodels.Shared(t, dir...)
			tok := loadShared(t, dir...)
			seqs := randomIDs(tok, diffDecodeSeqs)
			reqs := make([]any, 0, len(corpus)+len(seqs))
			for _, s := range corpus {
				reqs = append(reqs, map[string]string{"text": s})
			}
			for _, ids := range seqs {
				reqs = append(reqs, map[string][]int32{"ids": ids})
			}
			answers := runOracle(t, reqs, "hf", filepath.Join(path, "tokenizer.json"))
			rep := &diffReport{t: t}
			for i, s := range corpus {
				var want hfAnswer
				if err := json.Unmarshal(answers[i], &want); err != nil {
					t.Fatal(err)
				}
				if got := tok.Encode(s, false); !slices.Equal(got, want.IDs) {
					rep.fail("Encode(%q, false)\n got %v\nwant %v", s, got, want.IDs)
				}
				got := tok.Encode(s, true)
				if !slices.Equal(got, want.IDsSpecial) {
					rep.fail("Encode(%q, true)\n got %v\nwant %v", s, got, want.IDsSpecial)
				}
				if d := tok.Decode(want.IDsSpecial, false); d != want.Decoded {
					rep.fail("Decode(Encode(%q), false) = %q, want %q", s, d, want.Decoded)
				}
				if d := tok.Decode(want.IDsSpecial, true); d != want.DecodedSkip {
					rep.fail("Decode(Encode(%q), true) = %q, want %q", s, d, want.DecodedSkip)
				}
				for _, skip := range []bool{false, true} {
					if st, d := streamDecode(t, tok, want.IDsSpecial, skip), tok.Decode(want.IDsSpecial, skip); st != d {
						rep.fail("stream of Encode(%q) skip=%v = %q, Decode = %q", s, skip, st, d)
					}
				}
			}
			for i, ids := range seqs {
				var want hfAnswer
				if err := json.Unmarshal(answers[len(corpus)+i], &want); err != nil {
					t.Fatal(err)
				}
				if d := tok.Decode(ids, false); d != want.Decoded {
					rep.fail("Decode(%v, false) = %q, want %q", ids, d, want.Decoded)
				}
				if d := tok.Decode(ids, true); d != want.DecodedSkip {
					rep.fail("Decode(%v, true) = %q, want %q", ids, d, want.DecodedSkip)
				}
			}
			t.Logf("%d strings, %d id sequences compared, %d differences", len(corpus), len(seqs), rep.fails)
		})
	}
}
