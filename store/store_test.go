package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "sub", "dir", "sota.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func hashOf(s string) [32]byte { return sha256.Sum256([]byte(s)) }

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)

func TestOpenErrors(t *testing.T) {
	for _, path := range []string{"", filepath.Join(t.TempDir(), "a?b.db")} {
		if db, err := Open(path); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", path)
		}
	}
}

// TestReopen: migrations run once, data survives, a newer schema is refused.
func TestReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sota.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SetTenant(ctx, Tenant{ID: "acme", Tier: "team", Created: t0}); err != nil {
		t.Fatal(err)
	}
	k, err := db.CreateKey(ctx, Key{Tenant: "acme", Prefix: "sk-sota-abc…", Hash: hashOf("k1")})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	for range 2 {
		db, err = Open(path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		v, err := db.SchemaVersion(ctx)
		if err != nil || v != len(migrations) {
			t.Fatalf("schema version %d, %v; want %d", v, err, len(migrations))
		}
		got, ten, err := db.KeyByHash(ctx, hashOf("k1"))
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != k.ID || ten.ID != "acme" || ten.Tier != "team" || !ten.Created.Equal(t0) {
			t.Fatalf("after reopen: key %+v tenant %+v", got, ten)
		}
		db.Close()
	}

	// A file from a newer binary is refused.
	db, _ = Open(path)
	if _, err := db.w.Exec(fmt.Sprintf("PRAGMA user_version = %d", len(migrations)+1)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(path); err == nil {
		db.Close()
		t.Fatal("opened a newer schema")
	}
}

// TestConcurrentOpen: handles opening one new file at once (a server and a
// CLI) each apply no migration twice.
func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sota.db")
	var wg sync.WaitGroup
	dbs := make([]*DB, 4)
	errs := make([]error, len(dbs))
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = Open(path) })
	}
	wg.Wait()
	for i, db := range dbs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if v, err := db.SchemaVersion(context.Background()); err != nil || v != len(migrations) {
			t.Errorf("handle %d: schema version %d, %v", i, v, err)
		}
		db.Close()
	}
}

func TestPragmas(t *testing.T) {
	db := openTest(t)
	var mode string
	var fk, busy int
	if err := db.r.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q, %v; want wal", mode, err)
	}
	for name, h := range map[string]interface{ QueryRow(string, ...any) *sql.Row }{"writer": db.w, "reader": db.r} {
		if err := h.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
			t.Errorf("%s: foreign_keys %d, %v; want 1", name, fk, err)
		}
		if err := h.QueryRow("PRAGMA busy_timeout").Scan(&busy); err != nil || busy != int(busyTimeout.Milliseconds()) {
			t.Errorf("%s: busy_timeout %d, %v", name, busy, err)
		}
	}
}

