package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type ev struct{ name, data string }

func readAll(t testing.TB, r io.Reader) ([]ev, error) {
	t.Helper()
	rd := NewReader(r, 1<<20)
	var out []ev
	for {
		e, err := rd.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev{e.Name, string(e.Data)})
	}
}

func TestReader(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []ev
	}{
		{"openai", "data: {\"a\":1}\n\ndata: [DONE]\n\n", []ev{{"", `{"a":1}`}, {"", "[DONE]"}}},
		{"crlf", "data: x\r\n\r\ndata: y\r\n\r\n", []ev{{"", "x"}, {"", "y"}}},
		{"lone cr", "data: x\r\rdata: y\r\r", []ev{{"", "x"}, {"", "y"}}},
		{"no space", "data:x\n\n", []ev{{"", "x"}}},
		{"two spaces keep one", "data:  x\n\n", []ev{{"", " x"}}},
		{"multi-line data", "data: a\ndata: b\n\n", []ev{{"", "a\nb"}}},
		{"comments and keep-alives", ": ping\n\n:\ndata: x\n\n", []ev{{"", "x"}}},
		{"named event", "event: message_start\ndata: {}\n\n", []ev{{"message_start", "{}"}}},
		{"event without data is dropped", "event: ping\n\ndata: x\n\n", []ev{{"", "x"}}},
		{"id and retry ignored", "id: 7\nretry: 10\ndata: x\n\n", []ev{{"", "x"}}},
		{"no final blank line", "data: x\n\ndata: y", []ev{{"", "x"}, {"", "y"}}},
		{"empty data field", "data\n\n", []ev{{"", ""}}},
		{"empty", "", nil},
	}
	for _, tc := range tests {
		for _, one := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tc.in)
			if one {
				r = iotest.OneByteReader(r)
			}
			got, err := readAll(t, r)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if !equal(got, tc.want) {
				t.Errorf("%s (one byte at a time %v): got %q, want %q", tc.name, one, got, tc.want)
			}
		}
	}
}

func TestLineLimit(t *testing.T) {
	rd := NewReader(strings.NewReader("data: "+strings.Repeat("x", 100)+"\n\n"), 50)
	if _, err := rd.Next(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err = %v, want ErrLineTooLong", err)
	}
}

func TestReaderError(t *testing.T) {
	boom := errors.New("boom")
	rd := NewReader(io.MultiReader(strings.NewReader("data: x\n"), iotest.ErrReader(boom)), 0)
	if _, err := rd.Next(); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
}

func equal(a, b []ev) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// encode writes events back as a canonical stream.
func encode(evs []ev) []byte {
	var b bytes.Buffer
	for _, e := range evs {
		if e.name != "" {
			b.WriteString("event: " + e.name + "\n")
		}
		for _, l := range strings.Split(e.data, "\n") {
			b.WriteString("data: " + l + "\n")
		}
		b.WriteString("\n")
	}
	return b.Bytes()
}

// FuzzReader: any input parses without panic to the same events whether read
// at once or a byte at a time, and the events re-encoded parse back to
// themselves.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"data: {\"choices\":[]}\n\ndata: [DONE]\n\n",
		"data: a\r\ndata: b\r\n\r\n",
		": c\revent: e\rdata: x\r\r",
		"data", "\n\n\n", "data: x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, err := readAll(t, bytes.NewReader(in))
		if err != nil {
			t.Fatalf("whole: %v", err)
		}
		bytewise, err := readAll(t, iotest.OneByteReader(bytes.NewReader(in)))
		if err != nil {
			t.Fatalf("bytewise: %v", err)
		}
		if !equal(whole, bytewise) {
			t.Fatalf("whole %q != bytewise %q", whole, bytewise)
		}
		for _, e := range whole {
			if strings.ContainsAny(e.name, "\r\n") {
				t.Fatalf("event name %q holds a line break", e.name)
			}
		}
		// Data holding "\r" cannot round-trip (it ends a line); skip those.
		for _, e := range whole {
			if strings.Contains(e.data, "\r") {
				return
			}
		}
		again, err := readAll(t, bytes.NewReader(encode(whole)))
		if err != nil {
			t.Fatalf("re-encoded: %v", err)
		}
		if !equal(again, whole) {
			t.Fatalf("re-encoded %q parse to %q", whole, again)
		}
	})
}
