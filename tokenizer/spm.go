package tokenizer

import (
	"fmt"
	"strings"
)

// spmModel makes a bpe model encode the way SentencePiece's BPE model does
// (bpe_model.cc): start from characters (user-defined pieces matched whole
// and frozen), repeatedly merge the adjacent pair whose concatenation is the
// piece with the highest score (leftmost on ties), split merged unused
// pieces back into their parts, and turn what is left unknown into byte
// pieces (byte fallback) or one unknown id per run.
type spmModel struct {
	pieces  map[string]int32 // normal, user-defined and unused pieces: what merges may produce
	scores  []float32        // id → score
	unused  []bool           // id → UNUSED piece (resegmented after merging)
	user    *matcher         // user-defined pieces, or nil
	userIDs []int32          // matcher token index → id
}

// spmSymbol is a symbol of the word being merged: the bytes w[start:end].
type spmSymbol struct {
	start, end int32
	prev, next int32
	frozen     bool
}

// spmPair is a candidate merge of symbols left and right into a piece of
// size bytes.
type spmPair struct {
	score       float32
	left, right int32
	size        int32
}

// spmBefore orders the agenda: higher score first, then leftmost.
func spmBefore(a, b spmPair) bool {
	return a.score > b.score || a.score == b.score && a.left < b.left
}

// spmEncode appends the ids of one normalized segment w.
func (m *bpe) spmEncode(dst []int32, w string, sc *bpeScratch) []int32 {
	s := m.spm
	syms := sc.spmSyms[:0]
	for i := 0; i < len(w); {
		n, frozen := 0, false
		if s.user != nil {
			if k, l := s.user.longest(w[i:]); k >= 0 {
				n, frozen = l, true
			}
		}
		if n == 0 {
			n = utf8Len(w, i)
		}
		k := int32(len(syms))
		syms = append(syms, spmSymbol{start: int32(i), end: int32(i + n), prev: k - 1, next: k + 1, frozen: frozen})
		i += n
	}
	if len(syms) == 0 {
		return dst
	}
	syms[len(syms)-1].next = -1
	agenda := sc.spmHeap[:0]
	add := func(l, r int32) {
		if l < 0 || r < 0 || syms[l].frozen || syms[r].frozen {
			return
		}
		id, ok := s.pieces[w[syms[l].start:syms[r].end]]
		if !ok {
			return
		}
		agenda = spmPush(agenda, spmPair{s.scores[id], l, r, syms[r].end - syms[l].start})
	}
	for i := int32(1); i < int32(len(syms)); i++ {
		add(i-1, i)
	}
	for len(agenda) > 0 {
		var top spmPair
		top, agenda = spmPop(agenda)
		l, r := &syms[top.left], &syms[top.right]
		// Skip pairs made stale by an earlier merge.
		if l.end == l.start || r.end == r.start || r.end-l.start != top.size || l.end != r.start {
			continue
		}
		l.end = r.end
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = top.left
		}
		r.start, r.end = 0, 0
		add(l.prev, top.left)
		add(top.left, l.next)
	}
	sc.spmSyms, sc.spmHeap = syms, agenda
	unk := false // the previous symbol was unknown (runs fuse into one id)
	for i := int32(0); i >= 0; i = syms[i].next {
		piece := w[syms[i].start:syms[i].end]
		if syms[i].frozen {
			k, _ := s.user.longest(piece)
			dst, unk = append(dst, s.userIDs[k]), false
			continue
		}
		if id, ok := s.pieces[piece]; ok {
			dst, unk = m.spmResegment(dst, piece, id), false
			continue
		}
		if m.canFallback(piece) {
			for k := 0; k < len(piece); k++ {
				dst = append(dst, m.fallbackIDs[piece[k]])
			}
			unk = false
			continue
		}
		if !unk && m.unkID >= 0 {
			dst = append(dst, m.unkID)
		}
		unk = true
	}
	return dst
}

// spmResegment appends id, or, for an unused piece, the pieces it splits
// into: the split with the highest-scoring left part whose both halves
// exist, recursively (SentencePiece records the pair that produced it; any
// split that merging could have produced gives the same pieces here).
func (m *bpe) spmResegment(dst []int32, piece string, id int32) []int32 {
	s := m.spm
	if !s.unused[id] {
		return append(dst, id)
	}
	best, bestScore := -1, float32(0)
	for k := utf8Len(piece, 0); k < len(piece); k += utf8Len(piece, k) {
		li, okL := s.pieces[piece[:k]]
		_, okR := s.pieces[piece[k:]]
		if okL && okR && (best < 0 || s.scores[li] > bestScore) {
			best, bestScore = k, s.scores[li]
		}
	}
	if best < 0 {
		return append(dst, id)
	}
	dst = m.spmResegment(dst, piece[:best], s.pieces[piece[:best]])
	return m.spmResegment(dst, piece[best:], s.pieces[piece[best:]])
}

// utf8Len is the length of the UTF-8 character at s[i] (1 for a stray byte).
func utf8Len(s string, i int) int {
	c := s[i]
	n := 1
	switch {
	case c >= 0xF0:
		n = 4
	case c >= 0xE0:
		n = 3
	case c >= 0xC0:
		n = 2
	}
	return min(n, len(s)-i)
}

func spmPush(h []spmPair, it spmPair) []spmPair {
	h = append(h, it)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !spmBefore(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func spmPop(h []spmPair) (spmPair, []spmPair) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && spmBefore(h[r], h[l]) {
			c = r
		}
		if !spmBefore(h[c], h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	return top, h
}

// spmNormalizer is SentencePiece's remove_extra_whitespaces: no leading,
// trailing or repeated spaces.
type spmNormalizer struct{}

func (spmNormalizer) normalize(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == ' ' }), " ")
}

