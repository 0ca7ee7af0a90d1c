package tokenizer

import (
	"slices"
	"testing"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// The expected pieces were produced by the reference library's Split
// pre-tokenizer (tokenizers 0.23.3, Oniguruma) with each pattern.
var scanCases = map[string][]struct {
	text string
	want []string
}{
	patternLlama3: {
		{"Hello world", []string{"Hello", " world"}},
		{"DON'T we'RE x'Ll", []string{"DON", "'T", " we", "'RE", " x", "'Ll"}},
		{"12345 abc", []string{"123", "45", " abc"}},
		{"  \n\n  x", []string{"  \n\n", " ", " x"}},
		{"a  b   ", []string{"a", " ", " b", "   "}},
		{"\tword ?!\r\n\r\nnext", []string{"\tword", " ?!\r\n\r\n", "next"}},
		{" \u00a0x", []string{" ", "\u00a0x"}},
		{"日本語 テスト123", []string{"日本語", " テスト", "123"}},
		{"x\u3000\u3000y", []string{"x", "\u3000", "\u3000y"}},
		{"'' 's'S", []string{"''", " '", "s", "'S"}},
		{"a\n \nb", []string{"a", "\n \n", "b"}},
		{"$$$\n\n", []string{"$$$\n\n"}},
		{" ...\n", []string{" ...\n"}},
		{"1\ufe0f⃣ 👍🏽", []string{"1", "\ufe0f⃣", " 👍🏽"}},
		{"e\u0301\u0301x", []string{"e", "\u0301\u0301", "x"}},
		{"\U00010d40\U00010d4a z", []string{"\U00010d40", "\U00010d4a", " z"}},
		{"x \u0085\u2028 y", []string{"x", " \u0085\u2028", " y"}},
		{"'ſ 'K", []string{"'ſ", " '", "K"}},
		{"", []string{}},
		{" ", []string{" "}},
		{"\n", []string{"\n"}},
	},
	patternQwen2: {
		{"Hello world", []string{"Hello", " world"}},
		{"DON'T we'RE x'Ll", []string{"DON", "'T", " we", "'RE", " x", "'Ll"}},
		{"12345 abc", []string{"1", "2", "3", "4", "5", " abc"}},
		{"  \n\n  x", []string{"  \n\n", " ", " x"}},
		{"a  b   ", []string{"a", " ", " b", "   "}},
		{"\tword ?!\r\n\r\nnext", []string{"\tword", " ?!\r\n\r\n", "next"}},
		{" \u00a0x", []string{" ", "\u00a0x"}},
		{"日本語 テスト123", []string{"日本語", " テスト", "1", "2", "3"}},
		{"x\u3000\u3000y", []string{"x", "\u3000", "\u3000y"}},
		{"'' 's'S", []string{"''", " '", "s", "'S"}},
		{"a\n \nb", []string{"a", "\n \n", "b"}},
		{"$$$\n\n", []string{"$$$\n\n"}},
		{" ...\n", []string{" ...\n"}},
		{"1\ufe0f⃣ 👍🏽", []string{"1", "\ufe0f⃣", " 👍🏽"}},
		{"e\u0301\u0301x", []string{"e", "\u0301\u0301", "x"}},
		{"\U00010d40\U00010d4a z", []string{"\U00010d40", "\U00010d4a", " z"}},
		{"x \u0085\u2028 y", []string{"x", " \u0085\u2028", " y"}},
		{"'ſ 'K", []string{"'ſ", " '", "K"}},
		{"", []string{}},
		{" ", []string{" "}},
		{"\n", []string{"\n"}},
	},
	patternGPT2: {
		{"Hello world", []string{"Hello", " world"}},
		{"DON'T we'RE x'Ll", []string{"DON", "'", "T", " we", "'", "RE", " x", "'", "Ll"}},
		{"12345 abc", []string{"12345", " abc"}},
		{"  \n\n  x", []string{"  \n\n ", " x"}},
		{"a  b   ", []string{"a", " ", " b", "   "}},
		{"\tword ?!\r\n\r\nnext", []string{"\t", "word", " ?!", "\r\n\r", "\n", "next"}},
		{" \u00a0x", []string{" ", "\u00a0", "x"}},
		{"日本語 テスト123", []string{"日本語", " テスト", "123"}},
		{"x\u3000\u3000y", []string{"x", "\u3000", "\u3000", "y"}},
		{"'' 's'S", []string{"''", " '", "s", "'", "S"}},
		{"a\n \nb", []string{"a", "\n ", "\n", "b"}},
		{"$$$\n\n", []string{"$$$", "\n\n"}},
		{" ...\n", []string{" ...", "\n"}},
		{"1\ufe0f⃣ 👍🏽", []string{"1", "\ufe0f⃣", " 👍🏽"}},
		{"e\u0301\u0301x", []string{"e", "\u0301\u0301", "x"}},
		{"\U00010d40\U00010d4a z", []string{"\U00010d40", "\U00010d4a", " z"}},
		{"x \u0085\u2028 y", []string{"x", " \u0085\u2028", " y"}},
		{"'ſ 'K", []string{"'", "ſ", " '", "K"}},
		{"", []string{}},
		{" ", []string{" "}},
		{"\n", []string{"\n"}},
	},
}

func TestScanners(t *testing.T) {
	for pattern, cases := range scanCases {
		scan, ok := knownPatterns[pattern]
		if !ok {
			t.Fatalf("pattern %q not recognised", pattern)
		}
		for _, c := range cases {
			got := []string{}
			for i := 0; i < len(c.text); {
				e := scan(c.text, i)
				if e <= i || e > len(c.text) {
					t.Fatalf("scan(%q, %d) = %d", c.text, i, e)
				}
				got = append(got, c.text[i:e])
				i = e
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("%.20s… on %q = %q, want %q", pattern, c.text, got, c.want)
			}
		}
	}
}

// TestRuneClassTables checks the cached class table against the slow path
// and that the classes partition the code points as the patterns assume.
func TestRuneClassTables(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r < 0xE000 {
			continue
		}
		if got, want := runeClass(r), slowClass(r); got != want {
			t.Fatalf("runeClass(%U) = %d, slowClass = %d", r, got, want)
		}
	}
	tests := []struct {
		r    rune
		want uint8
	}{
		{'a', classLetter}, {'Z', classLetter}, {'7', classNumber}, {' ', classSpace}, {'\u00a0', classSpace},
		{'\u3000', classSpace}, {'\u0085', classSpace}, {'\u200b', classOther}, {'_', classOther},
		{'\u2167', classNumber}, {'\u00b2', classNumber}, {'\u0301', classOther}, {'\U000105c0', classLetter},
		{'\U00010d40', classNumber}, {'\U0001F600', classOther}, {'\u017f', classLetter},
	}
	for _, tt := range tests {
		if got := runeClass(tt.r); got != tt.want {
			t.Errorf("runeClass(%U) = %d, want %d", tt.r, got, tt.want)
		}
	}
}

// TestUnicodeVersions guards the hand-derived tables: letters16/numbers16
// (unicode.go) add what Unicode 16 has over Go's unicode package, and
// opaqueRunes (normalizer.go) lists what x/text's norm tables know but the
// reference normalizer does not. Both were derived against Unicode 15.0.0
// by comparing every code point with the Python tokenizers package (its
// Split with \p{L}/\p{N} and its NFD/NFKD normalizers); when Go's tables
// change they must be derived again.
func TestUnicodeVersions(t *testing.T) {
	if unicode.Version != "15.0.0" || norm.Version != "15.0.0" {
		t.Errorf("Go's Unicode tables are %s (unicode) and %s (norm), the adjustments were derived for 15.0.0", unicode.Version, norm.Version)
	}
}
