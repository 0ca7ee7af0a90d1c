package tokenizer

import (
	"strings"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

// benchText builds about n bytes of mixed text (prose, code, numbers,
// whitespace runs, CJK, emoji) from the golden corpus.
func benchText(b *testing.B, n int) string {
	g := readGolden(b, "llama3.1")
	var sb strings.Builder
	for sb.Len() < n {
		for _, c := range g.Cases {
			sb.WriteString(c.Text)
			sb.WriteString("\n")
		}
	}
	return sb.String()[:n]
}

func benchEncode(b *testing.B, dir ...string) {
	tok, err := Load(testmodels.Shared(b, dir...))
	if err != nil {
		b.Fatal(err)
	}
	text := benchText(b, 1<<20)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		tok.Encode(text, true)
	}
}

// BenchmarkEncodeLlama3 encodes 1 MiB of mixed text with Llama 3.1.
func BenchmarkEncodeLlama3(b *testing.B) { benchEncode(b, "llama3.1-tokenizer") }

// BenchmarkEncodeQwen3 is the same with Qwen 3 (NFC, no ignore_merges).
func BenchmarkEncodeQwen3(b *testing.B) { benchEncode(b, "qwen3-tokenizer") }

// BenchmarkEncodeLlama2 is the same with Llama 2, whose whole text is one
// BPE word (no pre-tokenizer).
func BenchmarkEncodeLlama2(b *testing.B) { benchEncode(b, "llama2-tokenizer") }

// BenchmarkDecoder streams the ids of 1 MiB of text through a Decoder.
func BenchmarkDecoder(b *testing.B) {
	tok, err := Load(testmodels.Shared(b, "llama3.1-tokenizer"))
	if err != nil {
		b.Fatal(err)
	}
	text := benchText(b, 1<<20)
	ids := tok.Encode(text, false)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		d := tok.NewDecoder(true)
		for _, id := range ids {
			d.Add(id)
		}
		d.Flush()
	}
}

// BenchmarkEncodeLlama3Lines encodes the same 1 MiB one line at a time, as
// a server encodes many requests of ordinary size.
func BenchmarkEncodeLlama3Lines(b *testing.B) {
	tok, err := Load(testmodels.Shared(b, "llama3.1-tokenizer"))
	if err != nil {
		b.Fatal(err)
	}
	text := benchText(b, 1<<20)
	lines := strings.SplitAfter(text, "\n")
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		for _, l := range lines {
			tok.Encode(l, true)
		}
	}
}
