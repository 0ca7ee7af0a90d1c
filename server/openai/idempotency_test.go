package openai

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
)

// memIdempotency is an in-memory IdempotencyStore.
type memIdempotency struct {
	mu   sync.Mutex
	recs map[string]StoredResponse
	puts int
}

func (m *memIdempotency) Get(_ context.Context, tenant, id string) (StoredResponse, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.recs[tenant+"/"+id]
	return r, ok, nil
}

func (m *memIdempotency) Put(_ context.Context, r StoredResponse) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.recs[r.Tenant+"/"+r.RequestID] = r
	m.puts++
	return nil
}

func TestIdempotentRetries(t *testing.T) {
	for _, stream := range []bool{false, true} {
		name := map[bool]string{false: "json", true: "stream"}[stream]
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				store := &memIdempotency{recs: map[string]StoredResponse{}}
				ts := newTenancyServer(t, func(c *Config) { c.Idempotency = store })
				defer ts.eng.Close()
				ctx := context.Background()
				body := `{"model":"stories","prompt":"Once","max_tokens":20,"ignore_eos":true,"temperature":1}`
				if stream {
					body = body[:len(body)-1] + `,"stream":true}`
				}
				hdr := []string{"X-Request-Id", "order-42"}
				before := ts.eng.Stats().FinishedSequences
				// 20 concurrent duplicates: the first runs, the others join it
				// (beta's tier has 10 streams: only joining lets all 20 in at once).
				answers := make([]answer, 20)
				var wg sync.WaitGroup
				for i := range answers {
					wg.Go(func() { answers[i] = ts.do(ctx, "sk-beta", "/v1/completions", body, hdr...) })
					synctest.Wait()
				}
				wg.Wait()
				if got := ts.eng.Stats().FinishedSequences - before; got != 1 {
					t.Fatalf("%d generations for 20 duplicates, want 1", got)
				}
				replayed := 0
				for i, a := range answers {
					if a.status != 200 || a.body != answers[0].body {
						t.Fatalf("duplicate %d: %d, body differs from the first:\n%s\n%s", i, a.status, a.body, answers[0].body)
					}
					if a.header.Get("Idempotent-Replayed") == "true" {
						replayed++
					}
				}
				if replayed != 19 {
					t.Fatalf("%d replays marked, want 19", replayed)
				}
				// After it finished: the stored bytes, again without a generation.
				a := ts.do(ctx, "sk-beta", "/v1/completions", body, hdr...)
				if a.status != 200 || a.body != answers[0].body || a.header.Get("Idempotent-Replayed") != "true" ||
					a.header.Get("Content-Type") != answers[0].header.Get("Content-Type") {
					t.Fatalf("replay after the end: %d %v %q", a.status, a.header, a.body)
				}
				if got := ts.eng.Stats().FinishedSequences - before; got != 1 || store.puts != 1 {
					t.Fatalf("generations %d, stored %d; want 1, 1", got, store.puts)
				}
				// The same id with another body is a 422; another tenant's same id is its own.
				a = ts.do(ctx, "sk-beta", "/v1/completions", `{"model":"stories","prompt":"Other","max_tokens":2}`, hdr...)
				if a.status != 422 || !contains(a.body, "idempotency_key_reused") {
					t.Fatalf("reused id: %d %s", a.status, a.body)
				}
				a = ts.do(ctx, "sk-acme", "/v1/completions", body, hdr...)
				if a.status != 200 || a.header.Get("Idempotent-Replayed") != "" {
					t.Fatalf("acme's own request with beta's id: %d %v", a.status, a.header)
				}
			})
		})
	}
}

// A refusal a retry may overcome (429) is not stored.
func TestIdempotentRefusalsNotStored(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &memIdempotency{recs: map[string]StoredResponse{}}
		ts := newTenancyServer(t, func(c *Config) { c.Idempotency = store })
		defer ts.eng.Close()
		ctx := context.Background()
		var held []<-chan answer
		for range 4 { // 3 running + 1 queued: acme is full
			held = append(held, ts.async(ctx, "sk-acme", long))
			synctest.Wait()
		}
		a := ts.do(ctx, "sk-acme", "/v1/completions", `{"model":"stories","prompt":"x","max_tokens":1}`, "X-Request-Id", "retry-me")
		if a.status != 429 {
			t.Fatalf("full: %d", a.status)
		}
		for _, ch := range held {
			<-ch
		}
		a = ts.do(ctx, "sk-acme", "/v1/completions", `{"model":"stories","prompt":"x","max_tokens":1}`, "X-Request-Id", "retry-me")
		if a.status != 200 || a.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("retry after 429: %d %v", a.status, a.header)
		}
	})
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
