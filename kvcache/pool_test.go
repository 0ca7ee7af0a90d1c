package kvcache

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func mustPool(t *testing.T, blocks, size int, caching bool) *Pool {
	t.Helper()
	p, err := New(blocks, size, caching)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func check(t *testing.T, p *Pool) {
	t.Helper()
	if err := p.Check(); err != nil {
		t.Fatal(err)
	}
}

func TestNewRejectsBadSizes(t *testing.T) {
	for _, tc := range []struct{ blocks, size int }{{1, 16}, {0, 16}, {8, 0}, {8, -1}} {
		if _, err := New(tc.blocks, tc.size, true); err == nil {
			t.Errorf("New(%d, %d) succeeded", tc.blocks, tc.size)
		}
	}
}

func TestAllocateAllOrNothing(t *testing.T) {
	p := mustPool(t, 5, 4, false)
	if p.Capacity() != 4 || p.NumFree() != 4 {
		t.Fatalf("capacity %d free %d", p.Capacity(), p.NumFree())
	}
	got, err := p.Allocate(nil, 3)
	if err != nil || len(got) != 3 || slices.Contains(got, NullBlock) {
		t.Fatalf("allocate 3: %v %v", got, err)
	}
	got2, err := p.Allocate(got, 2)
	if !errors.Is(err, ErrOutOfBlocks) || len(got2) != 3 || p.NumFree() != 1 {
		t.Fatalf("over-allocation: %v %v free %d", got2, err, p.NumFree())
	}
	check(t, p)
	p.Free(got)
	if p.NumUsed() != 0 || p.Usage() != 0 {
		t.Fatalf("used %d after free", p.NumUsed())
	}
	check(t, p)
}

func TestFreeListIsLeastRecentlyFreedFirst(t *testing.T) {
	p := mustPool(t, 5, 4, false)
	a, _ := p.Allocate(nil, 4) // 1 2 3 4
	p.Free([]int32{a[2]})
	p.FreeReversed([]int32{a[0], a[1]}) // frees a[1] then a[0]
	p.Free([]int32{a[3]})
	got, _ := p.Allocate(nil, 4)
	want := []int32{a[2], a[1], a[0], a[3]}
	if !slices.Equal(got, want) {
		t.Fatalf("reuse order %v, want %v", got, want)
	}
}

func TestSharedBlocksStayUntilLastHolderFrees(t *testing.T) {
	p := mustPool(t, 4, 4, false)
	a, _ := p.Allocate(nil, 2)
	p.Share(a)
	if p.RefCount(a[0]) != 2 {
		t.Fatalf("refcount %d", p.RefCount(a[0]))
	}
	p.Free(a)
	if p.NumUsed() != 2 {
		t.Fatalf("used %d after one of two holders freed", p.NumUsed())
	}
	p.Free(a)
	if p.NumUsed() != 0 {
		t.Fatalf("used %d after both freed", p.NumUsed())
	}
	check(t, p)
}

func TestDoubleFreePanics(t *testing.T) {
	p := mustPool(t, 4, 4, false)
	a, _ := p.Allocate(nil, 1)
	p.Free(a)
	defer func() {
		if recover() == nil {
			t.Fatal("double free did not panic")
		}
	}()
	p.Free(a)
}

func TestPrefixHitsStayWithinTenant(t *testing.T) {
	tokens := []int32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	alice, bob := NewSalt("alice", ""), NewSalt("bob", "")
	if alice == bob || NewSalt("alice", "x") == alice {
		t.Fatal("salts collide")
	}
	tests := []struct {
		name    string
		caching bool
		salt    Salt
		tokens  []int32
		hits    int
	}{
		{"same tenant same prompt", true, alice, tokens, 2},
		{"same tenant longer prompt", true, alice, append(slices.Clone(tokens), 11, 12), 2},
		{"same tenant diverging second block", true, alice, []int32{1, 2, 3, 4, 5, 6, 7, 0, 9}, 1},
		{"same tenant diverging first block", true, alice, []int32{0, 2, 3, 4, 5, 6, 7, 8}, 0},
		{"other tenant same prompt", true, bob, tokens, 0},
		{"caching off", false, alice, tokens, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := mustPool(t, 8, 4, tc.caching)
			hashes := AppendHashes(nil, alice, tokens, 4)
			if len(hashes) != 2 {
				t.Fatalf("%d hashes for 10 tokens of block size 4", len(hashes))
			}
			blocks, _ := p.Allocate(nil, 3)
			for i, h := range hashes {
				p.Commit(blocks[i], h)
			}
			p.FreeReversed(blocks)
			check(t, p)
			q := AppendHashes(nil, tc.salt, tc.tokens, 4)
			got := p.Lookup(nil, q)
			n := len(got)
			if n != tc.hits {
				t.Fatalf("hits %d, want %d", n, tc.hits)
			}
			if p.NumFreeAmong(got) != n {
				t.Fatalf("acquirable from free list %d, want %d", p.NumFreeAmong(got), n)
			}
			p.Acquire(got)
			if !slices.Equal(got, blocks[:n]) {
				t.Fatalf("acquired %v, want %v", got, blocks[:n])
			}
			if p.NumUsed() != n {
				t.Fatalf("used %d, want %d", p.NumUsed(), n)
			}
			check(t, p)
		})
	}
}

