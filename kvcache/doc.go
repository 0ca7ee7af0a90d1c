// Package kvcache owns the bookkeeping of the paged KV cache: which block ids
// are free, which are shared by several sequences, and which full blocks can
// be found again by their content (prefix caching). It never touches the cache
// memory itself; the backend does, through the block tables the scheduler
// builds from these ids.
//
// Blocks: ids 0..NumBlocks-1 of BlockSize token slots each. Block 0 is the
// null block: never handed out, it pads block tables and stands for "no
// block". A block is in use while its reference count is positive; sequences
// that share a prefix (n > 1 samples, prefix-cache hits) hold one reference
// each.
//
// Prefix caching: a full block is identified by ChainHash(parent, salt,
// tokens), where parent is the hash of the block before it and salt is the
// tenant's. Equal hashes mean equal token prefixes of the same tenant, so a
// tenant never finds another tenant's blocks. A freed block keeps its hash and
// stays findable until it is handed out again; the free list hands out the
// least recently freed block first, so recently used prefixes survive longest.
//
// Concurrency: none. A Pool is owned by one goroutine (the engine loop through
// the scheduler). Invariants checked by tests after every operation: every
// block except the null block is either in the free list (reference count 0)
// or in use, never both; a hash maps to exactly one block and that block
// carries the hash.
package kvcache
