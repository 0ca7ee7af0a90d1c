package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/fake"
	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/tokenizer"
)

// keyring is a test Authenticator: key → principal.
type keyring map[string]admission.Principal

func (k keyring) Authenticate(_ context.Context, key string) (admission.Principal, error) {
	p, ok := k[key]
	if !ok {
		return p, fmt.Errorf("%w: unknown key", admission.ErrUnauthorized)
	}
	return p, nil
}

type usageLog struct {
	mu   sync.Mutex
	recs []UsageRecord
}

func (u *usageLog) Add(r UsageRecord) {
	u.mu.Lock()
	u.recs = append(u.recs, r)
	u.mu.Unlock()
}

// tenancyServer is a multi-tenant server over the fake backend with a 50 ms
// step, run inside a synctest bubble (requests go straight to the handler).
type tenancyServer struct {
	t     *testing.T
	h     http.Handler
	adm   *admission.Controller
	usage *usageLog
	eng   *engine.Engine
}

func newTenancyServer(t *testing.T, opts ...func(*Config)) *tenancyServer {
	tok, err := tokenizer.LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	be := fake.New(backend.Geometry{VocabSize: tok.VocabSize(), MaxModelLen: 512, BlockSize: 16, NumBlocks: 512})
	be.StepDelay = 50 * time.Millisecond
	eng, err := engine.New(be, engine.Config{EOSTokenIDs: []int32{2}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := tokenizer.NewTemplate(map[string]string{"default": plainTemplate}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &Model{Name: "stories", Engine: eng, Tokenizer: tok, Template: tmpl, Defaults: sample.Defaults()}
	other := &Model{Name: "secret", Engine: eng, Tokenizer: tok, Template: tmpl, Defaults: sample.Defaults()}
	solo := admission.Tier{Name: "solo", Streams: 3, Queue: 1, QueueWait: 2 * time.Second, RetryAfter: 5 * time.Second,
		Models: []string{"stories"}, Priorities: []admission.Class{admission.Slow, admission.Medium}, Weight: 1}
	team := admission.DefaultTiers()["team"]
	keys := keyring{
		"sk-acme": {Tenant: "acme", KeyID: "key_a", Tier: solo},
		"sk-beta": {Tenant: "beta", KeyID: "key_b", Tier: team},
	}
	adm := admission.NewController(nil)
	ul := &usageLog{}
	cfg := Config{Models: []*Model{m, other}, Logger: quiet, Auth: keys, Admission: adm, Usage: ul}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &tenancyServer{t: t, h: srv.Handler(), adm: adm, usage: ul, eng: eng}
}

type answer struct {
	status int
	body   string
	header http.Header
}

// do serves one request; cancel (may be nil) is its context.
func (ts *tenancyServer) do(ctx context.Context, key, path, body string, header ...string) answer {
	req := httptest.NewRequestWithContext(ctx, "POST", path, strings.NewReader(body))
	if body == "" {
		req.Method = "GET"
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	ts.h.ServeHTTP(rec, req)
	return answer{rec.Code, rec.Body.String(), rec.Header()}
}

func (ts *tenancyServer) async(ctx context.Context, key, body string) <-chan answer {
	ch := make(chan answer, 1)
	go func() { ch <- ts.do(ctx, key, "/v1/completions", body) }()
	return ch
}

// long is a completion of 20 steps (1 s of engine time).
const long = `{"model":"stories","prompt":"Once","max_tokens":20,"ignore_eos":true}`

func TestTenancyAuthAndModels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newTenancyServer(t)
		defer ts.eng.Close()
		ctx := context.Background()
		tests := []struct {
			name, key, path, body string
			status                int
			typ, code             string
		}{
			{"no key", "", "/v1/completions", long, 401, "invalid_request_error", "invalid_api_key"},
			{"unknown key", "sk-nope", "/v1/completions", long, 401, "invalid_request_error", "invalid_api_key"},
			{"models without key", "", "/v1/models", "", 401, "invalid_request_error", "invalid_api_key"},
			{"model outside tier", "sk-acme", "/v1/completions", `{"model":"secret","prompt":"x"}`, 403, "permission_denied", "permission_denied"},
			{"bad class", "sk-acme", "/v1/completions", long, 400, "invalid_request_error", "invalid_priority"},
		}
		for _, tc := range tests {
			var hdr []string
			if tc.name == "bad class" {
				hdr = []string{"X-Siati-Tier", "warp"}
			}
			a := ts.do(ctx, tc.key, tc.path, tc.body, hdr...)
			var e errorBody
			if err := json.Unmarshal([]byte(a.body), &e); err != nil || e.Error == nil {
				t.Fatalf("%s: %d %q: not an error", tc.name, a.status, a.body)
			}
			if a.status != tc.status || e.Error.Type != tc.typ || e.Error.Code != tc.code {
				t.Errorf("%s: %d %s/%v, want %d %s/%s (%s)", tc.name, a.status, e.Error.Type, e.Error.Code, tc.status, tc.typ, tc.code, a.body)
			}
		}
		// The model list is the tier's.
		a := ts.do(ctx, "sk-acme", "/v1/models", "")
		if a.status != 200 || !strings.Contains(a.body, `"stories"`) || strings.Contains(a.body, "secret") {
			t.Errorf("acme's models: %d %s", a.status, a.body)
		}
		if a := ts.do(ctx, "sk-acme", "/v1/models/secret", ""); a.status != 404 {
			t.Errorf("acme GET /v1/models/secret: %d", a.status)
		}
		if a := ts.do(ctx, "sk-beta", "/v1/models", ""); !strings.Contains(a.body, "secret") {
			t.Errorf("beta's models: %s", a.body)
		}
		// Classes: above the ceiling is clamped and echoed.
		a = ts.do(ctx, "sk-acme", "/v1/completions", `{"model":"stories","prompt":"x","max_tokens":1}`, "X-Siati-Tier", "ludicrous")
		if a.status != 200 || a.header.Get("X-Sota-Priority") != "medium" {
			t.Errorf("clamped class: %d %q", a.status, a.header.Get("X-Sota-Priority"))
		}
		a = ts.do(ctx, "sk-beta", "/v1/completions", `{"model":"stories","prompt":"x","max_tokens":1}`, "X-Siati-Tier", "Fast")
		if a.header.Get("X-Sota-Priority") != "fast" || a.header.Get("X-Ratelimit-Limit-Streams") != "10" ||
			a.header.Get("X-Ratelimit-Remaining-Streams") != "9" {
			t.Errorf("beta headers: %v", a.header)
		}
	})
}

func TestTenancyCapsQueueAndRejections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newTenancyServer(t)
		defer ts.eng.Close()
		ctx := context.Background()
		var running []<-chan answer
		for range 3 {
			running = append(running, ts.async(ctx, "sk-acme", long))
		}
		synctest.Wait()
		queued := ts.async(ctx, "sk-acme", long)
		synctest.Wait()
		if st := ts.adm.State("acme"); st.Running != 3 || st.Queued != 1 {
			t.Fatalf("acme: %+v, want 3 running and 1 queued", st)
		}
		// Queue full: 429 at once with the product's body and Retry-After.
		a := ts.do(ctx, "sk-acme", "/v1/completions", long)
		want := `{"error":{"message":"tenant acme has 3 concurrent streams in use and 1 waiting, the most its tier allows; retry after 5s","type":"stream_capacity_exceeded","param":null,"code":429,"retry_after":5}}` + "\n"
		if a.status != 429 || a.body != want || a.header.Get("Retry-After") != "5" || a.header.Get("X-Ratelimit-Remaining-Streams") != "0" {
			t.Fatalf("fifth: %d %q %v\nwant body %q", a.status, a.body, a.header, want)
		}
		// Another tenant is unaffected.
		if a := ts.do(ctx, "sk-beta", "/v1/completions", `{"model":"stories","prompt":"x","max_tokens":2}`); a.status != 200 {
			t.Fatalf("beta: %d %s", a.status, a.body)
		}
		// The queued one starts when a running one ends (after 1 s).
		for _, ch := range running {
			if a := <-ch; a.status != 200 {
				t.Fatalf("running: %d %s", a.status, a.body)
			}
		}
		if a := <-queued; a.status != 200 {
			t.Fatalf("queued: %d %s", a.status, a.body)
		}
		// With three long streams running, a waiter gets 408 after 2 s.
		for range 3 {
			running = append(running[:0], ts.async(ctx, "sk-acme", `{"model":"stories","prompt":"Once","max_tokens":80,"ignore_eos":true}`))
		}
		synctest.Wait()
		start := time.Now()
		a = ts.do(ctx, "sk-acme", "/v1/completions", long)
		var e errorBody
		_ = json.Unmarshal([]byte(a.body), &e)
		if a.status != 408 || e.Error == nil || e.Error.Type != "queue_timeout" || time.Since(start) != 2*time.Second {
			t.Fatalf("timeout: %d %s after %v", a.status, a.body, time.Since(start))
		}
		synctest.Wait()
		if st := ts.adm.State("acme"); st.Running != 3 {
			t.Fatalf("acme: %+v", st)
		}
	})
}

func TestTenancyDisconnectFreesSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ts := newTenancyServer(t)
		defer ts.eng.Close()
		ctx, cancel := context.WithCancel(context.Background())
		var gone []<-chan answer
		for range 3 {
			gone = append(gone, ts.async(ctx, "sk-acme", `{"model":"stories","prompt":"Once","max_tokens":200,"ignore_eos":true,"stream":true}`))
		}
		waiting := ts.async(ctx, "sk-acme", long)
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		if st := ts.adm.State("acme"); st.Running != 3 || st.Queued != 1 {
			t.Fatalf("acme: %+v", st)
		}
		cancel() // every client goes away
		for _, ch := range append(gone, waiting) {
			<-ch
		}
		synctest.Wait()
		if st := ts.adm.State("acme"); st.Running != 0 || st.Queued != 0 {
			t.Fatalf("after disconnect: %+v", st)
		}
		// A new request runs at once.
		if a := ts.do(context.Background(), "sk-acme", "/v1/completions", `{"model":"stories","prompt":"x","max_tokens":1}`); a.status != 200 {
			t.Fatalf("after: %d", a.status)
		}
		ts.usage.mu.Lock()
		defer ts.usage.mu.Unlock()
		if len(ts.usage.recs) != 5 {
			t.Fatalf("%d usage records, want 5", len(ts.usage.recs))
		}
		unadmitted := 0
		for _, r := range ts.usage.recs {
			if r.Tenant != "acme" || r.KeyID != "key_a" || r.Model != "stories" || r.Endpoint != "/v1/completions" {
				t.Errorf("usage record %+v", r)
			}
			if r.Priority == "" { // the waiter that left the queue
				unadmitted++
				if r.Status != 499 || r.CompletionTokens != 0 {
					t.Errorf("waiter's record %+v", r)
				}
			} else if r.PromptTokens == 0 || r.CompletionTokens == 0 {
				t.Errorf("a started stream is billed for what it generated: %+v", r)
			}
		}
		if unadmitted != 1 {
			t.Errorf("%d records without admission, want 1", unadmitted)
		}
	})
}
