package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// File names read from a tokenizer directory.
const (
	tokenizerFile  = "tokenizer.json"
	configFile     = "tokenizer_config.json"
	generationFile = "generation_config.json"
)

// Load reads dir/tokenizer.json and, when present, dir/tokenizer_config.json
// and dir/generation_config.json (for the end-of-sequence ids).
func Load(dir string) (*Tokenizer, error) {
	return load(os.DirFS(dir), dir)
}

// LoadFS is Load over a file system whose root holds the tokenizer files.
func LoadFS(fsys fs.FS) (*Tokenizer, error) {
	return load(fsys, "")
}

func load(fsys fs.FS, dir string) (*Tokenizer, error) {
	name := func(f string) string {
		if dir == "" {
			return f
		}
		return filepath.Join(dir, f)
	}
	data, err := fs.ReadFile(fsys, tokenizerFile)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name(tokenizerFile), err)
	}
	t, err := parseTokenizer(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name(tokenizerFile), err)
	}
	cfg, err := readOptional(fsys, configFile)
	if err == nil && cfg != nil {
		err = t.applyConfig(cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name(configFile), err)
	}
	gen, err := readOptional(fsys, generationFile)
	if err == nil && gen != nil {
		err = t.applyGenerationConfig(gen)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name(generationFile), err)
	}
	return t, nil
}

// readOptional returns nil data when the file does not exist.
func readOptional(fsys fs.FS, file string) ([]byte, error) {
	data, err := fs.ReadFile(fsys, file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return data, err
}

// fileJSON is the top level of tokenizer.json. Truncation and padding are
// not read: they do not change the ids of a single encode.
type fileJSON struct {
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	Model         json.RawMessage `json:"model"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
}

// bpeJSON is the model object of a BPE tokenizer.json.
type bpeJSON struct {
	Type                    string           `json:"type"`
	Dropout                 *float64         `json:"dropout"`
	UnkToken                *string          `json:"unk_token"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	FuseUnk                 bool             `json:"fuse_unk"`
	ByteFallback            bool             `json:"byte_fallback"`
	IgnoreMerges            bool             `json:"ignore_merges"`
	Vocab                   map[string]int32 `json:"vocab"`
	Merges                  mergeList        `json:"merges"`
}

// mergeList reads merges in either form: "a b" strings or ["a", "b"] pairs.
type mergeList [][2]string

func (m *mergeList) UnmarshalJSON(b []byte) error {
	rest := bytes.TrimSpace(b)
	if len(rest) > 0 && rest[0] == '[' {
		rest = bytes.TrimSpace(rest[1:])
	}
	if len(rest) == 0 || rest[0] != '"' {
		var pairs [][2]string
		if err := json.Unmarshal(b, &pairs); err != nil {
			return err
		}
		*m = pairs
		return nil
	}
	var lines []string
	if err := json.Unmarshal(b, &lines); err != nil {
		return err
	}
	pairs := make([][2]string, len(lines))
	for i, l := range lines {
		a, c, ok := strings.Cut(l, " ")
		if !ok || strings.Contains(c, " ") {
			return fmt.Errorf("merge %d %q is not two tokens separated by one space", i, l)
		}
		pairs[i] = [2]string{a, c}
	}
	*m = pairs
	return nil
}

func parseTokenizer(data []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if isNull(f.Model) {
		return nil, fmt.Errorf("no model: %w", ErrInvalid)
	}
	t := &Tokenizer{}
	var err error
	if t.normalizer, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	var byteLevel bool
	if t.preTokenizer, byteLevel, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, err
	}
	if t.decoder, err = parseDecoder(f.Decoder); err != nil {
		return nil, err
	}
	vocab, err := t.parseModel(f.Model, byteLevel)
	if err != nil {
		return nil, err
	}
	if err := t.buildVocab(vocab, f.AddedTokens); err != nil {
		return nil, err
	}
	if t.template, err = parsePostProcessor(f.PostProcessor, t.TokenID); err != nil {
		return nil, err
	}
	for _, id := range append(append([]int32(nil), t.template.prefix...), t.template.suffix...) {
		if id < 0 || int(id) >= len(t.tokens) {
			return nil, fmt.Errorf("post_processor: token id %d outside the vocabulary: %w", id, ErrInvalid)
		}
	}
	t.buildByteTable()
	t.decodeMode = decodeMode(t.decoder)
	if len(t.template.prefix) > 0 {
		t.bos, t.hasBOS = t.template.prefix[0], true
	}
	t.pool.New = func() any { return new(encodeState) }
	return t, nil
}

