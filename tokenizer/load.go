package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// File names read from a tokenizer directory.
const (
	tokenizerFile  = "tokenizer.json"
	configFile     = "tokenizer_config.json"
	generationFile = "generation_config.json"
	spmModelFile   = "tokenizer.model"
)

// Load reads dir/tokenizer.json (else a SentencePiece dir/tokenizer.model or
// dir/tokenizer.model.*) and, when present, dir/tokenizer_config.json and
// dir/generation_config.json (for the end-of-sequence ids).
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
	t, err := loadModel(fsys, name)
	if err != nil {
		return nil, err
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

// loadModel reads tokenizer.json, or, when the directory has none, a
// SentencePiece model: tokenizer.model, else one tokenizer.model.* file
// (Mistral names them tokenizer.model.v3 and so on).
func loadModel(fsys fs.FS, name func(string) string) (*Tokenizer, error) {
	data, err := fs.ReadFile(fsys, tokenizerFile)
	if err == nil {
		t, err := parseTokenizer(data)
		if err != nil {
			return nil, fmt.Errorf("load %s: %w", name(tokenizerFile), err)
		}
		return t, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("load %s: %w", name(tokenizerFile), err)
	}
	spmFile := spmModelFile
	data, err = fs.ReadFile(fsys, spmFile)
	if errors.Is(err, fs.ErrNotExist) {
		matches, _ := fs.Glob(fsys, spmModelFile+".*")
		if len(matches) != 1 {
			return nil, fmt.Errorf("load %s: no %s, no %s and %d %s.* files: %w",
				name("."), tokenizerFile, spmModelFile, len(matches), spmModelFile, fs.ErrNotExist)
		}
		spmFile = matches[0]
		data, err = fs.ReadFile(fsys, spmFile)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name(spmFile), err)
	}
	t, err := parseSentencePiece(data)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", name(spmFile), err)
	}
	return t, nil
}

