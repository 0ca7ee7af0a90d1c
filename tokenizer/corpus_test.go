package tokenizer

import (
	"math/rand/v2"
	"strings"
	"unicode/utf8"
)

// The differential corpus: strings generated from a fixed seed in ten
// families, so every run (and the Python side) sees the same inputs.

var (
	corpusWords = strings.Fields(`the quick brown fox jumps over lazy dog Once upon a time there was little girl
		named Lily she loved to play outside in park DON'T we'RE I'm it's they'll you've he'd o'clock rock'n'roll
		HELLO World CamelCase snake_case kebab-case naïve café résumé Zürich façade jalapeño coöperate`)
	corpusCode = []string{
		"def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) {", "}", "{\"key\": [1, 2, null]}",
		"<div class=\"a\">", "</div>", "SELECT * FROM t WHERE id = 42;", "x => x ** 2", "// comment",
		"#include <stdio.h>", "if err != nil {\n\treturn err\n}", "$ ls -la | grep '^d'", "a_b.c->d", "::",
		"std::vector<int>", "f\"{x!r}\"", "'''doc'''", "\t\t", "    ", "0x1F", "1e-10", "&&", "||", "!=", "=>",
	}
	corpusSpecials = []string{
		"<s>", "</s>", "<unk>", "<pad>", "[INST]", "[/INST]", "[TOOL_CALLS]", "[AVAILABLE_TOOLS]",
		"[/AVAILABLE_TOOLS]", "[TOOL_RESULTS]", "[/TOOL_RESULTS]", "[control_8]", "<|begin_of_text|>",
		"<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|eom_id|>",
		"<|python_tag|>", "<|reserved_special_token_7|>", "<|im_start|>", "<|im_end|>", "<|endoftext|>",
		"<think>", "</think>", "<tool_call>", "</tool_call>", "<tool_response>", "<|fim_prefix|>",
		"<|vision_pad|>", "<|im_start", "im_end|>", "<s", "/s>", "[INST", "<|eot_id", "<<s>>", "<0x41>",
	}
	corpusByteLike = []string{
		"<0x00>", "<0xE4><0xB8><0x80>", "<0xFF>", "<0x>", "<0xZZ>", "\\xff\\xfe", "\\u0000", "Ã©", "Ã¯Â»Â¿",
		"â€™", "\ufffd", "\ufeff", "\x00", "\x1b[31m", "\x7f", "\u0080\u009f", "\u200b", "\u200d", "\u2028",
		"▁", "▁▁", "Ġ", "Ċ", "ĉ", "Ā", "\U000f0000", "\ue000", "\uffff", "\U0010fffd", "%E4%B8%80", "&#x4e00;",
	}
	corpusEmoji = []string{
		"👍", "👍🏽", "🙂", "😀", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👩🏽‍💻", "🇺🇸", "🇯🇵", "1️⃣", "❤️", "🫠", "🧑‍🤝‍🧑", "✊🏿", "🐕‍🦺",
	}
	corpusSpaces = []string{
		" ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", " \n", "\n ", "\u00a0", "\u3000", "\u2003", "\u2009",
		"\u0085", "\u000b", "\u000c", "\u2029", "\u202f",
	}
)

// corpusCJK draws from Han, Hiragana, Katakana and Hangul.
func corpusCJK(r *rand.Rand) rune {
	ranges := [][2]rune{{0x4E00, 0x9FFF}, {0x3041, 0x3096}, {0x30A1, 0x30FA}, {0xAC00, 0xD7A3}, {0x3400, 0x4DBF}, {0x20000, 0x2A6DF}}
	rg := ranges[r.IntN(len(ranges))]
	return rg[0] + r.Int32N(rg[1]-rg[0]+1)
}

// corpusMark returns a combining mark, mostly from the common block.
func corpusMark(r *rand.Rand) rune {
	marks := [][2]rune{{0x0300, 0x036F}, {0x0483, 0x0489}, {0x0591, 0x05BD}, {0x0900, 0x0903}, {0x093A, 0x094F},
		{0x1AB0, 0x1ACE}, {0x1DC0, 0x1DFF}, {0x20D0, 0x20F0}, {0xFE20, 0xFE2F}, {0x1E130, 0x1E136}}
	rg := marks[r.IntN(len(marks))]
	return rg[0] + r.Int32N(rg[1]-rg[0]+1)
}

// corpusAnyRune is any Unicode scalar value, weighted towards the BMP.
func corpusAnyRune(r *rand.Rand) rune {
	for {
		var c rune
		switch r.IntN(4) {
		case 0:
			c = r.Int32N(0x80)
		case 1, 2:
			c = r.Int32N(0x10000)
		default:
			c = r.Int32N(0x110000)
		}
		if utf8.ValidRune(c) {
			return c
		}
	}
}

func pick(r *rand.Rand, xs []string) string { return xs[r.IntN(len(xs))] }