// parseModel builds the BPE model and returns its vocabulary (token → id,
// as written in the file).
func (t *Tokenizer) parseModel(raw json.RawMessage, byteLevel bool) (map[string]int32, error) {
	typ, err := componentType(raw)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if typ != "" && typ != "BPE" {
		return nil, fmt.Errorf("model type %q: %w", typ, ErrUnsupported)
	}
	var v bpeJSON
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("model: %w: %v", ErrInvalid, err)
	}
	if v.Type == "" && v.Vocab == nil {
		return nil, fmt.Errorf("model without type or BPE vocab: %w", ErrUnsupported)
	}
	if v.Dropout != nil && *v.Dropout > 0 {
		return nil, fmt.Errorf("model BPE dropout %v: %w", *v.Dropout, ErrUnsupported)
	}
	if v.ContinuingSubwordPrefix != nil && *v.ContinuingSubwordPrefix != "" {
		return nil, fmt.Errorf("model BPE continuing_subword_prefix %q: %w", *v.ContinuingSubwordPrefix, ErrUnsupported)
	}
	if v.EndOfWordSuffix != nil && *v.EndOfWordSuffix != "" {
		return nil, fmt.Errorf("model BPE end_of_word_suffix %q: %w", *v.EndOfWordSuffix, ErrUnsupported)
	}
	m := &bpe{
		byteLevel:    byteLevel,
		byteFallback: v.ByteFallback,
		fuseUnk:      v.FuseUnk,
		ignoreMerges: v.IgnoreMerges,
		unkID:        -1,
		merges:       make(map[uint64]uint64, len(v.Merges)),
	}
	m.cache.init()
	if v.UnkToken != nil {
		id, ok := v.Vocab[*v.UnkToken]
		if !ok {
			return nil, fmt.Errorf("model BPE unk_token %q not in the vocabulary: %w", *v.UnkToken, ErrInvalid)
		}
		m.unkID = id
	}
	for b := range 256 {
		m.byteIDs[b], m.fallbackIDs[b] = -1, -1
		if id, ok := v.Vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.fallbackIDs[b] = id
		}
	}
	if byteLevel {
		m.vocab = make(map[string]int32, len(v.Vocab))
		for tok, id := range v.Vocab {
			if b, ok := byteLevelToBytes(tok); ok {
				m.vocab[string(b)] = id
			}
		}
		for b := range 256 {
			if id, ok := m.vocab[string([]byte{byte(b)})]; ok {
				m.byteIDs[b] = id
			}
		}
	} else {
		m.vocab = v.Vocab
	}
	for i, pair := range v.Merges {
		a, okA := v.Vocab[pair[0]]
		b, okB := v.Vocab[pair[1]]
		c, okC := v.Vocab[pair[0]+pair[1]]
		if !okA || !okB || !okC {
			return nil, fmt.Errorf("model BPE merge %d %q: token not in the vocabulary: %w", i, pair, ErrInvalid)
		}
		m.merges[uint64(uint32(a))<<32|uint64(uint32(b))] = uint64(i)<<32 | uint64(uint32(c))
	}
	t.model = m
	return v.Vocab, nil
}

