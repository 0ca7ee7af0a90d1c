package tokenizer

import (
	"hash/maphash"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
)

// bpe is the BPE model: it turns one pre-token ("word") into ids by
// starting from single characters (or bytes) and applying merges in rank
// order, exactly as tokenizers' BPE::merge_word and Word::merge_all do.
type bpe struct {
	// vocab maps a token to its id. For a byte-level model the key is the
	// raw bytes the token stands for (the pre-tokenizer never maps text to
	// the byte-level alphabet), and tokens with runes outside that alphabet
	// are left out: no input can produce them.
	vocab       map[string]int32
	unreachable map[string]int32  // byte-level tokens outside the alphabet
	merges      map[uint64]uint64 // left<<32|right → rank<<32|new id
	byteLevel   bool
	byteIDs     [256]int32 // byte-level: id of each single byte, -1 if none

	byteFallback bool
	fallbackIDs  [256]int32 // id of <0xNN>, -1 if none
	unkID        int32      // -1 without an unk token
	fuseUnk      bool
	ignoreMerges bool

	spm *spmModel // non-nil: merge like SentencePiece (spm.go)

	cache wordCache
}

// symbol is one node of the doubly linked list of a word being merged.
type symbol struct {
	id         int32
	prev, next int32
	gone       bool
}

// mergeItem is a candidate merge of the pair starting at pos.
type mergeItem struct {
	rank  uint32
	newID int32
	pos   int32
}

// bpeScratch holds the buffers of one merge, reused across words.
type bpeScratch struct {
	syms []symbol
	heap []mergeItem

	spmSyms []spmSymbol
	spmHeap []spmPair
}

func (s *bpeScratch) add(id int32) {
	n := int32(len(s.syms))
	s.syms = append(s.syms, symbol{id: id, prev: n - 1, next: n + 1})
}

// encodeWord appends the ids of word w to dst.
func (m *bpe) encodeWord(dst []int32, w string, sc *bpeScratch) []int32 {
	if w == "" {
		return dst
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[w]; ok {
			return append(dst, id)
		}
	}
	if ids, ok := m.cache.get(w); ok {
		return append(dst, ids...)
	}
	if m.spm != nil {
		start := len(dst)
		dst = m.spmEncode(dst, w, sc)
		m.cache.put(w, dst[start:])
		return dst
	}
	sc.syms = sc.syms[:0]
	if m.byteLevel {
		m.byteSymbols(w, sc)
	} else {
		m.charSymbols(w, sc)
	}
	if n := len(sc.syms); n > 0 {
		sc.syms[n-1].next = -1
	}
	m.mergeAll(sc)
	start := len(dst)
	for i := range sc.syms {
		if !sc.syms[i].gone {
			dst = append(dst, sc.syms[i].id)
		}
	}
	m.cache.put(w, dst[start:])
	return dst
}

// unkState mirrors merge_word's pending unknown token: consecutive unknown
// characters fuse into one when fuse_unk is set.
type unkState struct{ pending bool }

func (m *bpe) unknown(u *unkState, sc *bpeScratch) {
	if m.unkID < 0 {
		return
	}
	if u.pending && !m.fuseUnk {
		sc.add(m.unkID)
	}
	u.pending = true
}

func (m *bpe) known(u *unkState, sc *bpeScratch, id int32) {
	if u.pending {
		sc.add(m.unkID)
		u.pending = false
	}
	sc.add(id)
}

// fallback adds the <0xNN> tokens of s and reports whether all exist. Like
// the reference, it does not flush a pending unknown token first.
func (m *bpe) fallback(s string, sc *bpeScratch) bool {
	if !m.canFallback(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		sc.add(m.fallbackIDs[s[i]])
	}
	return true
}

// canFallback reports whether every byte of s has a <0xNN> token.
func (m *bpe) canFallback(s string) bool {
	if !m.byteFallback {
		return false
	}
	for i := 0; i < len(s); i++ {
		if m.fallbackIDs[s[i]] < 0 {
			return false
		}
	}
	return true
}

