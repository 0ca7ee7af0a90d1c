package tokenizer

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// tinyJSON is a small valid byte-level tokenizer; tests replace parts of it.
const tinyJSON = `{
  "version": "1.0",
  "added_tokens": [{"id": 5, "content": "<|end|>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
  "normalizer": NORMALIZER,
  "pre_tokenizer": PRETOKENIZER,
  "post_processor": null,
  "decoder": DECODER,
  "model": MODEL
}`

const (
	tinyNormalizer   = `{"type": "NFC"}`
	tinyPreTokenizer = `{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}`
	tinyDecoder      = `{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}`
	tinyModel        = `{"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
    "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
    "vocab": {"a": 0, "b": 1, "ab": 2, "Ġ": 3, "Ġab": 4}, "merges": ["a b", "Ġ ab"]}`
)

// tinyFS builds a tokenizer.json from tinyJSON with the given replacements
// ("NORMALIZER" → ..., and so on); missing ones keep the valid defaults.
func tinyFS(repl map[string]string) fstest.MapFS {
	s := tinyJSON
	for k, def := range map[string]string{"NORMALIZER": tinyNormalizer, "PRETOKENIZER": tinyPreTokenizer, "DECODER": tinyDecoder, "MODEL": tinyModel} {
		v, ok := repl[k]
		if !ok {
			v = def
		}
		s = strings.Replace(s, k, v, 1)
	}
	if raw, ok := repl["RAW"]; ok {
		s = raw
	}
	fsys := fstest.MapFS{"tokenizer.json": {Data: []byte(s)}}
	if cfg, ok := repl["CONFIG"]; ok {
		fsys["tokenizer_config.json"] = &fstest.MapFile{Data: []byte(cfg)}
	}
	return fsys
}