// parseSentencePiece builds a Tokenizer from a serialized SentencePiece
// ModelProto.
func parseSentencePiece(data []byte) (*Tokenizer, error) {
	p, err := parseSPM(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	t := &Tokenizer{}
	if err := t.fromSPM(p); err != nil {
		return nil, err
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

// bpeJSON holds the options of a BPE model object; its vocab and merges
// are read by jsonfast.go.
type bpeJSON struct {
	Type                    string   `json:"type"`
	Dropout                 *float64 `json:"dropout"`
	UnkToken                *string  `json:"unk_token"`
	ContinuingSubwordPrefix *string  `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string  `json:"end_of_word_suffix"`
	FuseUnk                 bool     `json:"fuse_unk"`
	ByteFallback            bool     `json:"byte_fallback"`
	IgnoreMerges            bool     `json:"ignore_merges"`
}

// parseTokenizer builds a Tokenizer from tokenizer.json. Truncation and
// padding are not read: they do not change the ids of a single encode.
func parseTokenizer(data []byte) (*Tokenizer, error) {
	top, err := readObject(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	var added []addedToken
	if raw := top["added_tokens"]; !isNull(raw) {
		if err := json.Unmarshal(raw, &added); err != nil {
			return nil, fmt.Errorf("added_tokens: %w: %v", ErrInvalid, err)
		}
	}
	if isNull(top["model"]) {
		return nil, fmt.Errorf("no model: %w", ErrInvalid)
	}
	t := &Tokenizer{}
	if t.normalizer, err = parseNormalizer(top["normalizer"]); err != nil {
		return nil, err
	}
	var byteLevel bool
	if t.preTokenizer, byteLevel, err = parsePreTokenizer(top["pre_tokenizer"]); err != nil {
		return nil, err
	}
	if t.decoder, err = parseDecoder(top["decoder"]); err != nil {
		return nil, err
	}
	vocab, err := t.parseModel(top["model"], byteLevel)
	if err != nil {
		return nil, err
	}
	if err := t.buildVocab(vocab, added); err != nil {
		return nil, err
	}
	if t.template, err = parsePostProcessor(top["post_processor"]); err != nil {
		return nil, err
	}
	for _, id := range append(append([]int32(nil), t.template.prefix...), t.template.suffix...) {
		if !t.known(id) {
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
	// The vocab and merges are read by hand (jsonfast.go); the small
	// fields go through encoding/json.
	fields, err := readObject(raw)
	if err != nil {
		return nil, fmt.Errorf("model: %w: %v", ErrInvalid, err)
	}
	small := []byte{'{'}
	for k, val := range fields {
		if k == "vocab" || k == "merges" {
			continue
		}
		if len(small) > 1 {
			small = append(small, ',')
		}
		key, _ := json.Marshal(k)
		small = append(append(append(small, key...), ':'), val...)
	}
	small = append(small, '}')
	var v bpeJSON
	if err := json.Unmarshal(small, &v); err != nil {
		return nil, fmt.Errorf("model: %w: %v", ErrInvalid, err)
	}
	if v.Type != "" && v.Type != "BPE" {
		return nil, fmt.Errorf("model type %q: %w", v.Type, ErrUnsupported)
	}
	rawVocab, rawMerges := fields["vocab"], fields["merges"]
	if isNull(rawVocab) {
		return nil, fmt.Errorf("model without a BPE vocab: %w", ErrUnsupported)
	}
	vocab, err := readVocab(rawVocab)
	if err != nil {
		return nil, fmt.Errorf("model vocab: %w: %v", ErrInvalid, err)
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
		merges:       make(map[uint64]uint64, len(rawMerges)/12),
	}
	m.cache.init()
	if v.UnkToken != nil {
		id, ok := vocab[*v.UnkToken]
		if !ok {
			return nil, fmt.Errorf("model BPE unk_token %q not in the vocabulary: %w", *v.UnkToken, ErrInvalid)
		}
		m.unkID = id
	}
	for b := range 256 {
		m.byteIDs[b], m.fallbackIDs[b] = -1, -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.fallbackIDs[b] = id
		}
	}
	if byteLevel {
		m.vocab = make(map[string]int32, len(vocab))
		var buf []byte
		for tok, id := range vocab {
			var ok bool
			if buf, ok = appendByteLevel(buf[:0], tok); ok {
				m.vocab[string(buf)] = id
			} else {
				if m.unreachable == nil {
					m.unreachable = map[string]int32{}
				}
				m.unreachable[tok] = id
			}
		}
		for b := range 256 {
			if id, ok := m.vocab[string([]byte{byte(b)})]; ok {
				m.byteIDs[b] = id
			}
		}
	} else {
		m.vocab = vocab
	}
	if !isNull(rawMerges) {
		var cat []byte
		err := readMerges(rawMerges, func(i int, a, b []byte) error {
			ia, okA := vocab[string(a)]
			ib, okB := vocab[string(b)]
			cat = append(append(cat[:0], a...), b...)
			ic, okC := vocab[string(cat)]
			if !okA || !okB || !okC {
				return fmt.Errorf("merge %d [%q %q]: token not in the vocabulary", i, a, b)
			}
			m.merges[uint64(uint32(ia))<<32|uint64(uint32(ib))] = uint64(i)<<32 | uint64(uint32(ic))
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("model BPE merges: %w: %v", ErrInvalid, err)
		}
	}
	t.model = m
	return vocab, nil
}

// buildVocab fills the id → token table, the special-token flags and the
// added-token matchers. Added tokens get their ids the way the reference
// library assigns them on load, ignoring the id written in the file: the id
// of the same text in the vocabulary (or an earlier added token), else the
// next id after the vocabulary and the added tokens so far. A normalized
// added token decodes as its normalized text, as in the reference.
func (t *Tokenizer) buildVocab(vocab map[string]int32, added []addedToken) error {
	t.added = make(map[string]int32, len(added))
	size := 0
	for _, id := range vocab {
		size = max(size, int(id)+1)
	}
	known := func(s string) (int32, bool) {
		if id, ok := t.added[s]; ok {
			return id, true
		}
		id, ok := vocab[s]
		return id, ok
	}
	maxAdded := int32(-1)
	for i := range added {
		a := &added[i]
		if a.Content == "" {
			a.ID = -1
			continue
		}
		if id, ok := known(a.Content); ok {
			a.ID = id
		} else if maxAdded >= int32(len(vocab)) {
			a.ID = maxAdded + 1
		} else {
			a.ID = int32(len(vocab))
		}
		t.added[a.Content] = a.ID
		maxAdded = max(maxAdded, a.ID)
		size = max(size, int(a.ID)+1)
	}
	if count := len(vocab) + len(added); size > 4*count+1<<16 {
		return fmt.Errorf("token ids up to %d for %d tokens: %w", size-1, count, ErrInvalid)
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
	if t.fromSentencePiece {
		// Without tokenizer.json the flags decide, as for the slow
		// (SentencePiece) tokenizers of transformers.
		if c.AddBOSToken != nil && !*c.AddBOSToken {
			t.template.prefix = nil
		}
		if c.AddEOSToken != nil && *c.AddEOSToken && hasEOS {
			t.template.suffix = []int32{eos}
		}
		return nil
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