// spmPreTokenizer writes spaces as "▁" and adds SentencePiece's dummy
// prefix to the piece that starts the input (even when it already starts
// with a space, unlike the Metaspace pre-tokenizer).
type spmPreTokenizer struct{ dummyPrefix bool }

func (sp spmPreTokenizer) preTokenize(dst []piece, p piece, _ *scratch) []piece {
	s := strings.ReplaceAll(p.text, " ", "▁")
	if sp.dummyPrefix && p.first {
		s = "▁" + s
	}
	return append(dst, piece{s, p.first})
}

// fromSPM builds the tokenizer of a SentencePiece BPE model the way
// transformers' LlamaTokenizer (legacy=False) builds it from the same file:
// control pieces and <unk> are special added tokens cut out of the text;
// every other stretch has its spaces written as "▁", gets SentencePiece's
// dummy-prefix "▁" only when it starts the input (like Metaspace with
// prepend scheme "first", but also before a leading space, as SentencePiece
// does), and is encoded by SentencePiece's algorithm; BOS is
// added; decoding undoes the escaping and the dummy prefix. For text
// without control pieces this is exactly SentencePiece's encoding; after a
// control piece a space is not doubled ("[INST] Hi" gives [INST] ▁Hi), as
// mistral-common tokenizes chats.
func (t *Tokenizer) fromSPM(p *spmProto) error {
	if p.modelType != spmBPE {
		name := map[int]string{spmUnigram: "unigram", spmWord: "word", spmChar: "char"}[p.modelType]
		return fmt.Errorf("sentencepiece model type %d (%s): %w", p.modelType, name, ErrUnsupported)
	}
	if p.charsMap > 0 || p.normalizationRules {
		return fmt.Errorf("sentencepiece normalizer %q with normalization rules: %w", p.normalizerName, ErrUnsupported)
	}
	if p.whitespaceAsSuffix {
		return fmt.Errorf("sentencepiece treat_whitespace_as_suffix: %w", ErrUnsupported)
	}
	if p.denormalizerPresent {
		return fmt.Errorf("sentencepiece denormalizer_spec: %w", ErrUnsupported)
	}
	if len(p.pieces) == 0 {
		return fmt.Errorf("sentencepiece model without pieces: %w", ErrInvalid)
	}
	n := len(p.pieces)
	vocab := make(map[string]int32, n)
	s := &spmModel{pieces: make(map[string]int32, n), scores: make([]float32, n), unused: make([]bool, n)}
	m := &bpe{vocab: vocab, byteFallback: p.byteFallback, unkID: -1, merges: map[uint64]uint64{}, spm: s}
	m.cache.init()
	for b := range 256 {
		m.byteIDs[b], m.fallbackIDs[b] = -1, -1
	}
	var added []addedToken
	var userPats []string
	var userToks []*addedToken
	for i, pc := range p.pieces {
		id := int32(i)
		if _, dup := vocab[pc.piece]; dup {
			return fmt.Errorf("sentencepiece piece %q appears twice: %w", pc.piece, ErrInvalid)
		}
		vocab[pc.piece] = id
		s.scores[id] = pc.score
		switch pc.typ {
		case pieceNormal, pieceUserDefined, pieceUnused:
			s.pieces[pc.piece] = id
			s.unused[id] = pc.typ == pieceUnused
			if pc.typ == pieceUserDefined && pc.piece != "" {
				userPats = append(userPats, pc.piece)
				userToks = append(userToks, &addedToken{ID: id})
				s.userIDs = append(s.userIDs, id)
			}
		case pieceUnknown:
			m.unkID = id
			added = append(added, addedToken{ID: id, Content: pc.piece, Special: true})
		case pieceControl:
			if pc.piece != "" {
				added = append(added, addedToken{ID: id, Content: pc.piece, Special: true})
			}
		case pieceByte:
			b, ok := parseByteToken(pc.piece)
			if !ok {
				return fmt.Errorf("sentencepiece byte piece %q: %w", pc.piece, ErrInvalid)
			}
			m.fallbackIDs[b] = id
		default:
			return fmt.Errorf("sentencepiece piece %q of type %d: %w", pc.piece, pc.typ, ErrUnsupported)
		}
	}
	if len(userPats) > 0 {
		s.user = newMatcher(userPats, userToks)
	}
	if !p.escapeWhitespaces {
		return fmt.Errorf("sentencepiece escape_whitespaces false: %w", ErrUnsupported)
	}
	t.model = m
	if p.removeExtraSpaces {
		t.normalizer = spmNormalizer{}
	}
	t.preTokenizer = spmPreTokenizer{dummyPrefix: p.addDummyPrefix}
	dec := sequenceDecoder{replaceDecoder{"▁", " "}, byteFallbackDecoder{}, fuseDecoder{}}
	if p.addDummyPrefix {
		dec = append(dec, stripDecoder{' ', 1, 0})
	}
	t.decoder = dec
	if err := t.buildVocab(vocab, added); err != nil {
		return err
	}
	if p.bosID >= 0 && int(p.bosID) < n {
		t.bos, t.hasBOS = p.bosID, true
		t.template.prefix = []int32{p.bosID}
	}
	if p.eosID >= 0 && int(p.eosID) < n {
		t.eos = []int32{p.eosID}
	}
	t.fromSentencePiece = true
	t.decodeMode = decodeMode(t.decoder)
	t.pool.New = func() any { return new(encodeState) }
	return nil
}
