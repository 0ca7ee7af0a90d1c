package tokenizer

import (
	"slices"
	"strings"
	"testing"

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