// corpusFamilies builds one string of each family.
var corpusFamilies = []struct {
	name string
	gen  func(r *rand.Rand) string
}{
	{"ascii", func(r *rand.Rand) string {
		var b strings.Builder
		for n := 1 + r.IntN(12); n > 0; n-- {
			if r.IntN(5) == 0 {
				b.WriteByte(byte(0x20 + r.IntN(0x5f)))
				continue
			}
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(pick(r, corpusWords))
		}
		return b.String()
	}},
	{"whitespace", func(r *rand.Rand) string {
		var b strings.Builder
		for n := 1 + r.IntN(8); n > 0; n-- {
			for k := r.IntN(4); k >= 0; k-- {
				b.WriteString(pick(r, corpusSpaces))
			}
			if r.IntN(3) > 0 {
				b.WriteString(pick(r, corpusWords))
			}
		}
		return b.String()
	}},
	{"digits", func(r *rand.Rand) string {
		var b strings.Builder
		for n := 1 + r.IntN(5); n > 0; n-- {
			for k := 1 + r.IntN(14); k > 0; k-- {
				b.WriteByte(byte('0' + r.IntN(10)))
			}
			b.WriteString(pick(r, []string{"", " ", ".", ",", "-", "x", "e", "%", "\n", "٣", "２", "²"}))
		}
		return b.String()
	}},
	{"code", func(r *rand.Rand) string {
		var b strings.Builder
		for n := 1 + r.IntN(6); n > 0; n-- {
			b.WriteString(pick(r, corpusCode))
			if r.IntN(3) == 0 {
				b.WriteString(pick(r, corpusSpaces))
			}
		}
		return b.String()
	}},
	{"cjk", func(r *rand.Rand) string {
		var b strings.Builder
		for n := 1 + r.IntN(20); n > 0; n-- {
			switch r.IntN(8) {
			case 0:
				b.WriteString(pick(r, []string{"。", "、", "，", "！", " ", "ー", "「", "」"}))
			case 1:
				b.WriteString(pick(r, corpusWords))
			default:
				b.WriteRune(corpusCJK(r))
			}
		}
		return b.String()
	}},
	{"emoji", func(r *rand.Rand) string {
		var b strings.Builder
		for n := 1 + r.IntN(8); n > 0; n-- {
			b.WriteString(pick(r, corpusEmoji))
			if r.IntN(3) == 0 {
				b.WriteRune(0x1F300 + r.Int32N(0x300))
			}
			if r.IntN(3) == 0 {
				b.WriteString(pick(r, []string{" ", "a", "!", "\n", "x y"}))
			}
		}
		return b.String()
	}},
	{"marks", func(r *rand.Rand) string {
		var b strings.Builder
		for n := 1 + r.IntN(8); n > 0; n-- {
			if r.IntN(4) > 0 {
				b.WriteString(pick(r, []string{"a", "e", "o", "A", "क", "ا", "ש", "Ω", "x", " ", "ᄒ", "\u1161"}))
			}
			for k := r.IntN(4); k > 0; k-- {
				b.WriteRune(corpusMark(r))
			}
		}
		return b.String()
	}},
	{"specials", func(r *rand.Rand) string {
		var b strings.Builder
		for n := 1 + r.IntN(6); n > 0; n-- {
			b.WriteString(pick(r, corpusSpecials))
			switch r.IntN(4) {
			case 0:
				b.WriteString(pick(r, corpusWords))
			case 1:
				b.WriteString(pick(r, corpusSpaces))
			case 2:
				b.WriteString(" " + pick(r, corpusWords) + " ")
			}
		}
		return b.String()
	}},
	{"bytelike", func(r *rand.Rand) string {
		var b strings.Builder
		for n := 1 + r.IntN(6); n > 0; n-- {
			if r.IntN(3) == 0 {
				b.WriteRune(corpusAnyRune(r))
			} else {
				b.WriteString(pick(r, corpusByteLike))
			}
			if r.IntN(4) == 0 {
				b.WriteString(pick(r, corpusWords))
			}
		}
		return b.String()
	}},
}

// diffCorpus returns n strings, one of each family in turn and then one
// mixing several, deterministically.
func diffCorpus(n int) []string {
	r := rand.New(rand.NewPCG(20240601, 6))
	out := make([]string, 0, n)
	for i := 0; len(out) < n; i++ {
		k := i % (len(corpusFamilies) + 1)
		if k < len(corpusFamilies) {
			out = append(out, corpusFamilies[k].gen(r))
			continue
		}
		// Mixed: pieces of several families.
		var b strings.Builder
		for m := 1 + r.IntN(4); m > 0; m-- {
			b.WriteString(corpusFamilies[r.IntN(len(corpusFamilies))].gen(r))
			if r.IntN(2) == 0 {
				b.WriteString(pick(r, corpusSpaces))
			}
		}
		out = append(out, b.String())
	}
	return out
}
