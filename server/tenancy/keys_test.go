package tenancy

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestKeys(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(filepath.Join(t.TempDir(), "sota.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.SetTenant(ctx, store.Tenant{ID: "acme", Tier: "solo", Streams: 7}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetTenant(ctx, store.Tenant{ID: "ghost", Tier: "gone"}); err != nil {
		t.Fatal(err)
	}
	mk := func(tenant, prio string) (string, store.Key) {
		key, hash, display, err := admission.NewKey()
		if err != nil {
			t.Fatal(err)
		}
		k, err := db.CreateKey(ctx, store.Key{Tenant: tenant, Prefix: display, Priority: prio, Hash: hash})
		if err != nil {
			t.Fatal(err)
		}
		return key, k
	}
	acmeKey, acme := mk("acme", "slow")
	ghostKey, _ := mk("ghost", "")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	keys := NewKeys(db, admission.DefaultTiers(), KeysOptions{TTL: 5 * time.Second, Now: func() time.Time { return now }})

	p, err := keys.Authenticate(ctx, acmeKey)
	if err != nil {
		t.Fatal(err)
	}
	if p.Tenant != "acme" || p.KeyID != acme.ID || p.Tier.Name != "solo" || p.Limits().Streams != 7 ||
		p.DefaultClass() != admission.Slow {
		t.Fatalf("principal %+v", p)
	}
	for _, bad := range []string{"sk-sota-unknown", ghostKey} {
		if _, err := keys.Authenticate(ctx, bad); !errors.Is(err, admission.ErrUnauthorized) {
			t.Errorf("key %q: err = %v, want ErrUnauthorized", bad[:12], err)
		}
	}
	// A revocation applies once the cached lookup expires.
	if err := db.RevokeKey(ctx, acme.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Authenticate(ctx, acmeKey); err != nil {
		t.Fatalf("within the TTL: %v", err)
	}
	now = now.Add(6 * time.Second)
	if _, err := keys.Authenticate(ctx, acmeKey); !errors.Is(err, admission.ErrUnauthorized) {
		t.Fatalf("after revocation and TTL: %v", err)
	}
	// Last use is written by Run.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { keys.Run(runCtx, time.Hour); close(done) }()
	cancel()
	<-done
	list, err := db.Keys(ctx, "acme")
	if err != nil || len(list) != 1 || !list[0].LastUsed.Equal(now.Add(-6*time.Second)) {
		t.Fatalf("keys %+v, %v: want last used at the first authentication", list, err)
	}
}