// buildVocab fills the id → token table, the special-token flags and the
// added-token matchers. Added tokens get their ids the way the reference
// library assigns them on load, ignoring the id written in the file: the id
// of the same text in the vocabulary (or an earlier added token), else the
// next id after the vocabulary and the added tokens so far. A normalized
// added token decodes as its normalized text, as in the reference.
func (t *Tokenizer) buildVocab(vocab map[string]int32, added []addedToken) error {
	t.ids = make(map[string]int32, len(vocab)+len(added))
	size := 0
	for tok, id := range vocab {
		if id < 0 {
			return fmt.Errorf("model: token %q has negative id %d: %w", tok, id, ErrInvalid)
		}
		size = max(size, int(id)+1)
		t.ids[tok] = id
	}
	maxAdded := int32(-1)
	for i := range added {
		a := &added[i]
		if a.Content == "" {
			a.ID = -1
			continue
		}
		if id, ok := t.ids[a.Content]; ok {
			a.ID = id
		} else if maxAdded >= int32(len(vocab)) {
			a.ID = maxAdded + 1
		} else {
			a.ID = int32(len(vocab))
		}
		t.ids[a.Content] = a.ID
		maxAdded = max(maxAdded, a.ID)
		size = max(size, int(a.ID)+1)
	}
	t.tokens = make([]string, size)
	t.present = make([]bool, size)
	t.special = make([]bool, size)
	for tok, id := range vocab {
		t.tokens[id], t.present[id] = tok, true
	}
	var rawPats, normPats []string
	var rawToks, normToks []*addedToken
	for i := range added {
		a := &added[i]
		if a.ID < 0 {
			continue
		}
		text := a.Content
		if a.Normalized && t.normalizer != nil {
			text = t.normalizer.normalize(text)
		}
		t.tokens[a.ID], t.present[a.ID], t.special[a.ID] = text, true, a.Special
		if a.Normalized {
			normPats, normToks = append(normPats, text), append(normToks, a)
		} else {
			rawPats, rawToks = append(rawPats, text), append(rawToks, a)
		}
	}
	if len(rawPats) > 0 {
		t.rawAdded = newMatcher(rawPats, rawToks)
	}
	if len(normPats) > 0 {
		t.normAdded = newMatcher(normPats, normToks)
	}
	return nil
}

// configJSON holds the fields of tokenizer_config.json this package uses.
type configJSON struct {
	AddBOSToken *bool           `json:"add_bos_token"`
	AddEOSToken *bool           `json:"add_eos_token"`
	BOSToken    json.RawMessage `json:"bos_token"`
	EOSToken    json.RawMessage `json:"eos_token"`
}

// tokenContent reads a special token written as a string, as
// {"content": ...}, or as null.
func tokenContent(raw json.RawMessage) (string, bool, error) {
	if isNull(raw) {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, true, nil
	}
	var obj struct {
		Content *string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil || obj.Content == nil {
		return "", false, fmt.Errorf("special token %s is neither a string nor {\"content\": ...}: %w", raw, ErrInvalid)
	}
	return *obj.Content, true, nil
}

// applyConfig reads BOS and EOS from tokenizer_config.json. tokenizer.json's
// post-processor decides what Encode adds; add_bos_token/add_eos_token only
// take effect when tokenizer.json has no post-processor template.
func (t *Tokenizer) applyConfig(data []byte) error {
	var c configJSON
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	bos, hasBOS, err := t.configToken(c.BOSToken, "bos_token")
	if err != nil {
		return err
	}
	eos, hasEOS, err := t.configToken(c.EOSToken, "eos_token")
	if err != nil {
		return err
	}
	if hasBOS {
		t.bos, t.hasBOS = bos, true
	}
	if hasEOS {
		t.eos = []int32{eos}
	}
	if len(t.template.prefix) == 0 && len(t.template.suffix) == 0 {
		if c.AddBOSToken != nil && *c.AddBOSToken && t.hasBOS {
			t.template.prefix = []int32{t.bos}
		}
		if c.AddEOSToken != nil && *c.AddEOSToken && hasEOS {
			t.template.suffix = []int32{eos}
		}
	}
	return nil
}

func (t *Tokenizer) configToken(raw json.RawMessage, field string) (int32, bool, error) {
	s, ok, err := tokenContent(raw)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", field, err)
	}
	if !ok {
		return 0, false, nil
	}
	id, ok := t.TokenID(s)
	if !ok {
		return 0, false, fmt.Errorf("%s %q not in the vocabulary: %w", field, s, ErrInvalid)
	}
	return id, true, nil
}

// applyGenerationConfig adds generation_config.json's eos_token_id (a
// number or a list) to the EOS ids.
func (t *Tokenizer) applyGenerationConfig(data []byte) error {
	var g struct {
		EOS json.RawMessage `json:"eos_token_id"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if isNull(g.EOS) {
		return nil
	}
	var ids []int32
	var one int32
	if err := json.Unmarshal(g.EOS, &one); err == nil {
		ids = []int32{one}
	} else if err := json.Unmarshal(g.EOS, &ids); err != nil {
		return fmt.Errorf("eos_token_id %s: %w", g.EOS, ErrInvalid)
	}
	for _, id := range ids {
		if id < 0 || int(id) >= len(t.tokens) {
			return fmt.Errorf("eos_token_id %d outside the vocabulary: %w", id, ErrInvalid)
		}
		if !containsID(t.eos, id) {
			t.eos = append(t.eos, id)
		}
	}
	return nil
}

func containsID(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
