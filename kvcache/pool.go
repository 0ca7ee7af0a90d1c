package kvcache

import (
	"errors"
	"fmt"
)

// ErrOutOfBlocks is returned when an allocation cannot be met. It is soft:
// the scheduler answers it by preempting a sequence or by waiting.
var ErrOutOfBlocks = errors.New("kv cache: out of blocks")

// NullBlock is the id that is never handed out.
const NullBlock int32 = 0

// none marks the end of the free list and "no block".
const none int32 = -1

// Pool hands out KV blocks. See the package doc for the rules.
type Pool struct {
	blockSize int
	refCount  []int32
	hash      []Hash
	hashed    []bool
	// The free list runs from head (handed out first) to tail (freed last).
	prev, next []int32
	head, tail int32
	numFree    int
	cached     map[Hash]int32
	caching    bool
	stats      Stats
}

// Stats counts pool activity since the pool was made.
type Stats struct {
	QueriedTokens int64 // prompt tokens looked up in the prefix cache
	HitTokens     int64 // of those, found cached
	Evictions     int64 // cached blocks handed out for new content
}

// New returns a pool of numBlocks blocks (including the null block) of
// blockSize tokens. caching turns prefix caching on.
func New(numBlocks, blockSize int, caching bool) (*Pool, error) {
	if numBlocks < 2 {
		return nil, fmt.Errorf("kv cache: %d blocks: need at least 2 (one is the null block)", numBlocks)
	}
	if blockSize < 1 {
		return nil, fmt.Errorf("kv cache: block size %d: must be positive", blockSize)
	}
	p := &Pool{
		blockSize: blockSize,
		refCount:  make([]int32, numBlocks),
		hash:      make([]Hash, numBlocks),
		hashed:    make([]bool, numBlocks),
		prev:      make([]int32, numBlocks),
		next:      make([]int32, numBlocks),
		head:      none,
		tail:      none,
		cached:    make(map[Hash]int32),
		caching:   caching,
	}
	p.refCount[NullBlock] = 1 // permanently in use
	for id := int32(1); id < int32(numBlocks); id++ {
		p.pushTail(id)
	}
	return p, nil
}

// BlockSize is the number of token slots per block.
func (p *Pool) BlockSize() int { return p.blockSize }

// NumBlocks is the number of blocks, the null block included.
func (p *Pool) NumBlocks() int { return len(p.refCount) }

// Capacity is the number of blocks that can be handed out.
func (p *Pool) Capacity() int { return len(p.refCount) - 1 }

// NumFree is the number of blocks that can be handed out now (free ones,
// cached or not).
func (p *Pool) NumFree() int { return p.numFree }

// NumUsed is the number of blocks held by sequences.
func (p *Pool) NumUsed() int { return p.Capacity() - p.numFree }

// Usage is the fraction of blocks in use, in [0, 1].
func (p *Pool) Usage() float64 { return float64(p.NumUsed()) / float64(p.Capacity()) }

// Caching reports whether prefix caching is on.
func (p *Pool) Caching() bool { return p.caching }

// Stats returns the counters.
func (p *Pool) Stats() Stats { return p.stats }

// RefCount is the number of holders of block id.
func (p *Pool) RefCount(id int32) int { return int(p.refCount[id]) }

// BlocksFor is the number of blocks that hold n tokens.
func (p *Pool) BlocksFor(n int) int { return (n + p.blockSize - 1) / p.blockSize }

// Allocate appends n fresh blocks to dst, each with reference count 1, and
// returns it. It hands out all n or none: with fewer free blocks it returns
// dst unchanged and ErrOutOfBlocks.
func (p *Pool) Allocate(dst []int32, n int) ([]int32, error) {
	if n > p.numFree {
		return dst, fmt.Errorf("%w: need %d, %d free", ErrOutOfBlocks, n, p.numFree)
	}
	for range n {
		id := p.head
		p.unlink(id)
		if p.hashed[id] {
			delete(p.cached, p.hash[id])
			p.hashed[id] = false
			p.stats.Evictions++
		}
		p.refCount[id] = 1
		dst = append(dst, id)
	}
	return dst, nil
}

// Free drops one reference to each block of ids. Blocks that reach zero go
// to the tail of the free list in the order given, so pass a sequence's
// blocks last first: its later blocks, least likely to be shared, are then
// handed out before its earlier ones. The null block is ignored.
func (p *Pool) Free(ids []int32) {
	for _, id := range ids {
		if id == NullBlock {
			continue
		}
		if p.refCount[id] <= 0 {
			panic(fmt.Sprintf("kvcache: free of block %d with reference count %d", id, p.refCount[id]))
		}
		p.refCount[id]--
		if p.refCount[id] == 0 {
			p.pushTail(id)
		}
	}
}

// FreeReversed frees ids last first (see Free).
func (p *Pool) FreeReversed(ids []int32) {
	for i := len(ids) - 1; i >= 0; i-- {
		p.Free(ids[i : i+1])
	}
}

