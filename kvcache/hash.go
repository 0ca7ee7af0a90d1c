package kvcache

import (
	"crypto/sha256"
	"encoding/binary"
)

// Hash identifies the content of a full block together with everything
// before it. The zero Hash means "no parent" (the first block of a sequence).
type Hash [16]byte

// Salt separates the blocks of different tenants (and of requests that ask
// for their own cache namespace). Derive it once per request with NewSalt.
type Salt [16]byte

// NewSalt derives the salt of a tenant name and an optional per-request
// namespace.
func NewSalt(tenant, namespace string) Salt {
	h := sha256.New()
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(tenant)))
	h.Write(n[:])
	h.Write([]byte(tenant))
	h.Write([]byte(namespace))
	var s Salt
	copy(s[:], h.Sum(nil))
	return s
}

// ChainHash is the identity of a full block: SHA-256 (truncated to 128 bits)
// of the parent block's hash, the salt and the block's token ids. A
// cryptographic hash means a tenant cannot craft a prompt whose blocks
// collide with cached ones.
func ChainHash(parent Hash, salt Salt, tokens []int32) Hash {
	var buf [32 + 4*64]byte
	b := append(buf[:0], parent[:]...)
	b = append(b, salt[:]...)
	for _, t := range tokens {
		b = binary.LittleEndian.AppendUint32(b, uint32(t))
	}
	sum := sha256.Sum256(b)
	var h Hash
	copy(h[:], sum[:16])
	return h
}

// AppendHashes extends hashes (the chain of the first len(hashes) full blocks
// of tokens) with the hashes of the further full blocks of tokens, and
// returns it. A trailing partial block has no hash.
func AppendHashes(hashes []Hash, salt Salt, tokens []int32, blockSize int) []Hash {
	for i := len(hashes); (i+1)*blockSize <= len(tokens); i++ {
		var parent Hash
		if i > 0 {
			parent = hashes[i-1]
		}
		hashes = append(hashes, ChainHash(parent, salt, tokens[i*blockSize:(i+1)*blockSize]))
	}
	return hashes
}