func TestAllocationEvictsCachedBlocksLast(t *testing.T) {
	p := mustPool(t, 4, 2, true) // 3 usable blocks
	salt := NewSalt("t", "")
	hashes := AppendHashes(nil, salt, []int32{1, 2, 3, 4}, 2)
	b, _ := p.Allocate(nil, 2)
	p.Commit(b[0], hashes[0])
	p.Commit(b[1], hashes[1])
	p.FreeReversed(b)
	// The never-used block comes first; then the second block of the prefix.
	c, _ := p.Allocate(nil, 2)
	if len(p.Lookup(nil, hashes)) != 1 || p.Stats().Evictions != 1 {
		t.Fatalf("after allocating 2 of 3: lookup %d evictions %d (got %v)", len(p.Lookup(nil, hashes)), p.Stats().Evictions, c)
	}
	check(t, p)
	if p.ResetCache() {
		t.Fatal("ResetCache succeeded with blocks in use")
	}
	p.Free(c)
	if !p.ResetCache() || len(p.Lookup(nil, hashes)) != 0 {
		t.Fatal("ResetCache did not forget")
	}
	check(t, p)
}

func TestCommitKeepsFirstCopy(t *testing.T) {
	p := mustPool(t, 4, 2, true)
	h := ChainHash(Hash{}, NewSalt("t", ""), []int32{1, 2})
	b, _ := p.Allocate(nil, 2)
	p.Commit(b[0], h)
	p.Commit(b[1], h)
	got := p.Lookup(nil, []Hash{h})
	p.Acquire(got)
	if got[0] != b[0] {
		t.Fatalf("acquired %d, want the first copy %d", got[0], b[0])
	}
	check(t, p)
}

func TestChainHashDependsOnEverything(t *testing.T) {
	s := NewSalt("t", "")
	base := ChainHash(Hash{}, s, []int32{1, 2, 3})
	for name, h := range map[string]Hash{
		"parent": ChainHash(Hash{1}, s, []int32{1, 2, 3}),
		"salt":   ChainHash(Hash{}, NewSalt("u", ""), []int32{1, 2, 3}),
		"tokens": ChainHash(Hash{}, s, []int32{1, 2, 4}),
		"order":  ChainHash(Hash{}, s, []int32{2, 1, 3}),
	} {
		if h == base {
			t.Errorf("changing the %s does not change the hash", name)
		}
	}
	if ChainHash(Hash{}, s, []int32{1, 2, 3}) != base {
		t.Error("hash is not deterministic")
	}
}

// TestRandomOperationsKeepInvariants drives the pool the way a scheduler
// does (allocate, share, commit, acquire, free) at random and checks the
// invariants after every operation.
func TestRandomOperationsKeepInvariants(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	p := mustPool(t, 33, 4, true)
	salt := NewSalt("t", "")
	var held [][]int32
	for step := range 5000 {
		switch op := rng.IntN(5); {
		case op == 0 || op == 1:
			blocks, err := p.Allocate(nil, 1+rng.IntN(4))
			if err != nil {
				if !errors.Is(err, ErrOutOfBlocks) {
					t.Fatal(err)
				}
				break
			}
			for _, b := range blocks {
				if rng.IntN(2) == 0 {
					p.Commit(b, ChainHash(Hash{}, salt, []int32{int32(rng.IntN(20))}))
				}
			}
			held = append(held, blocks)
		case op == 2 && len(held) > 0:
			h := held[rng.IntN(len(held))]
			p.Share(h)
			held = append(held, slices.Clone(h))
		case op == 3:
			q := []Hash{ChainHash(Hash{}, salt, []int32{int32(rng.IntN(20))})}
			if got := p.Lookup(nil, q); len(got) > 0 {
				p.Acquire(got)
				held = append(held, got)
			}
		case len(held) > 0:
			i := rng.IntN(len(held))
			p.FreeReversed(held[i])
			held = slices.Delete(held, i, i+1)
		}
		if err := p.Check(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
	}
	for _, h := range held {
		p.Free(h)
	}
	if p.NumUsed() != 0 {
		t.Fatalf("%d blocks leaked", p.NumUsed())
	}
	check(t, p)
}

func BenchmarkChainHash(b *testing.B) {
	s := NewSalt("tenant", "")
	tokens := make([]int32, 16)
	var h Hash
	for b.Loop() {
		h = ChainHash(h, s, tokens)
	}
}
