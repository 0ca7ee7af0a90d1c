package openai

import (
	"strings"
	"testing"
)

func TestOverlap(t *testing.T) {
	tests := []struct {
		text, stop string
		want       int
	}{
		{"hello wor", "world", 3},
		{"hello", "world", 0},
		{"ab", "abc", 2},
		{"abc", "abc", 0}, // proper prefixes only: a whole match is found by Index
		{"", "abc", 0},
		{"xx\u00e9", "\u00e9t\u00e9", 2},
	}
	for _, tc := range tests {
		if got := overlap(tc.text, tc.stop); got != tc.want {
			t.Errorf("overlap(%q, %q) = %d, want %d", tc.text, tc.stop, got, tc.want)
		}
	}
}

// pushAll feeds deltas through a textStream's stop logic and returns what it
// emitted and whether it stopped.
func pushAll(stops []string, deltas []string) (string, bool) {
	ts := &textStream{stops: stops}
	var out strings.Builder
	for _, d := range deltas {
		text, done := ts.push(d)
		out.WriteString(text)
		if done {
			return out.String(), true
		}
	}
	text, done := ts.push("")
	out.WriteString(text)
	if !done {
		out.WriteString(ts.held)
	}
	return out.String(), done
}

func TestStopStringsAcrossDeltas(t *testing.T) {
	tests := []struct {
		name   string
		stops  []string
		deltas []string
		want   string
		done   bool
	}{
		{"no stops", nil, []string{"a", "b"}, "ab", false},
		{"inside one delta", []string{"STOP"}, []string{"abcSTOPdef"}, "abc", true},
		{"split across deltas", []string{"STOP"}, []string{"ab", "cS", "TO", "Pxyz"}, "abc", true},
		{"false start released", []string{"STOP"}, []string{"ST", "ART"}, "START", false},
		{"earliest of several", []string{"yz", "b"}, []string{"a", "byz"}, "a", true},
		{"stop at the very start", []string{"\n"}, []string{"\nhello"}, "", true},
		{"multibyte stop", []string{"\u00e9t\u00e9"}, []string{"summer: \u00e9", "t\u00e9!"}, "summer: ", true},
		{"held tail flushed at end", []string{"###"}, []string{"x#", "#"}, "x##", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, done := pushAll(tc.stops, tc.deltas)
			if got != tc.want || done != tc.done {
				t.Fatalf("got %q %v, want %q %v", got, done, tc.want, tc.done)
			}
		})
	}
}
