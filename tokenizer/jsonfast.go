package tokenizer

import (
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonReader reads the two large, regular parts of tokenizer.json (the BPE
// vocab object and the merges array) without reflection: they hold hundreds
// of thousands of entries and dominate load time. The input has already
// been validated by encoding/json, so errors here mean an unexpected shape.
type jsonReader struct {
	b   []byte
	i   int
	buf []byte // scratch for unescaping
}

var errJSONShape = errors.New("unexpected JSON")

func (r *jsonReader) fail(what string) error {
	return fmt.Errorf("%w at byte %d: want %s", errJSONShape, r.i, what)
}

func (r *jsonReader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (r *jsonReader) peek() byte {
	r.ws()
	if r.i < len(r.b) {
		return r.b[r.i]
	}
	return 0
}

func (r *jsonReader) expect(c byte) error {
	if r.peek() != c {
		return r.fail(fmt.Sprintf("%q", c))
	}
	r.i++
	return nil
}

// more consumes a ',' and reports true, or consumes the closing byte and
// reports false.
func (r *jsonReader) more(closing byte) (bool, error) {
	switch r.peek() {
	case ',':
		r.i++
		return true, nil
	case closing:
		r.i++
		return false, nil
	}
	return false, r.fail(fmt.Sprintf("',' or %q", closing))
}

// bytes reads a JSON string and returns its unescaped bytes; the slice is
// only valid until the next call.
func (r *jsonReader) bytes() ([]byte, error) {
	if err := r.expect('"'); err != nil {
		return nil, err
	}
	start := r.i
	for r.i < len(r.b) {
		switch c := r.b[r.i]; c {
		case '"':
			s := r.b[start:r.i]
			r.i++
			return s, nil
		case '\\':
			return r.escaped(start)
		}
		r.i++
	}
	return nil, r.fail("end of string")
}

// escaped finishes a string containing escapes, starting at start.
func (r *jsonReader) escaped(start int) ([]byte, error) {
	out := append(r.buf[:0], r.b[start:r.i]...)
	for r.i < len(r.b) {
		c := r.b[r.i]
		if c == '"' {
			r.i++
			r.buf = out
			return out, nil
		}
		if c != '\\' {
			out = append(out, c)
			r.i++
			continue
		}
		if r.i+1 >= len(r.b) {
			break
		}
		e := r.b[r.i+1]
		r.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			c1, ok := r.hex4()
			if !ok {
				return nil, r.fail("4 hex digits")
			}
			ru := rune(c1)
			if utf16.IsSurrogate(ru) {
				ru = utf8.RuneError
				if r.i+1 < len(r.b) && r.b[r.i] == '\\' && r.b[r.i+1] == 'u' {
					save := r.i
					r.i += 2
					if c2, ok := r.hex4(); ok {
						if d := utf16.DecodeRune(rune(c1), rune(c2)); d != utf8.RuneError {
							ru = d
						} else {
							r.i = save
						}
					} else {
						r.i = save
					}
				}
			}
			out = utf8.AppendRune(out, ru)
		default:
			return nil, r.fail("escape")
		}
	}
	return nil, r.fail("end of string")
}

func (r *jsonReader) hex4() (uint16, bool) {
	if r.i+4 > len(r.b) {
		return 0, false
	}
	var v uint16
	for _, c := range r.b[r.i : r.i+4] {
		d, ok := hexDigit(c)
		if !ok {
			return 0, false
		}
		v = v<<4 | uint16(d)
	}
	r.i += 4
	return v, true
}

// int reads a non-negative integer that fits an int32.
func (r *jsonReader) int() (int32, error) {
	r.ws()
	start := r.i
	var v int64
	for r.i < len(r.b) && r.b[r.i] >= '0' && r.b[r.i] <= '9' {
		v = v*10 + int64(r.b[r.i]-'0')
		if v > 1<<31-1 {
			return 0, r.fail("a token id below 2^31")
		}
		r.i++
	}
	if r.i == start {
		return 0, r.fail("a non-negative integer token id")
	}
	return int32(v), nil
}

// readVocab reads {"token": id, ...}.
func readVocab(raw []byte) (map[string]int32, error) {
	r := &jsonReader{b: raw}
	if err := r.expect('{'); err != nil {
		return nil, err
	}
	vocab := make(map[string]int32, len(raw)/16)
	if r.peek() == '}' {
		return vocab, nil
	}
	for {
		k, err := r.bytes()
		if err != nil {
			return nil, err
		}
		key := string(k)
		if err := r.expect(':'); err != nil {
			return nil, err
		}
		id, err := r.int()
		if err != nil {
			return nil, err
		}
		vocab[key] = id
		if ok, err := r.more('}'); err != nil || !ok {
			return vocab, err
		}
	}
}

// readMerges reads merges written as "a b" strings or ["a", "b"] pairs and
// calls fn with each pair; a and b are only valid during the call.
func readMerges(raw []byte, fn func(i int, a, b []byte) error) error {
	r := &jsonReader{b: raw}
	if err := r.expect('['); err != nil {
		return err
	}
	if r.peek() == ']' {
		return nil
	}
	var a []byte
	for i := 0; ; i++ {
		switch r.peek() {
		case '"':
			s, err := r.bytes()
			if err != nil {
				return err
			}
			sp := -1
			for k, c := range s {
				if c == ' ' {
					if sp >= 0 {
						sp = -2
						break
					}
					sp = k
				}
			}
			if sp < 0 {
				return fmt.Errorf("merge %d %q is not two tokens separated by one space", i, s)
			}
			if err := fn(i, s[:sp], s[sp+1:]); err != nil {
				return err
			}
		case '[':
			r.i++
			s, err := r.bytes()
			if err != nil {
				return err
			}
			a = append(a[:0], s...)
			if err := r.expect(','); err != nil {
				return err
			}
			b, err := r.bytes()
			if err != nil {
				return err
			}
			if err := r.expect(']'); err != nil {
				return err
			}
			if err := fn(i, a, b); err != nil {
				return err
			}
		default:
			return r.fail("a merge string or pair")
		}
		if ok, err := r.more(']'); err != nil || !ok {
			return err
		}
	}
}

// readObject splits a JSON object into its members' raw values (the last of
// duplicate keys wins, as in encoding/json). Values are skipped, not
// validated: callers decode the ones they use.
func readObject(raw []byte) (map[string][]byte, error) {
	r := &jsonReader{b: raw}
	if err := r.expect('{'); err != nil {
		return nil, err
	}
	obj := map[string][]byte{}
	if r.peek() == '}' {
		r.i++
		return obj, r.end()
	}
	for {
		k, err := r.bytes()
		if err != nil {
			return nil, err
		}
		key := string(k)
		if err := r.expect(':'); err != nil {
			return nil, err
		}
		r.ws()
		start := r.i
		if err := r.skip(); err != nil {
			return nil, err
		}
		obj[key] = raw[start:r.i]
		ok, err := r.more('}')
		if err != nil {
			return nil, err
		}
		if !ok {
			return obj, r.end()
		}
	}
}

// end checks that only whitespace follows.
func (r *jsonReader) end() error {
	if r.peek() != 0 {
		return r.fail("end of input")
	}
	return nil
}

// skip moves past one JSON value.
func (r *jsonReader) skip() error {
	depth := 0
	for r.i < len(r.b) {
		switch c := r.b[r.i]; c {
		case '"':
			r.i++
			for r.i < len(r.b) && r.b[r.i] != '"' {
				if r.b[r.i] == '\\' {
					r.i++
				}
				r.i++
			}
			if r.i >= len(r.b) {
				return r.fail("end of string")
			}
			r.i++
		case '{', '[':
			depth++
			r.i++
			continue
		case '}', ']':
			if depth == 0 {
				return r.fail("a value")
			}
			depth--
			r.i++
		case ' ', '\t', '\n', '\r', ',', ':':
			if depth == 0 {
				return r.fail("a value")
			}
			r.i++
			continue
		default:
			start := r.i
			for r.i < len(r.b) && !isDelimiter(r.b[r.i]) {
				r.i++
			}
			if r.i == start {
				return r.fail("a value")
			}
		}
		if depth == 0 {
			return nil
		}
	}
	return r.fail("end of value")
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ':', ' ', '\t', '\n', '\r', '"', '{', '[':
		return true
	}
	return false
}