// Share adds one reference to each block of ids, which must be in use.
func (p *Pool) Share(ids []int32) {
	for _, id := range ids {
		if id == NullBlock {
			continue
		}
		if p.refCount[id] <= 0 {
			panic(fmt.Sprintf("kvcache: share of free block %d", id))
		}
		p.refCount[id]++
	}
}

// Lookup appends to dst the blocks holding the longest cached prefix of
// hashes and returns it. It takes no references and changes no counters.
func (p *Pool) Lookup(dst []int32, hashes []Hash) []int32 {
	if !p.caching {
		return dst
	}
	for _, h := range hashes {
		id, ok := p.cached[h]
		if !ok {
			break
		}
		dst = append(dst, id)
	}
	return dst
}

// NumFreeAmong is how many of ids are unused (in the free list): acquiring
// them leaves that many fewer blocks to allocate.
func (p *Pool) NumFreeAmong(ids []int32) int {
	n := 0
	for _, id := range ids {
		if p.refCount[id] == 0 {
			n++
		}
	}
	return n
}

// Acquire adds one reference to each block of ids (found by Lookup), taking
// unused ones out of the free list.
func (p *Pool) Acquire(ids []int32) {
	for _, id := range ids {
		if p.refCount[id] == 0 {
			if !p.hashed[id] {
				panic(fmt.Sprintf("kvcache: acquire of free block %d that holds no cached content", id))
			}
			p.unlink(id)
		}
		p.refCount[id]++
	}
}

// CountQuery adds a prefix-cache lookup of queried tokens that found hit
// tokens to the counters.
func (p *Pool) CountQuery(queried, hit int) {
	p.stats.QueriedTokens += int64(queried)
	p.stats.HitTokens += int64(hit)
}

// Commit records that block id, in use and now full, holds the content named
// by h. If another block already holds that content the first one stays the
// cached copy. Without caching Commit does nothing.
func (p *Pool) Commit(id int32, h Hash) {
	if !p.caching || id == NullBlock || p.hashed[id] {
		return
	}
	if _, dup := p.cached[h]; dup {
		return
	}
	p.cached[h] = id
	p.hash[id] = h
	p.hashed[id] = true
}

// ResetCache forgets every cached block that is not in use and reports
// whether it could (false while any cached block is in use, like vLLM's
// reset_prefix_cache).
func (p *Pool) ResetCache() bool {
	if p.NumUsed() > 0 {
		return false
	}
	for h, id := range p.cached {
		p.hashed[id] = false
		delete(p.cached, h)
	}
	return true
}

func (p *Pool) pushTail(id int32) {
	p.prev[id], p.next[id] = p.tail, none
	if p.tail == none {
		p.head = id
	} else {
		p.next[p.tail] = id
	}
	p.tail = id
	p.numFree++
}

func (p *Pool) unlink(id int32) {
	pr, nx := p.prev[id], p.next[id]
	if pr == none {
		p.head = nx
	} else {
		p.next[pr] = nx
	}
	if nx == none {
		p.tail = pr
	} else {
		p.prev[nx] = pr
	}
	p.prev[id], p.next[id] = none, none
	p.numFree--
}

// Check verifies the pool's invariants (for tests); it is linear in the pool.
func (p *Pool) Check() error {
	inList := make([]bool, len(p.refCount))
	n := 0
	for id, prev := p.head, none; id != none; prev, id = id, p.next[id] {
		if p.prev[id] != prev {
			return fmt.Errorf("free list: block %d has prev %d, want %d", id, p.prev[id], prev)
		}
		if inList[id] {
			return fmt.Errorf("free list: block %d twice", id)
		}
		inList[id] = true
		n++
		if n > len(p.refCount) {
			return errors.New("free list: cycle")
		}
	}
	if n != p.numFree {
		return fmt.Errorf("free list has %d blocks, numFree says %d", n, p.numFree)
	}
	for id := range p.refCount {
		rc := p.refCount[id]
		switch {
		case id == int(NullBlock) && (inList[id] || rc != 1):
			return fmt.Errorf("null block: in free list %v, reference count %d", inList[id], rc)
		case rc < 0:
			return fmt.Errorf("block %d: reference count %d", id, rc)
		case id != int(NullBlock) && (rc == 0) != inList[id]:
			return fmt.Errorf("block %d: reference count %d but in free list %v", id, rc, inList[id])
		}
		if p.hashed[id] && p.cached[p.hash[id]] != int32(id) {
			return fmt.Errorf("block %d carries a hash that maps to block %d", id, p.cached[p.hash[id]])
		}
	}
	for h, id := range p.cached {
		if !p.hashed[id] || p.hash[id] != h {
			return fmt.Errorf("hash maps to block %d that does not carry it", id)
		}
	}
	return nil
}