func (m *bpe) charSymbols(w string, sc *bpeScratch) {
	var u unkState
	for i := 0; i < len(w); {
		_, n := utf8.DecodeRuneInString(w[i:])
		s := w[i : i+n]
		i += n
		if id, ok := m.vocab[s]; ok {
			m.known(&u, sc, id)
		} else if !m.fallback(s, sc) {
			m.unknown(&u, sc)
		}
	}
	if u.pending {
		sc.add(m.unkID)
	}
}

func (m *bpe) byteSymbols(w string, sc *bpeScratch) {
	var u unkState
	for i := 0; i < len(w); i++ {
		if id := m.byteIDs[w[i]]; id >= 0 {
			m.known(&u, sc, id)
		} else if !m.fallback(w[i:i+1], sc) {
			m.unknown(&u, sc)
		}
	}
	if u.pending {
		sc.add(m.unkID)
	}
}

func (m *bpe) lookupMerge(a, b int32) (rank uint32, newID int32, ok bool) {
	v, ok := m.merges[uint64(uint32(a))<<32|uint64(uint32(b))]
	return uint32(v >> 32), int32(uint32(v)), ok
}

// mergeAll applies merges lowest rank first (leftmost among equal ranks)
// using a binary heap of candidate pairs; stale candidates are skipped when
// popped. O(n log n) in the number of symbols.
func (m *bpe) mergeAll(sc *bpeScratch) {
	syms := sc.syms
	h := sc.heap[:0]
	for i := 0; i+1 < len(syms); i++ {
		if rank, id, ok := m.lookupMerge(syms[i].id, syms[i+1].id); ok {
			h = heapPush(h, mergeItem{rank, id, int32(i)})
		}
	}
	for len(h) > 0 {
		var top mergeItem
		top, h = heapPop(h)
		left := &syms[top.pos]
		if left.gone || left.next < 0 {
			continue
		}
		rightPos := left.next
		right := &syms[rightPos]
		if _, id, ok := m.lookupMerge(left.id, right.id); !ok || id != top.newID {
			continue
		}
		left.id = top.newID
		left.next = right.next
		right.gone = true
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if left.prev >= 0 {
			if rank, id, ok := m.lookupMerge(syms[left.prev].id, left.id); ok {
				h = heapPush(h, mergeItem{rank, id, left.prev})
			}
		}
		if left.next >= 0 {
			if rank, id, ok := m.lookupMerge(left.id, syms[left.next].id); ok {
				h = heapPush(h, mergeItem{rank, id, top.pos})
			}
		}
	}
	sc.heap = h
}

func itemLess(a, b mergeItem) bool {
	return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos
}

func heapPush(h []mergeItem, it mergeItem) []mergeItem {
	h = append(h, it)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !itemLess(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func heapPop(h []mergeItem) (mergeItem, []mergeItem) {
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		c := l
		if r := l + 1; r < n && itemLess(h[r], h[l]) {
			c = r
		}
		if !itemLess(h[c], h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	return top, h
}

// wordCache remembers the ids of words already merged. It is sharded to
// keep lock contention low and stops growing at a fixed size (like the
// reference library's cache, it never evicts).
type wordCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
	size   atomic.Int64
}

const (
	cacheShards   = 64
	cacheCapacity = 1 << 16 // entries
	maxCachedWord = 256     // bytes; longer words are not cached
)

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int32
	_  [32]byte // keep shards on separate cache lines
}

func (c *wordCache) init() {
	c.seed = maphash.MakeSeed()
	for i := range c.shards {
		c.shards[i].m = make(map[string][]int32)
	}
}

func (c *wordCache) shard(w string) *cacheShard {
	return &c.shards[maphash.String(c.seed, w)%cacheShards]
}

func (c *wordCache) get(w string) ([]int32, bool) {
	if len(w) > maxCachedWord {
		return nil, false
	}
	s := c.shard(w)
	s.mu.RLock()
	ids, ok := s.m[w]
	s.mu.RUnlock()
	return ids, ok
}

func (c *wordCache) put(w string, ids []int32) {
	if len(w) > maxCachedWord || c.size.Load() >= cacheCapacity {
		return
	}
	s := c.shard(w)
	s.mu.Lock()
	if _, ok := s.m[w]; !ok {
		s.m[strings.Clone(w)] = append([]int32(nil), ids...)
		c.size.Add(1)
	}
	s.mu.Unlock()
}
