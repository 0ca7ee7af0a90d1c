package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/sotasystems/sota/internal/testmodels"
)

func TestAppendLossy(t *testing.T) {
	// Expected values follow the Unicode "maximal subpart" practice that
	// Rust's from_utf8_lossy (and Python's "replace") implement.
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain ascii", "plain ascii"},
		{"\xE2\x82", "\uFFFD"},
		{"\xE2\x82A", "\uFFFDA"},
		{"\xF0\x9F\x98", "\uFFFD"},
		{"\xC0\x80", "\uFFFD\uFFFD"},
		{"\xED\xA0\x80", "\uFFFD\uFFFD\uFFFD"},
		{"\xF4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\xFF", "\uFFFD"},
		{"\xE0\x80\x80", "\uFFFD\uFFFD\uFFFD"},
		{"\xF0\x9F\x98\x80\x80", "😀\uFFFD"},
		{"a\xF1\x80\x80\xE1\x80\xC2b", "a\uFFFD\uFFFD\uFFFDb"},
		{"\uFFFD", "\uFFFD"},
	}
	for _, tt := range tests {
		if got := string(appendLossy(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("appendLossy(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestByteLevelAlphabet(t *testing.T) {
	seen := map[rune]bool{}
	for b := 0; b < 256; b++ {
		r := byteToRune[b]
		if seen[r] {
			t.Fatalf("rune %U used twice", r)
		}
		seen[r] = true
		if runeToByte[r] != byte(b) {
			t.Fatalf("round trip of byte %d failed", b)
		}
	}
	for _, tt := range []struct {
		b byte
		r rune
	}{{' ', 'Ġ'}, {'\n', 'Ċ'}, {'a', 'a'}, {0, 'Ā'}, {0xAD, 'Ń'}, {0xFF, 'ÿ'}} {
		if byteToRune[tt.b] != tt.r {
			t.Errorf("byteToRune[%#x] = %q, want %q", tt.b, byteToRune[tt.b], tt.r)
		}
	}
}

func TestApplyBehavior(t *testing.T) {
	// "a-b--c" split on "-": spans a | - | b | - | - | c
	base := func() []span {
		return []span{{0, 1, false}, {1, 2, true}, {2, 3, false}, {3, 4, true}, {4, 5, true}, {5, 6, false}}
	}
	pieces := func(spans []span) []string {
		var out []string
		for _, s := range spans {
			if s.end > s.start {
				out = append(out, "a-b--c"[s.start:s.end])
			}
		}
		return out
	}
	tests := []struct {
		behavior int
		want     []string
	}{
		{behaviorRemoved, []string{"a", "b", "c"}},
		{behaviorIsolated, []string{"a", "-", "b", "-", "-", "c"}},
		{behaviorMergedWithPrevious, []string{"a-", "b-", "-", "c"}},
		{behaviorMergedWithNext, []string{"a", "-b", "-", "-c"}},
		{behaviorContiguous, []string{"a", "-", "b", "--", "c"}},
	}
	for _, tt := range tests {
		if got := pieces(applyBehavior(base(), tt.behavior)); !slices.Equal(got, tt.want) {
			t.Errorf("behavior %d: %q, want %q", tt.behavior, got, tt.want)
		}
	}
}

func TestMatcherLeftmostLongest(t *testing.T) {
	toks := []*addedToken{{ID: 10, Content: "<a>"}, {ID: 11, Content: "<a><b>"}, {ID: 12, Content: "b>"}, {ID: 13, Content: "é"}}
	m := newMatcher([]string{"<a>", "<a><b>", "b>", "é"}, toks)
	tests := []struct {
		in   string
		want []segment
	}{
		{"x<a><b>y", []segment{{"x", -1, true}, {"<a><b>", 11, false}, {"y", -1, false}}},
		{"<a><b", []segment{{"<a>", 10, true}, {"<b", -1, false}}},
		{"<a>b>é", []segment{{"<a>", 10, true}, {"b>", 12, false}, {"é", 13, false}}},
		{"", nil},
		{"plain", []segment{{"plain", -1, true}}},
	}
	for _, tt := range tests {
		if got := m.split(nil, tt.in, true); !slices.Equal(got, tt.want) {
			t.Errorf("split(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

// TestDecoderLlama2Spaces checks the SentencePiece leading space mid-stream
// and held-back byte tokens.
func TestDecoderLlama2Spaces(t *testing.T) {
	tok := loadShared(t, "llama2-tokenizer")
	tests := []struct {
		ids  []int32
		want []string // per Add, then Flush
	}{
		// ▁Hello ▁world
		{[]int32{15043, 3186}, []string{"Hello", " world", ""}},
		// <s> ▁Hello: BOS skipped, no leading space
		{[]int32{1, 15043}, []string{"", "Hello", ""}},
		// ▁ ▁Hello: the first space is stripped like Decode does
		{[]int32{29871, 15043}, []string{"", " Hello", ""}},
		// 一 as three byte tokens: nothing until the character is complete
		{[]int32{0xE4 + 3, 0xB8 + 3, 0x80 + 3, 3186}, []string{"", "", "一", " world", ""}},
		// a dangling byte is only flushed at the end
		{[]int32{15043, 0xE4 + 3}, []string{"Hello", "", "\uFFFD"}},
	}
	for _, tt := range tests {
		d := tok.NewDecoder(true)
		var got []string
		for _, id := range tt.ids {
			got = append(got, d.Add(id))
		}
		got = append(got, d.Flush())
		if !slices.Equal(got, tt.want) {
			t.Errorf("ids %v: chunks %q, want %q", tt.ids, got, tt.want)
		}
		if all := strings.Join(got, ""); all != tok.Decode(tt.ids, true) {
			t.Errorf("ids %v: stream %q != Decode %q", tt.ids, all, tok.Decode(tt.ids, true))
		}
	}
}

// TestDecoderByteLevelSplitRune streams an emoji split across byte tokens.
func TestDecoderByteLevelSplitRune(t *testing.T) {
	tok := loadShared(t, "llama3.1-tokenizer")
	var ids []int32
	for _, b := range []byte("a😀b") {
		id, ok := tok.TokenID(string(byteToRune[b]))
		if !ok {
			t.Fatalf("no token for byte %#x", b)
		}
		ids = append(ids, id)
	}
	d := tok.NewDecoder(false)
	var got []string
	for _, id := range ids {
		got = append(got, d.Add(id))
	}
	got = append(got, d.Flush())
	want := []string{"a", "", "", "", "😀", "b", ""}
	if !slices.Equal(got, want) {
		t.Errorf("chunks %q, want %q", got, want)
	}
}

func loadShared(t *testing.T, dir ...string) *Tokenizer {
	t.Helper()
	name := strings.Join(dir, "/")
	loadedMu.Lock()
	defer loadedMu.Unlock()
	if tok, ok := loaded["shared:"+name]; ok {
		return tok
	}
	tok, err := Load(testmodels.Shared(t, dir...))
	if err != nil {
		t.Fatal(err)
	}
	loaded["shared:"+name] = tok
	return tok
}

func TestSharedAccessors(t *testing.T) {
	tests := []struct {
		dir       []string
		bos       int32
		hasBOS    bool
		addsBOS   bool
		eos       []int32
		vocabSize int
	}{
		{[]string{"stories260k", "hf"}, 1, true, true, []int32{2}, 512},
		{[]string{"llama2-tokenizer"}, 1, true, true, []int32{2}, 32000},
		{[]string{"mistral-tokenizers", "v1"}, 1, true, true, []int32{2}, 32000},
		{[]string{"llama3.1-tokenizer"}, 128000, true, true, []int32{128009, 128001, 128008}, 128256},
		{[]string{"qwen2.5-tokenizer"}, 0, false, false, []int32{151645}, 151665},
		{[]string{"qwen3-tokenizer"}, 0, false, false, []int32{151645}, 151669},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.dir, "/"), func(t *testing.T) {
			tok := loadShared(t, tt.dir...)
			if bos, ok := tok.BOS(); bos != tt.bos || ok != tt.hasBOS {
				t.Errorf("BOS() = %d, %v; want %d, %v", bos, ok, tt.bos, tt.hasBOS)
			}
			if got := tok.AddsBOS(); got != tt.addsBOS {
				t.Errorf("AddsBOS() = %v, want %v", got, tt.addsBOS)
			}
			if got := tok.EOS(); !slices.Equal(got, tt.eos) {
				t.Errorf("EOS() = %v, want %v", got, tt.eos)
			}
			if got := tok.VocabSize(); got != tt.vocabSize {
				t.Errorf("VocabSize() = %d, want %d", got, tt.vocabSize)
			}
			for _, id := range tt.eos {
				s, ok := tok.TokenString(id)
				if !ok || !tok.IsSpecial(id) {
					t.Errorf("EOS id %d: TokenString %q, %v; special %v", id, s, ok, tok.IsSpecial(id))
				}
				if back, ok := tok.TokenID(s); !ok || back != id {
					t.Errorf("TokenID(%q) = %d, %v; want %d", s, back, ok, id)
				}
			}
		})
	}
}

// TestUnknownCharacters checks unk_token, fuse_unk and byte_fallback on a
// char-level model (expected ids checked against the reference library).
func TestUnknownCharacters(t *testing.T) {
	const fallback = `{"type": "BPE", "unk_token": "<unk>", "byte_fallback": true, "vocab": {"a": 0, "<unk>": 1, "<0x78>": 2}, "merges": []}`
	tests := []struct {
		name, model, text string
		want              []int32
	}{
		{"no unk", `{"type": "BPE", "vocab": {"a": 0, "<unk>": 1}, "merges": []}`, "axxa", []int32{0, 0}},
		{"unk", `{"type": "BPE", "unk_token": "<unk>", "vocab": {"a": 0, "<unk>": 1}, "merges": []}`, "axxa", []int32{0, 1, 1, 0}},
		{"fused unk", `{"type": "BPE", "unk_token": "<unk>", "fuse_unk": true, "vocab": {"a": 0, "<unk>": 1}, "merges": []}`, "axxa", []int32{0, 1, 0}},
		{"byte fallback", fallback, "axxa", []int32{0, 2, 2, 0}},
		// The reference adds byte tokens before a pending unknown token.
		{"byte fallback after unk", fallback, "ayxa", []int32{0, 2, 1, 0}},
		{"byte fallback between unks", fallback, "ayyxa", []int32{0, 1, 2, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := `{"added_tokens": [], "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null, "model": ` + tt.model + `}`
			tok, err := LoadFS(fstest.MapFS{"tokenizer.json": {Data: []byte(raw)}})
			if err != nil {
				t.Fatal(err)
			}
			if got := tok.Encode(tt.text, true); !slices.Equal(got, tt.want) {
				t.Errorf("Encode(%q) = %v, want %v", tt.text, got, tt.want)
			}
		})
	}
}
