package tokenizer

import "unicode/utf8"

// The byte-level alphabet of GPT-2: every byte maps to one printable rune.
// Printable Latin-1 bytes map to themselves; the other 68 bytes map, in byte
// order, to U+0100 onwards.
var (
	byteToRune [256]rune
	runeToByte = map[rune]byte{}
	extraBytes [68]byte // the byte of rune 0x100+i
)

func init() {
	next := rune(256)
	for b := 0; b < 256; b++ {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		if printable {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = next
			extraBytes[next-0x100] = byte(b)
			next++
		}
		runeToByte[byteToRune[b]] = byte(b)
	}
}

// byteLevelToBytes maps a token written in the byte-level alphabet back to
// the bytes it stands for. ok is false when a rune is outside the alphabet.
func byteLevelToBytes(tok string) (b []byte, ok bool) {
	return appendByteLevel(make([]byte, 0, len(tok)), tok)
}

// appendByteLevel appends the bytes of byte-level token tok to dst.
func appendByteLevel(dst []byte, tok string) ([]byte, bool) {
	for _, r := range tok {
		var c byte
		switch {
		case r < 0x100 && byteToRune[r] == r:
			c = byte(r)
		case r >= 0x100 && r < 0x100+68:
			c = extraBytes[r-0x100]
		default:
			return dst, false
		}
		dst = append(dst, c)
	}
	return dst, true
}

// appendLossy appends b to dst as valid UTF-8, replacing every maximal
// ill-formed subsequence with one U+FFFD, exactly like Rust's
// String::from_utf8_lossy (and so like the reference decoders).
func appendLossy(dst []byte, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			dst = append(dst, b[i:i+size]...)
			i += size
			continue
		}
		dst = append(dst, "\uFFFD"...)
		i += maximalSubpart(b[i:])
	}
	return dst
}

// maximalSubpart is the length of the ill-formed sequence starting at b[0]:
// the longest prefix that could begin a valid sequence, at least one byte.
func maximalSubpart(b []byte) int {
	lo, hi, need := byte(0x80), byte(0xBF), 0
	switch c := b[0]; {
	case c >= 0xC2 && c <= 0xDF:
		need = 1
	case c == 0xE0:
		lo, need = 0xA0, 2
	case c == 0xED:
		hi, need = 0x9F, 2
	case c >= 0xE1 && c <= 0xEF:
		need = 2
	case c == 0xF0:
		lo, need = 0x90, 3
	case c == 0xF4:
		hi, need = 0x8F, 3
	case c >= 0xF1 && c <= 0xF3:
		need = 3
	default:
		return 1
	}
	n := 1
	for k := 0; k < need && n < len(b); k++ {
		c := b[n]
		if k == 0 {
			if c < lo || c > hi {
				break
			}
		} else if c < 0x80 || c > 0xBF {
			break
		}
		n++
	}
	return n
}

// validUTF8 returns s unchanged when it is valid UTF-8, else its lossy form.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return string(appendLossy(nil, []byte(s)))
}
