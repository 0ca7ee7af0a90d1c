package tokenizer

import "unicode/utf8"

// The Split regular expressions this package recognises, byte for byte as
// they appear in tokenizer.json files.
const (
	// patternGPT2 is the ByteLevel pre-tokenizer's built-in pattern.
	patternGPT2 = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
	// patternLlama3 is the Llama 3 / 3.1 pattern (tiktoken cl100k style).
	patternLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	// patternQwen2 is the Qwen 2 / 2.5 / 3 pattern: Llama 3's with single digits.
	patternQwen2 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// A scanner returns the end of the regex match that starts at byte i of s.
// The recognised patterns match at every position (each alternative set
// covers letters, numbers, whitespace and everything else), so a scanner
// always returns an end > i. s must be valid UTF-8.
type scanner func(s string, i int) int

// knownPatterns maps a recognised Split regex to its scanner.
var knownPatterns = map[string]scanner{
	patternGPT2:   scanGPT2,
	patternLlama3: func(s string, i int) int { return scanTiktoken(s, i, 3) },
	patternQwen2:  func(s string, i int) int { return scanTiktoken(s, i, 1) },
}

// at decodes the rune at byte i and returns it with its class and size;
// past the end it returns size 0.
func at(s string, i int) (r rune, class uint8, size int) {
	if i >= len(s) {
		return 0, classOther, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), asciiClass[c], 1
	}
	r, size = utf8.DecodeRuneInString(s[i:])
	return r, runeClass(r), size
}

// skipClass returns the end of the run of runes of class c starting at i.
func skipClass(s string, i int, c uint8) int {
	for i < len(s) {
		if b := s[i]; b < utf8.RuneSelf {
			if asciiClass[b] != c {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if runeClass(r) != c {
			break
		}
		i += n
	}
	return i
}

// contraction matches 's|'t|'re|'ve|'m|'ll|'d after the apostrophe at i-1,
// returning the match end or 0. foldCase makes the letters ASCII
// case-insensitive (the reference engine does not fold ſ or K here).
func contraction(s string, i int, foldCase bool) int {
	lower := func(k int) byte {
		if k >= len(s) {
			return 0
		}
		c := s[k]
		if foldCase && c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		return c
	}
	switch lower(i) {
	case 's', 't', 'm', 'd':
		return i + 1
	case 'r', 'v':
		if lower(i+1) == 'e' {
			return i + 2
		}
	case 'l':
		if lower(i+1) == 'l' {
			return i + 2
		}
	}
	return 0
}

// whitespaceEnd handles the trailing alternatives shared by all patterns,
// \s+(?!\S)|\s+, for the whitespace run starting at i: the whole run when it
// ends the text, else the run without its last rune (leaving that rune to
// prefix the next word), else the single rune.
func whitespaceEnd(s string, i int) int {
	end := skipClass(s, i, classSpace)
	if end == len(s) {
		return end
	}
	_, last := utf8.DecodeLastRuneInString(s[i:end])
	if end-last > i {
		return end - last
	}
	return end
}

// scanGPT2 runs patternGPT2 at i.
func scanGPT2(s string, i int) int {
	r, c, n := at(s, i)
	if r == '\'' {
		if e := contraction(s, i+1, false); e > 0 {
			return e
		}
	}
	start := i
	if r == ' ' {
		if _, c2, n2 := at(s, i+n); n2 > 0 && c2 != classSpace {
			// ` ?\p{L}+`, ` ?\p{N}+` and ` ?[^\s\p{L}\p{N}]+` all take the space.
			return skipClass(s, i+n+n2, c2)
		}
	}
	if c != classSpace {
		return skipClass(s, start+n, c)
	}
	return whitespaceEnd(s, i)
}

// scanTiktoken runs patternLlama3 (maxDigits 3) or patternQwen2 (maxDigits 1) at i.
func scanTiktoken(s string, i int, maxDigits int) int {
	r, c, n := at(s, i)
	// (?i:'s|'t|'re|'ve|'m|'ll|'d)
	if r == '\'' {
		if e := contraction(s, i+1, true); e > 0 {
			return e
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c == classLetter {
		return skipClass(s, i+n, classLetter)
	}
	if r != '\r' && r != '\n' && c != classNumber {
		if _, c2, n2 := at(s, i+n); n2 > 0 && c2 == classLetter {
			return skipClass(s, i+n+n2, classLetter)
		}
	}
	// \p{N}{1,maxDigits}
	if c == classNumber {
		j := i + n
		for k := 1; k < maxDigits; k++ {
			_, c2, n2 := at(s, j)
			if n2 == 0 || c2 != classNumber {
				break
			}
			j += n2
		}
		return j
	}
	// ` ?[^\s\p{L}\p{N}]+[\r\n]*`
	j := -1
	if c == classOther {
		j = i
	} else if r == ' ' {
		if _, c2, n2 := at(s, i+n); n2 > 0 && c2 == classOther {
			j = i + n
		}
	}
	if j >= 0 {
		j = skipClass(s, j, classOther)
		for j < len(s) && (s[j] == '\r' || s[j] == '\n') {
			j++
		}
		return j
	}
	// \s*[\r\n]+ : up to and including the last CR/LF of the whitespace run.
	end := skipClass(s, i, classSpace)
	for k := end - 1; k >= i; k-- {
		if s[k] == '\r' || s[k] == '\n' {
			return k + 1
		}
	}
	return whitespaceEnd(s, i)
}
