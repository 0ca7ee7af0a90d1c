package tokenizer

import (
	"encoding/binary"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzTokenizers loads the tokenizers the fuzz targets exercise.
func fuzzTokenizers(t *testing.T) map[string]*Tokenizer {
	toks := map[string]*Tokenizer{}
	for _, dir := range []string{"llama3.1-tokenizer", "qwen3-tokenizer", "llama2-tokenizer"} {
		toks[dir] = loadShared(t, dir)
	}
	return toks
}

var fuzzSeeds = []string{
	"", "Hello world", "  \n\n  x", "DON'T we'RE", "東京は日本の首都です。", "👨‍👩‍👧‍👦 🏳️‍🌈",
	"e\u0301 Cafe\u0301 \u212b", "<s>Hello</s>", "<|im_start|>user\nhi<|im_end|>", "<0x41>", "\x00\x1b[31m",
	"a\u00a0b\u3000c", "12345678901234567890", "\xff\xfe invalid \xe2\x82", "'s'S'\u017f",
}

// FuzzEncode checks that Encode never panics and that byte-level tokenizers
// give valid UTF-8 text back exactly (after NFC for Qwen).
func FuzzEncode(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, tok := range fuzzTokenizers(t) {
			ids := tok.Encode(s, true)
			plain := tok.Encode(s, false)
			for _, id := range ids {
				if id < 0 || int(id) >= tok.VocabSize() {
					t.Fatalf("%s: Encode(%q) gave id %d outside the vocabulary", name, s, id)
				}
			}
			back := tok.Decode(plain, false)
			if !utf8.ValidString(back) {
				t.Fatalf("%s: Decode(Encode(%q)) = %q is not UTF-8", name, s, back)
			}
			if !tok.model.byteLevel || !utf8.ValidString(s) {
				continue
			}
			want := s
			if tok.normalizer != nil {
				want = tok.normalizer.normalize(s) // NFC for Qwen
			}
			if back != want {
				t.Fatalf("%s: Decode(Encode(%q)) = %q", name, s, back)
			}
		}
	})
}

// FuzzDecoder streams ids through a Decoder: chunks are always valid UTF-8;
// for ids produced by Encode, and for any ids with a byte-level tokenizer,
// the stream equals Decode.
func FuzzDecoder(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), false)
	}
	f.Add([]byte{0xE4, 0, 0, 0x41, 0, 0}, true)
	f.Fuzz(func(t *testing.T, data []byte, skip bool) {
		for name, tok := range fuzzTokenizers(t) {
			// The bytes as text, encoded.
			ids := tok.Encode(string(data), true)
			if got, want := streamDecode(t, tok, ids, skip), tok.Decode(ids, skip); got != want {
				t.Fatalf("%s: stream of Encode(%q) = %q, Decode = %q", name, data, got, want)
			}
			// The bytes as raw ids: small ids (bytes, specials) and big ones.
			ids = ids[:0]
			for i := 0; i+3 <= len(data); i += 3 {
				v := int32(binary.LittleEndian.Uint16(data[i:])) | int32(data[i+2])<<16
				if data[i+2]&1 == 0 {
					v = int32(data[i]) // mostly byte tokens and low ids
				}
				ids = append(ids, v%int32(tok.VocabSize()+8))
			}
			got := streamDecode(t, tok, ids, skip)
			if want := tok.Decode(ids, skip); tok.model.byteLevel && got != want {
				t.Fatalf("%s: stream of %v = %q, Decode = %q", name, ids, got, want)
			}
			if strings.Count(got, "") > 4*len(ids)*64+1 {
				t.Fatalf("%s: stream of %v is implausibly long", name, ids)
			}
		}
	})
}
