package admission

import (
	"strings"
	"testing"
)

func TestParseBearer(t *testing.T) {
	tests := []struct {
		header, key string
		ok          bool
	}{
		{"Bearer sk-sota-abc", "sk-sota-abc", true},
		{"bearer   sk-sota-abc  ", "sk-sota-abc", true},
		{"BEARER x", "x", true},
		{"", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Basic dXNlcjpwYXNz", "", false},
		{"Bearer a b", "", false},
		{"Bearer " + strings.Repeat("k", 257), "", false},
	}
	for _, tc := range tests {
		key, err := ParseBearer(tc.header)
		if (err == nil) != tc.ok || key != tc.key {
			t.Errorf("ParseBearer(%q) = %q, %v; want %q, ok %v", tc.header, key, err, tc.key, tc.ok)
		}
	}
}

func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer sk-sota-x", "bearer\tx", "Bearer  ", "Token x", "Bearer \x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		key, err := ParseBearer(header)
		if err != nil {
			if key != "" {
				t.Fatalf("error %v with key %q", err, key)
			}
			return
		}
		if key == "" || len(key) > maxKeyLen || strings.ContainsAny(key, " \t\r\n") {
			t.Fatalf("ParseBearer(%q) accepted %q", header, key)
		}
	})
}

func FuzzParseClass(f *testing.F) {
	for _, s := range []string{"slow", "Medium", " fast ", "ludicrous", "warp", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseClass(s)
		if err != nil {
			return
		}
		if c < Slow || c > Ludicrous {
			t.Fatalf("ParseClass(%q) = %d", s, c)
		}
		if back, err := ParseClass(c.String()); err != nil || back != c {
			t.Fatalf("round trip of %v: %v, %v", c, back, err)
		}
	})
}

func TestAllowsModel(t *testing.T) {
	tests := []struct {
		models []string
		name   string
		want   bool
	}{
		{[]string{"*"}, "stories260k", true},
		{[]string{"*"}, "Qwen/Qwen2.5-0.5B-Instruct", true},
		{[]string{"Qwen/*"}, "Qwen/Qwen2.5-0.5B-Instruct", true},
		{[]string{"Qwen/*"}, "meta-llama/Llama-3.1-8B", false},
		{[]string{"llama-*"}, "llama-8b", true},
		{[]string{"llama-*"}, "qwen", false},
		{[]string{"a", "b"}, "b", true},
	}
	for _, tc := range tests {
		tier := Tier{Models: tc.models}
		if got := tier.AllowsModel(tc.name); got != tc.want {
			t.Errorf("%v allows %q = %v, want %v", tc.models, tc.name, got, tc.want)
		}
	}
}
