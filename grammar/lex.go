package grammar

import "unicode/utf8"

// Byte-level pieces of JSON.

var (
	rangeUTF8Cont = byteRange{0x80, 0xBF}
	hexDigit      = byteSet(byteRange{'0', '9'}, byteRange{'A', 'F'}, byteRange{'a', 'f'})
	digit         = byteSet(byteRange{'0', '9'})
	digit19       = byteSet(byteRange{'1', '9'})
)

// multibyte matches one well-formed UTF-8 sequence of 2 to 4 bytes.
func multibyte() *expr {
	c := rangeUTF8Cont
	return alt(
		seq(byteSet(byteRange{0xC2, 0xDF}), byteSet(c)),
		seq(oneByte(0xE0), byteSet(byteRange{0xA0, 0xBF}), byteSet(c)),
		seq(byteSet(byteRange{0xE1, 0xEC}, byteRange{0xEE, 0xEF}), byteSet(c), byteSet(c)),
		seq(oneByte(0xED), byteSet(byteRange{0x80, 0x9F}), byteSet(c)),
		seq(oneByte(0xF0), byteSet(byteRange{0x90, 0xBF}), byteSet(c), byteSet(c)),
		seq(byteSet(byteRange{0xF1, 0xF3}), byteSet(c), byteSet(c), byteSet(c)),
		seq(oneByte(0xF4), byteSet(byteRange{0x80, 0x8F}), byteSet(c), byteSet(c)),
	)
}

// escape matches one JSON escape sequence.
func escape() *expr {
	return seq(oneByte('\\'), alt(
		byteSet(byteRange{'"', '"'}, byteRange{'\\', '\\'}, byteRange{'/', '/'}, byteRange{'b', 'b'},
			byteRange{'f', 'f'}, byteRange{'n', 'n'}, byteRange{'r', 'r'}, byteRange{'t', 't'}),
		seq(oneByte('u'), hexDigit, hexDigit, hexDigit, hexDigit)))
}

// plainASCII is the ASCII a JSON string holds unescaped.
var plainASCII = []byteRange{{0x20, 0x21}, {0x23, 0x5B}, {0x5D, 0x7F}}

// stringChar matches one character of a JSON string's content.
func stringChar() *expr { return alt(byteSet(plainASCII...), multibyte(), escape()) }

// ctrlEscapes are the ways a JSON string writes control character c.
func ctrlEscapes(c byte) *expr {
	hex := func(d byte) *expr {
		const digits = "0123456789abcdef"
		lo, up := digits[d], digits[d]
		if d >= 10 {
			up = "0123456789ABCDEF"[d]
		}
		return byteSet(byteRange{lo, lo}, byteRange{up, up})
	}
	u := seq(lit(`\u00`), hex(c>>4), hex(c&15))
	short := map[byte]string{'\n': `\n`, '\r': `\r`, '\t': `\t`, '\b': `\b`, '\f': `\f`}
	if s, ok := short[c]; ok {
		return alt(lit(s), u)
	}
	return u
}

// runeClass matches one character in [lo, hi] as a JSON string spells it.
func runeClass(lo, hi rune) *expr {
	var parts []*expr
	for lo <= hi {
		switch {
		case lo < 0x20:
			parts = append(parts, ctrlEscapes(byte(lo)))
			lo++
		case lo == '"':
			parts = append(parts, lit(`\"`))
			lo++
		case lo == '\\':
			parts = append(parts, lit(`\\`))
			lo++
		default:
			end := hi
			if lo < '"' {
				end = min(end, '"'-1)
			} else if lo < '\\' {
				end = min(end, '\\'-1)
			}
			parts = append(parts, utf8Range(lo, end))
			lo = end + 1
		}
	}
	return alt(parts...)
}

// utf8Range matches the UTF-8 encoding of one rune in [lo, hi] (surrogates excluded).
func utf8Range(lo, hi rune) *expr {
	var parts []*expr
	if lo <= 0xD7FF && hi >= 0xE000 {
		return alt(utf8Range(lo, 0xD7FF), utf8Range(0xE000, hi))
	}
	if lo >= 0xD800 && hi <= 0xDFFF {
		return none()
	}
	if lo >= 0xD800 && lo <= 0xDFFF {
		lo = 0xE000
	}
	if hi >= 0xD800 && hi <= 0xDFFF {
		hi = 0xD7FF
	}
	if lo > hi {
		return none()
	}
	for _, b := range [...]rune{0x7F, 0x7FF, 0xFFFF} {
		if lo <= b && hi > b {
			return alt(utf8Range(lo, b), utf8Range(b+1, hi))
		}
	}
	splitUTF8(lo, hi, &parts)
	return alt(parts...)
}

// splitUTF8 splits [lo, hi] (same encoded length) into ranges whose
// encodings are products of byte ranges.
func splitUTF8(lo, hi rune, out *[]*expr) {
	n := utf8.RuneLen(lo)
	for i := 1; i < n; i++ {
		m := rune(1)<<(6*i) - 1
		if lo&^m != hi&^m {
			if lo&m != 0 {
				splitUTF8(lo, lo|m, out)
				splitUTF8((lo|m)+1, hi, out)
				return
			}
			if hi&m != m {
				splitUTF8(lo, (hi&^m)-1, out)
				splitUTF8(hi&^m, hi, out)
				return
			}
		}
	}
	var a, b [4]byte
	utf8.EncodeRune(a[:], lo)
	utf8.EncodeRune(b[:], hi)
	parts := make([]*expr, n)
	for i := range n {
		parts[i] = byteSet(byteRange{a[i], b[i]})
	}
	*out = append(*out, seq(parts...))
}

// integer matches a JSON integer; number any JSON number.
func integer() *expr { return seq(opt(oneByte('-')), alt(oneByte('0'), seq(digit19, star(digit)))) }

func number() *expr {
	return seq(integer(), opt(seq(oneByte('.'), rep(digit, 1, -1))),
		opt(seq(byteSet(byteRange{'e', 'e'}, byteRange{'E', 'E'}), opt(byteSet(byteRange{'+', '+'}, byteRange{'-', '-'})), rep(digit, 1, -1))))
}
