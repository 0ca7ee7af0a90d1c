package tokenizer

import (
	"sync"
	"unicode"
)

// Character classes of the Split patterns. The reference library's regex
// engine (Oniguruma) uses Unicode 16 general categories; Go 1.26's unicode
// package has Unicode 15, so the letters and numbers added in 16.0 are listed
// here. They were found by comparing the two over all code points.
var (
	letters16 = &unicode.RangeTable{
		R16: []unicode.Range16{
			{0x1c89, 0x1c8a, 1}, {0xa7cb, 0xa7cd, 1}, {0xa7da, 0xa7dc, 1},
		},
		R32: []unicode.Range32{
			{0x105c0, 0x105f3, 1}, {0x10d4a, 0x10d65, 1}, {0x10d6f, 0x10d85, 1},
			{0x10ec2, 0x10ec4, 1}, {0x11380, 0x11389, 1}, {0x1138b, 0x1138b, 1},
			{0x1138e, 0x1138e, 1}, {0x11390, 0x113b5, 1}, {0x113b7, 0x113b7, 1},
			{0x113d1, 0x113d1, 1}, {0x113d3, 0x113d3, 1}, {0x11bc0, 0x11be0, 1},
			{0x13460, 0x143fa, 1}, {0x16100, 0x1611d, 1}, {0x16d40, 0x16d6c, 1},
			{0x18cff, 0x18cff, 1}, {0x1e5d0, 0x1e5ed, 1}, {0x1e5f0, 0x1e5f0, 1},
			{0x2ebf0, 0x2ee5d, 1},
		},
	}
	numbers16 = &unicode.RangeTable{
		R32: []unicode.Range32{
			{0x10d40, 0x10d49, 1}, {0x116d0, 0x116e3, 1}, {0x11bf0, 0x11bf9, 1},
			{0x16130, 0x16139, 1}, {0x16d70, 0x16d79, 1}, {0x1ccf0, 0x1ccf9, 1},
			{0x1e5f1, 0x1e5fa, 1},
		},
	}
)

// Classes of a rune for the scanners: exactly one of these holds.
const (
	classOther  = iota // [^\s\p{L}\p{N}]
	classLetter        // \p{L}
	classNumber        // \p{N}
	classSpace         // \s (Unicode White_Space)
)

var asciiClass [128]uint8

// bmpClass caches the class of every rune below U+10000; it is built on
// first use (64 KiB) because most programs never tokenize.
var bmpClass = sync.OnceValue(func() *[0x10000]uint8 {
	var t [0x10000]uint8
	for r := range t {
		t[r] = slowClass(rune(r))
	}
	return &t
})

func init() {
	for r := rune(0); r < 128; r++ {
		asciiClass[r] = slowClass(r)
	}
}

func slowClass(r rune) uint8 {
	switch {
	case unicode.IsLetter(r) || r >= 0x1c89 && unicode.Is(letters16, r):
		return classLetter
	case unicode.IsNumber(r) || r >= 0x10000 && unicode.Is(numbers16, r):
		return classNumber
	case unicode.IsSpace(r):
		return classSpace
	}
	return classOther
}

// runeClass classifies r using the tables.
func runeClass(r rune) uint8 {
	if r < 128 {
		return asciiClass[r]
	}
	if r < 0x10000 {
		return bmpClass()[r]
	}
	return slowClass(r)
}