func TestTenants(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if _, err := db.Tenant(ctx, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown tenant: %v", err)
	}
	for _, bad := range []Tenant{{Tier: "solo"}, {ID: "x"}, {ID: "x", Tier: "solo", Streams: -1}} {
		if err := db.SetTenant(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("SetTenant(%+v) = %v, want ErrInvalid", bad, err)
		}
	}
	if err := db.SetTenant(ctx, Tenant{ID: "b", Tier: "solo", Created: t0}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetTenant(ctx, Tenant{ID: "a", Tier: "team", Streams: 4}); err != nil {
		t.Fatal(err)
	}
	// Upsert keeps Created.
	if err := db.SetTenant(ctx, Tenant{ID: "b", Tier: "platform", Streams: 7, Created: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	b, err := db.Tenant(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Tenant{ID: "b", Tier: "platform", Streams: 7, Created: t0}); b != want {
		t.Fatalf("tenant b = %+v, want %+v", b, want)
	}
	ts, err := db.Tenants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 2 || ts[0].ID != "a" || ts[1].ID != "b" || ts[0].Streams != 4 || ts[0].Created.IsZero() {
		t.Fatalf("tenants = %+v", ts)
	}
}

func TestKeys(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	if _, err := db.CreateKey(ctx, Key{Tenant: "ghost", Hash: hashOf("g")}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("key for a missing tenant: %v", err)
	}
	for _, id := range []string{"acme", "zeta"} {
		if err := db.SetTenant(ctx, Tenant{ID: id, Tier: "solo"}); err != nil {
			t.Fatal(err)
		}
	}
	k1, err := db.CreateKey(ctx, Key{Tenant: "acme", Prefix: "sk-sota-aaaaaa…", Priority: "fast", Hash: hashOf("k1"), Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	if len(k1.ID) != len("key_")+12 || k1.ID[:4] != "key_" {
		t.Fatalf("generated id %q", k1.ID)
	}
	k2, err := db.CreateKey(ctx, Key{ID: "key_fixed", Tenant: "zeta", Hash: hashOf("k2"), Created: t0.Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	k3, err := db.CreateKey(ctx, Key{Tenant: "acme", Hash: hashOf("k3"), Created: t0.Add(2 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}

	for name, k := range map[string]Key{
		"same hash": {Tenant: "acme", Hash: hashOf("k1")},
		"same id":   {ID: "key_fixed", Tenant: "acme", Hash: hashOf("other")},
	} {
		if _, err := db.CreateKey(ctx, k); !errors.Is(err, ErrExists) {
			t.Errorf("%s: %v, want ErrExists", name, err)
		}
	}
	for name, k := range map[string]Key{"no tenant": {Hash: hashOf("x")}, "zero hash": {Tenant: "acme"}} {
		if _, err := db.CreateKey(ctx, k); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}

	got, ten, err := db.KeyByHash(ctx, hashOf("k1"))
	if err != nil {
		t.Fatal(err)
	}
	if got != k1 || ten.ID != "acme" || ten.Tier != "solo" {
		t.Fatalf("KeyByHash = %+v, %+v; want %+v", got, ten, k1)
	}
	if _, _, err := db.KeyByHash(ctx, hashOf("nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown hash: %v", err)
	}

	tests := []struct {
		tenant string
		want   []string
	}{
		{"", []string{k1.ID, k3.ID, k2.ID}},
		{"acme", []string{k1.ID, k3.ID}},
		{"zeta", []string{k2.ID}},
		{"ghost", nil},
	}
	for _, tt := range tests {
		ks, err := db.Keys(ctx, tt.tenant)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, k := range ks {
			ids = append(ids, k.ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(tt.want) {
			t.Errorf("Keys(%q) = %v, want %v", tt.tenant, ids, tt.want)
		}
	}

	if n, err := db.ActiveKeyCount(ctx); err != nil || n != 3 {
		t.Fatalf("active keys %d, %v; want 3", n, err)
	}
	if err := db.RevokeKey(ctx, k2.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeKey(ctx, "key_nothere"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("revoke unknown: %v", err)
	}
	revoked, ten, err := db.KeyByHash(ctx, hashOf("k2"))
	if !errors.Is(err, ErrRevoked) || revoked.ID != k2.ID || revoked.Revoked.IsZero() || ten.ID != "zeta" {
		t.Fatalf("revoked key: %+v, %+v, %v", revoked, ten, err)
	}
	// Revoking again keeps the first time.
	if err := db.RevokeKey(ctx, k2.ID); err != nil {
		t.Fatal(err)
	}
	again, _, _ := db.KeyByHash(ctx, hashOf("k2"))
	if !again.Revoked.Equal(revoked.Revoked) {
		t.Fatalf("second revoke moved the time: %v → %v", revoked.Revoked, again.Revoked)
	}
	if n, _ := db.ActiveKeyCount(ctx); n != 2 {
		t.Fatalf("active keys %d, want 2", n)
	}

	// TouchKeys: newer times win, older ones and unknown ids are ignored.
	if err := db.TouchKeys(ctx, map[string]time.Time{k1.ID: t0.Add(time.Hour), k3.ID: t0, "key_unknown": t0}); err != nil {
		t.Fatal(err)
	}
	if err := db.TouchKeys(ctx, map[string]time.Time{k1.ID: t0}); err != nil {
		t.Fatal(err)
	}
	ks, _ := db.Keys(ctx, "acme")
	if !ks[0].LastUsed.Equal(t0.Add(time.Hour)) || !ks[1].LastUsed.Equal(t0) {
		t.Fatalf("last used: %v, %v", ks[0].LastUsed, ks[1].LastUsed)
	}
	if err := db.TouchKeys(ctx, nil); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentWriters: many goroutines writing and reading at once never
// see SQLITE_BUSY (run with -race).
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	// A second handle on the same file, as the CLI next to a server.
	other, err := Open(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*4)
	for w := range workers {
		h := db
		if w%2 == 1 {
			h = other
		}
		wg.Go(func() {
			tenant := fmt.Sprintf("t%d", w)
			if err := h.SetTenant(ctx, Tenant{ID: tenant, Tier: "solo"}); err != nil {
				errs <- err
				return
			}
			for i := range each {
				k, err := h.CreateKey(ctx, Key{Tenant: tenant, Hash: hashOf(fmt.Sprint(w, i))})
				if err != nil {
					errs <- err
					continue
				}
				if err := h.TouchKeys(ctx, map[string]time.Time{k.ID: time.Now()}); err != nil {
					errs <- err
				}
				if err := h.RecordUsage(ctx, []Usage{{Tenant: tenant, Status: 200}}); err != nil {
					errs <- err
				}
				if _, _, err := h.KeyByHash(ctx, k.Hash); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, err := db.ActiveKeyCount(ctx); err != nil || n != workers*each {
		t.Fatalf("active keys %d, %v; want %d", n, err, workers*each)
	}
	sum, err := db.UsageSummary(ctx, time.Time{}, "")
	if err != nil || len(sum) != workers {
		t.Fatalf("summary %+v, %v", sum, err)
	}
}

func TestUsageSummary(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	ms := time.Millisecond
	var us []Usage
	// acme: 10 requests, queue 1..10 ms, ttft 10..100 ms, statuses mixed.
	statuses := []int{200, 200, 200, 200, 200, 200, 408, 429, 429, 500}
	for i := range 10 {
		u := Usage{Time: t0.Add(time.Duration(i) * time.Minute), Tenant: "acme", Status: statuses[i],
			PromptTokens: 10, CompletionTokens: i, QueueTime: time.Duration(i+1) * ms}
		if statuses[i] == 200 {
			u.TTFT = time.Duration(i+1) * 10 * ms
		}
		us = append(us, u)
	}
	// bob: one old request (outside the window) and one inside.
	us = append(us,
		Usage{Time: t0.Add(-time.Hour), Tenant: "bob", Status: 200, PromptTokens: 1000},
		Usage{Time: t0, Tenant: "bob", Status: 201, PromptTokens: 5, CompletionTokens: 7, QueueTime: 3 * ms, TTFT: 40 * ms},
	)
	if err := db.RecordUsage(ctx, us); err != nil {
		t.Fatal(err)
	}
	if err := db.RecordUsage(ctx, nil); err != nil {
		t.Fatal(err)
	}
	acme := TenantUsage{Tenant: "acme", Requests: 10, OK: 6, QueueTimeout: 1, OverCapacity: 2, Errors: 1,
		PromptTokens: 100, CompletionTokens: 45,
		QueueMean: 5500 * time.Microsecond, QueueP50: 5 * ms, QueueP99: 10 * ms,
		TTFTMean: 35 * ms, TTFTP50: 30 * ms, TTFTP99: 60 * ms}
	bob := TenantUsage{Tenant: "bob", Requests: 1, OK: 1, PromptTokens: 5, CompletionTokens: 7,
		QueueMean: 3 * ms, QueueP50: 3 * ms, QueueP99: 3 * ms, TTFTMean: 40 * ms, TTFTP50: 40 * ms, TTFTP99: 40 * ms}
	tests := []struct {
		since  time.Time
		tenant string
		want   []TenantUsage
	}{
		{t0, "", []TenantUsage{acme, bob}},
		{t0, "bob", []TenantUsage{bob}},
		{t0, "nobody", nil},
		{t0.Add(time.Hour), "", nil},
	}
	for _, tt := range tests {
		got, err := db.UsageSummary(ctx, tt.since, tt.tenant)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", tt.want) {
			t.Errorf("UsageSummary(%v, %q) =\n%+v\nwant\n%+v", tt.since, tt.tenant, got, tt.want)
		}
	}
	all, _ := db.UsageSummary(ctx, time.Time{}, "bob")
	if len(all) != 1 || all[0].Requests != 2 || all[0].PromptTokens != 1005 {
		t.Fatalf("whole history for bob: %+v", all)
	}
}

func TestPercentile(t *testing.T) {
	tests := []struct {
		n, p, want int // values 1..n
	}{
		{1, 50, 1}, {1, 99, 1}, {2, 50, 1}, {2, 99, 2}, {100, 50, 50}, {100, 99, 99}, {101, 99, 100}, {1000, 99, 990},
	}
	for _, tt := range tests {
		ds := make([]time.Duration, tt.n)
		for i := range ds {
			ds[i] = time.Duration(i + 1)
		}
		if got := percentile(ds, tt.p); got != time.Duration(tt.want) {
			t.Errorf("p%d of 1..%d = %d, want %d", tt.p, tt.n, got, tt.want)
		}
	}
}

func TestIdempotent(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	rec := Idempotent{Tenant: "acme", RequestID: "req-1", BodyHash: hashOf("body"), Status: 200,
		Header: []byte(`{"Content-Type":["application/json"]}`), Body: []byte(`{"ok":true}`), Created: t0}
	if _, err := db.Idempotent(ctx, "acme", "req-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("before put: %v", err)
	}
	if err := db.PutIdempotent(ctx, rec); err != nil {
		t.Fatal(err)
	}
	second := rec
	second.Body = []byte("other")
	if err := db.PutIdempotent(ctx, second); !errors.Is(err, ErrExists) {
		t.Fatalf("second put: %v", err)
	}
	got, err := db.Idempotent(ctx, "acme", "req-1")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(rec) {
		t.Fatalf("got %+v\nwant %+v", got, rec)
	}
	// Same request id, another tenant: a separate record.
	if _, err := db.Idempotent(ctx, "bob", "req-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other tenant: %v", err)
	}
	empty := Idempotent{Tenant: "bob", RequestID: "req-1", Status: 204, Created: t0.Add(time.Hour)}
	if err := db.PutIdempotent(ctx, empty); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Idempotent(ctx, "bob", "req-1"); err != nil || got.Status != 204 || len(got.Body) != 0 {
		t.Fatalf("empty body record: %+v, %v", got, err)
	}

	tooBig := Idempotent{Tenant: "acme", RequestID: "big", Body: make([]byte, MaxIdempotentSize+1)}
	if err := db.PutIdempotent(ctx, tooBig); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("too big: %v", err)
	}
	if err := db.PutIdempotent(ctx, Idempotent{Tenant: "acme"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no request id: %v", err)
	}

	n, err := db.PurgeIdempotent(ctx, t0.Add(time.Minute))
	if err != nil || n != 1 {
		t.Fatalf("purge: %d, %v; want 1", n, err)
	}
	if _, err := db.Idempotent(ctx, "acme", "req-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after purge: %v", err)
	}
	if _, err := db.Idempotent(ctx, "bob", "req-1"); err != nil {
		t.Fatalf("newer record purged: %v", err)
	}
}