func TestTinyTokenizer(t *testing.T) {
	tok, err := LoadFS(tinyFS(nil))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want []int32
	}{
		{"ab", []int32{2}},
		{"ab ab", []int32{2, 4}},
		{"a<|end|>b", []int32{0, 5, 1}},
		{"", []int32{}},
		{"abc", []int32{2}}, // c is not in the vocabulary and there is no unk token
	}
	for _, tt := range tests {
		if got := tok.Encode(tt.text, true); !slices.Equal(got, tt.want) {
			t.Errorf("Encode(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
	if got := tok.VocabSize(); got != 6 {
		t.Errorf("VocabSize = %d, want 6", got)
	}
	if _, ok := tok.BOS(); ok {
		t.Error("BOS reported without a config or template")
	}
	if !tok.IsSpecial(5) || tok.IsSpecial(2) || tok.IsSpecial(99) {
		t.Error("IsSpecial wrong")
	}
	if s, ok := tok.TokenString(4); !ok || s != "Ġab" {
		t.Errorf("TokenString(4) = %q, %v", s, ok)
	}
	if _, ok := tok.TokenString(-1); ok {
		t.Error("TokenString(-1) ok")
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		repl    map[string]string
		want    error
		mention string // text the error must contain
	}{
		{"bad json", map[string]string{"RAW": `{"model": `}, ErrInvalid, "tokenizer.json"},
		{"not an object", map[string]string{"RAW": `[1, 2]`}, ErrInvalid, "tokenizer.json"},
		{"no model", map[string]string{"MODEL": `null`}, ErrInvalid, "no model"},
		{"model WordPiece", map[string]string{"MODEL": `{"type": "WordPiece", "vocab": {"a": 0}}`}, ErrUnsupported, `"WordPiece"`},
		{"model Unigram", map[string]string{"MODEL": `{"type": "Unigram", "vocab": [["a", 0.0]]}`}, ErrUnsupported, `"Unigram"`},
		{"dropout", map[string]string{"MODEL": `{"type": "BPE", "dropout": 0.1, "vocab": {"a": 0}, "merges": []}`}, ErrUnsupported, "dropout"},
		{"subword prefix", map[string]string{"MODEL": `{"type": "BPE", "continuing_subword_prefix": "##", "vocab": {"a": 0}, "merges": []}`}, ErrUnsupported, "continuing_subword_prefix"},
		{"word suffix", map[string]string{"MODEL": `{"type": "BPE", "end_of_word_suffix": "</w>", "vocab": {"a": 0}, "merges": []}`}, ErrUnsupported, "end_of_word_suffix"},
		{"merge unknown token", map[string]string{"MODEL": `{"type": "BPE", "vocab": {"a": 0}, "merges": ["a x"]}`}, ErrInvalid, "merge 0"},
		{"merge three parts", map[string]string{"MODEL": `{"type": "BPE", "vocab": {"a": 0}, "merges": ["a b c"]}`}, ErrInvalid, "two tokens"},
		{"merge result unknown", map[string]string{"MODEL": `{"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": [["a", "b"]]}`}, ErrInvalid, "merge 0"},
		{"unk not in vocab", map[string]string{"MODEL": `{"type": "BPE", "unk_token": "<unk>", "vocab": {"a": 0}, "merges": []}`}, ErrInvalid, "unk_token"},
		{"normalizer Lowercase", map[string]string{"NORMALIZER": `{"type": "Lowercase"}`}, ErrUnsupported, `normalizer type "Lowercase"`},
		{"normalizer in sequence", map[string]string{"NORMALIZER": `{"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "BertNormalizer"}]}`}, ErrUnsupported, `"BertNormalizer"`},
		{"normalizer regex replace", map[string]string{"NORMALIZER": `{"type": "Replace", "pattern": {"Regex": " +"}, "content": " "}`}, ErrUnsupported, `regex pattern " +"`},
		{"pre_tokenizer Whitespace", map[string]string{"PRETOKENIZER": `{"type": "Whitespace"}`}, ErrUnsupported, `pre_tokenizer type "Whitespace"`},
		{"pre_tokenizer Digits in sequence", map[string]string{"PRETOKENIZER": `{"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": true}]}`}, ErrUnsupported, `"Digits"`},
		{"unknown Split pattern", map[string]string{"PRETOKENIZER": `{"type": "Split", "pattern": {"Regex": "\\d+|\\w+"}, "behavior": "Isolated", "invert": false}`}, ErrUnsupported, `regex "\\d+|\\w+"`},
		{"Split pattern one char off", map[string]string{"PRETOKENIZER": `{"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,4}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}, "behavior": "Isolated", "invert": false}`}, ErrUnsupported, `\\p{N}{1,4}`},
		{"Split behavior", map[string]string{"PRETOKENIZER": `{"type": "Split", "pattern": {"String": " "}, "behavior": "Sideways", "invert": false}`}, ErrUnsupported, `"Sideways"`},
		{"ByteLevel not last", map[string]string{"PRETOKENIZER": `{"type": "Sequence", "pretokenizers": [{"type": "ByteLevel"}, {"type": "Split", "pattern": {"String": " "}, "behavior": "Isolated", "invert": false}]}`}, ErrUnsupported, "ByteLevel before"},
		{"Metaspace scheme", map[string]string{"PRETOKENIZER": `{"type": "Metaspace", "replacement": "_", "prepend_scheme": "sometimes"}`}, ErrUnsupported, `"sometimes"`},
		{"decoder WordPiece", map[string]string{"DECODER": `{"type": "WordPiece", "prefix": "##"}`}, ErrUnsupported, `decoder type "WordPiece"`},
		{"decoder CTC in sequence", map[string]string{"DECODER": `{"type": "Sequence", "decoders": [{"type": "Fuse"}, {"type": "CTC"}]}`}, ErrUnsupported, `"CTC"`},
		{"decoder Strip content", map[string]string{"DECODER": `{"type": "Strip", "content": "ab", "start": 1, "stop": 0}`}, ErrInvalid, "not one character"},
		{"config bad json", map[string]string{"CONFIG": `{"bos_token": `}, ErrInvalid, "tokenizer_config.json"},
		{"config bos unknown", map[string]string{"CONFIG": `{"bos_token": "<s>"}`}, ErrInvalid, `bos_token "<s>"`},
		{"config eos bad type", map[string]string{"CONFIG": `{"eos_token": 7}`}, ErrInvalid, "eos_token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadFS(tinyFS(tt.repl))
			if err == nil {
				t.Fatal("LoadFS succeeded")
			}
			if !errors.Is(err, tt.want) {
				t.Errorf("error %q does not wrap %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("error %q does not mention %q", err, tt.mention)
			}
		})
	}
}

func TestPostProcessorErrors(t *testing.T) {
	tests := []struct {
		name, pp, mention string
		want              error
	}{
		{"unknown type", `{"type": "Magic"}`, `post_processor type "Magic"`, ErrUnsupported},
		{"no sequence", `{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<|end|>", "type_id": 0}}], "special_tokens": {"<|end|>": {"id": "<|end|>", "ids": [5], "tokens": ["<|end|>"]}}}`, "without sequence A", ErrUnsupported},
		{"missing special", `{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<x>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {}}`, `"<x>"`, ErrInvalid},
		{"id out of range", `{"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<x>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}], "special_tokens": {"<x>": {"id": "<x>", "ids": [99], "tokens": ["<x>"]}}}`, "token id 99", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := strings.Replace(tinyJSON, `"post_processor": null`, `"post_processor": `+tt.pp, 1)
			for k, v := range map[string]string{"NORMALIZER": tinyNormalizer, "PRETOKENIZER": tinyPreTokenizer, "DECODER": tinyDecoder, "MODEL": tinyModel} {
				raw = strings.Replace(raw, k, v, 1)
			}
			_, err := LoadFS(fstest.MapFS{"tokenizer.json": {Data: []byte(raw)}})
			if !errors.Is(err, tt.want) || err == nil || !strings.Contains(err.Error(), tt.mention) {
				t.Errorf("err = %v, want %v mentioning %q", err, tt.want, tt.mention)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(t.TempDir())
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Errorf("Load(empty dir) = %v, want a not-exist error naming tokenizer.json", err)
	}
}

func TestConfigTokens(t *testing.T) {
	tests := []struct {
		name, cfg string
		bos       int32
		hasBOS    bool
		eos       []int32
		addsBOS   bool
		encode    []int32 // Encode("ab", true)
	}{
		{"none", `{}`, 0, false, nil, false, []int32{2}},
		{"strings", `{"bos_token": "a", "eos_token": "<|end|>"}`, 0, true, []int32{5}, false, []int32{2}},
		{"objects", `{"bos_token": {"content": "b", "lstrip": false}, "eos_token": {"__type": "AddedToken", "content": "<|end|>"}}`, 1, true, []int32{5}, false, []int32{2}},
		{"null", `{"bos_token": null, "eos_token": null}`, 0, false, nil, false, []int32{2}},
		{"add flags without template", `{"bos_token": "b", "eos_token": "<|end|>", "add_bos_token": true, "add_eos_token": true}`, 1, true, []int32{5}, true, []int32{1, 2, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := LoadFS(tinyFS(map[string]string{"CONFIG": tt.cfg}))
			if err != nil {
				t.Fatal(err)
			}
			bos, ok := tok.BOS()
			if bos != tt.bos || ok != tt.hasBOS {
				t.Errorf("BOS() = %d, %v; want %d, %v", bos, ok, tt.bos, tt.hasBOS)
			}
			if eos := tok.EOS(); !slices.Equal(eos, tt.eos) {
				t.Errorf("EOS() = %v, want %v", eos, tt.eos)
			}
			if tok.AddsBOS() != tt.addsBOS {
				t.Errorf("AddsBOS() = %v, want %v", tok.AddsBOS(), tt.addsBOS)
			}
			if got := tok.Encode("ab", true); !slices.Equal(got, tt.encode) {
				t.Errorf("Encode(ab, true) = %v, want %v", got, tt.encode)
			}
		})
	}
}
