package openai

import (
	"encoding/json"
	"testing"
)

// The hand-written chunk encoders write what encoding/json writes.
func TestAppendChunkMatchesEncodingJSON(t *testing.T) {
	stop, empty, hello, odd := "stop", "", "Hello <world> & \"you\"\n\t\\", "a\x00\x1f\u2028\u2029\xff\xfe z\u00e9\U0001F600"
	tests := []any{
		completion{ID: "cmpl-1", Object: "text_completion", Created: 1733, Model: "m", Choices: []completionChoice{{Index: 0, Text: hello}}},
		completion{ID: "cmpl-1", Object: "text_completion", Created: 1733, Model: "m/<x>", Choices: []completionChoice{{Index: 3, Text: odd, FinishReason: &stop}}, Usage: nullUsage},
		chatChunk{ID: "c", Object: "chat.completion.chunk", Created: 9, Model: "m", Choices: []chatChunkChoice{{Index: 0, Delta: chatDelta{Role: "assistant", Content: &empty}}}},
		chatChunk{ID: "c", Object: "chat.completion.chunk", Created: 9, Model: "m", Choices: []chatChunkChoice{{Index: 1, Delta: chatDelta{Content: &odd}}}, Usage: nullUsage},
		chatChunk{ID: "c", Object: "chat.completion.chunk", Created: 9, Model: "m", Choices: []chatChunkChoice{{Index: 2, FinishReason: &stop}}},
		chatChunk{ID: "c", Object: "chat.completion.chunk", Created: 9, Model: "m", Choices: []chatChunkChoice{{Delta: chatDelta{Role: "assistant"}}}},
	}
	for i, v := range tests {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendChunk(nil, v)
		if !ok || string(got) != string(want) {
			t.Errorf("%d: ok %v\n got %s\nwant %s", i, ok, got, want)
		}
	}
	// Shapes not covered fall back.
	for _, v := range []any{
		completion{Choices: []completionChoice{{Logprobs: &completionLogprobs{}}}},
		completion{Choices: []completionChoice{{}, {}}},
		chatChunk{Choices: []chatChunkChoice{{Delta: chatDelta{ReasoningContent: &empty}}}},
		chatChunk{Choices: []chatChunkChoice{{}}, Usage: &usage{}},
		errorBody{},
	} {
		if _, ok := appendChunk(nil, v); ok {
			t.Errorf("%T %+v: encoded by hand, want the fallback", v, v)
		}
	}
}

func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", "<&>", "\x00\x7f\xff", "\u2028", "é😀", "\"\\/\b\f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	})
}

func BenchmarkChunkEncode(b *testing.B) {
	text := " the little dog"
	v := completion{ID: "cmpl-0123456789abcdef01234567", Object: "text_completion", Created: 1733333333, Model: "stories260k",
		Choices: []completionChoice{{Index: 0, Text: text}}, Usage: nullUsage}
	b.Run("hand", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = appendChunk(buf[:0], v)
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(v)
		}
	})
}
