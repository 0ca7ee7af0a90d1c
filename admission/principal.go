package admission

import (
	"context"
	"fmt"
)

// Principal is who a request runs as: a tenant, the key it used and the
// tenant's tier.
type Principal struct {
	Tenant  string
	KeyID   string // "" in open mode
	Tier    Tier
	Streams int    // the tenant's own stream allocation; 0 = the tier's
	Class   *Class // the key's default priority class; nil = Medium
}

// Limits are the principal's admission limits.
func (p Principal) Limits() Limits { return p.Tier.Limits(p.Streams) }

// DefaultClass is the class a request runs at without a header.
func (p Principal) DefaultClass() Class {
	if p.Class != nil {
		return p.Tier.Clamp(*p.Class)
	}
	return p.Tier.Clamp(Medium)
}

// Authenticator resolves an API key to a principal. Unknown or revoked keys
// are ErrUnauthorized; other errors mean the lookup itself failed.
type Authenticator interface {
	Authenticate(ctx context.Context, key string) (Principal, error)
}

// StaticKeys authenticates a fixed set of keys (vLLM's --api-key) as one
// principal; keys are compared by hash in constant time.
type StaticKeys struct {
	hashes    []KeyHash
	principal Principal
}

// NewStaticKeys accepts keys as p.
func NewStaticKeys(keys []string, p Principal) (*StaticKeys, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("static keys: none given")
	}
	s := &StaticKeys{principal: p}
	for _, k := range keys {
		if k == "" {
			return nil, fmt.Errorf("static keys: an empty key")
		}
		s.hashes = append(s.hashes, HashKey(k))
	}
	return s, nil
}

// Authenticate checks key against every static key (no early exit, so the
// time taken says nothing about which matched).
func (s *StaticKeys) Authenticate(_ context.Context, key string) (Principal, error) {
	h := HashKey(key)
	ok := false
	for _, k := range s.hashes {
		ok = k.Equal(h) || ok
	}
	if !ok {
		return Principal{}, fmt.Errorf("%w: invalid API key", ErrUnauthorized)
	}
	return s.principal, nil
}

// OpenTier is the tier of open mode and of static keys: one tenant whose
// streams are bounded by the engine alone.
func OpenTier() Tier {
	return Tier{Name: "open", Streams: 1 << 20, Queue: 0, Models: []string{"*"},
		Priorities: []Class{Slow, Medium, Fast, Ludicrous}, Weight: 1}
}
