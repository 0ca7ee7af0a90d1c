package admin

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

func TestNewValidates(t *testing.T) {
	db, err := store.Open(t.TempDir() + "/sota.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tiers := admission.DefaultTiers()
	tests := []struct {
		name string
		cfg  Config
		want string // "" = ok
	}{
		{"ok", Config{Token: testToken, DB: db, Tiers: tiers}, ""},
		{"short token", Config{Token: "0123456789abcde", DB: db, Tiers: tiers}, "token"},
		{"no token", Config{DB: db, Tiers: tiers}, "token"},
		{"space in token", Config{Token: "0123456789 abcdef", DB: db, Tiers: tiers}, "white space"},
		{"no db", Config{Token: testToken, Tiers: tiers}, "database"},
		{"no tiers", Config{Token: testToken, DB: db}, "tiers"},
		{"misnamed tier", Config{Token: testToken, DB: db, Tiers: map[string]admission.Tier{"a": {Name: "b"}}}, "named"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(tt.cfg)
			if tt.want == "" {
				if err != nil || h == nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: %v, want an error about %q", err, tt.want)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, path, auth string
		want             int
	}{
		{"no header", "/admin/v1/tenants", "", 401},
		{"basic scheme", "/admin/v1/tenants", "Basic " + testToken, 401},
		{"no scheme", "/admin/v1/tenants", testToken, 401},
		{"wrong token", "/admin/v1/tenants", "Bearer " + testToken + "x", 401},
		{"prefix of token", "/admin/v1/tenants", "Bearer " + testToken[:len(testToken)-1], 401},
		{"empty token", "/admin/v1/tenants", "Bearer ", 401},
		{"unknown path unauthenticated", "/admin/v1/nothing", "", 401},
		{"ok", "/admin/v1/tenants", "Bearer " + testToken, 200},
		{"ok lower-case scheme", "/admin/v1/tenants", "bearer " + testToken, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := e.doAuth("GET", tt.path, "", tt.auth)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body.String())
			}
			if tt.want != 401 {
				return
			}
			typ, code, param := apiErrorOf(t, w)
			if typ != "invalid_request_error" || code != "invalid_api_key" || param != nil {
				t.Errorf("401 body %s", w.Body.String())
			}
			if strings.Contains(w.Body.String(), testToken) {
				t.Errorf("401 body holds the token")
			}
			if w.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}

func TestRouting(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path string
		want         int
		allow        []string // methods the Allow header must name on a 405
	}{
		{"GET", "/admin/v1/nothing", 404, nil},
		{"GET", "/admin/v2/keys", 404, nil},
		{"GET", "/admin/v1/keys/", 404, nil},
		{"DELETE", "/admin/v1/keys", 405, []string{"GET", "POST"}},
		{"PATCH", "/admin/v1/keys", 405, []string{"GET", "POST"}},
		{"GET", "/admin/v1/keys/key_0123", 405, []string{"DELETE"}},
		{"POST", "/admin/v1/tenants/acme", 405, []string{"GET", "PUT"}},
		{"DELETE", "/admin/v1/tenants", 405, []string{"GET"}},
		{"POST", "/admin/v1/live", 405, []string{"GET"}},
		{"PUT", "/admin/v1/usage", 405, []string{"GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := e.do(tt.method, tt.path, "")
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body.String())
			}
			allow := w.Header().Get("Allow")
			for _, m := range tt.allow {
				if !strings.Contains(allow, m) {
					t.Errorf("Allow %q lacks %s", allow, m)
				}
			}
			if tt.allow == nil && allow != "" {
				t.Errorf("Allow %q on a %d", allow, w.Code)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()

	// Refusals before anything exists.
	bad := []struct {
		name, body string
		want       int
		param      string
	}{
		{"no tenant", `{}`, 400, "tenant"},
		{"bad tenant id", `{"tenant":"a b","tier":"solo"}`, 400, "tenant"},
		{"long tenant id", `{"tenant":"` + strings.Repeat("a", 129) + `","tier":"solo"}`, 400, "tenant"},
		{"new tenant without tier", `{"tenant":"acme"}`, 400, "tier"},
		{"unknown tier", `{"tenant":"acme","tier":"gold"}`, 400, "tier"},
		{"bad priority", `{"tenant":"acme","tier":"solo","priority":"warp"}`, 400, "priority"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			w := e.do("POST", "/admin/v1/keys", tt.body)
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body.String())
			}
			if _, _, p := apiErrorOf(t, w); p == nil || *p != tt.param {
				t.Errorf("param %v, want %s: %s", p, tt.param, w.Body.String())
			}
		})
	}
	if ts, _ := e.db.Tenants(ctx); len(ts) != 0 {
		t.Fatalf("refused creates made tenants: %v", ts)
	}

	// A key for a new tenant creates it; the key authenticates.
	k1 := e.createKey(`{"tenant":"acme","tier":"team","priority":"Fast"}`)
	if k1.Tenant != "acme" || k1.Tier != "team" || k1.Priority != "fast" || !strings.HasPrefix(k1.ID, "key_") ||
		k1.Created.IsZero() || !strings.HasPrefix(k1.Key, admission.KeyPrefix) || k1.Prefix != admission.DisplayPrefix(k1.Key) {
		t.Fatalf("created %+v", k1)
	}
	sk, ten, err := e.db.KeyByHash(ctx, [32]byte(admission.HashKey(k1.Key)))
	if err != nil || sk.ID != k1.ID || ten.ID != "acme" || ten.Tier != "team" || sk.Priority != "fast" {
		t.Fatalf("KeyByHash: %+v %+v %v", sk, ten, err)
	}

	// An existing tenant: no tier, or the same one, is fine; another is 409.
	k2 := e.createKey(`{"tenant":"acme"}`)
	e.createKey(`{"tenant":"acme","tier":"team"}`)
	if k2.Key == k1.Key || k2.ID == k1.ID || k2.Priority != "" {
		t.Fatalf("second key %+v", k2)
	}
	w := e.do("POST", "/admin/v1/keys", `{"tenant":"acme","tier":"solo"}`)
	if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "PUT /admin/v1/tenants/acme") {
		t.Fatalf("other tier: %d %s", w.Code, w.Body.String())
	}
	e.createKey(`{"tenant":"beta.co@x","tier":"solo"}`)

	// Listing: all, one tenant's, an unknown tenant's.
	all := decode[list[keyJSON]](t, e.do("GET", "/admin/v1/keys", ""))
	if all.Object != "list" || len(all.Data) != 4 {
		t.Fatalf("list: %+v", all)
	}
	acme := decode[list[keyJSON]](t, e.do("GET", "/admin/v1/keys?tenant=acme", ""))
	if len(acme.Data) != 3 || acme.Data[0].ID != k1.ID || acme.Data[0].Tier != "team" ||
		acme.Data[0].Prefix != k1.Prefix || acme.Data[0].LastUsed != nil || acme.Data[0].Revoked != nil {
		t.Fatalf("acme's keys: %+v", acme)
	}
	if w := e.do("GET", "/admin/v1/keys?tenant=nobody", ""); w.Code != 404 {
		t.Fatalf("unknown tenant's keys: %d %s", w.Code, w.Body.String())
	}

	// Revocation.
	w = e.do("DELETE", "/admin/v1/keys/"+k1.ID, "")
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != `{"id":"`+k1.ID+`","revoked":true}` {
		t.Fatalf("revoke: %d %s", w.Code, w.Body.String())
	}
	if _, _, err := e.db.KeyByHash(ctx, [32]byte(admission.HashKey(k1.Key))); !errors.Is(err, store.ErrRevoked) {
		t.Fatalf("revoked key: %v", err)
	}
	if w := e.do("DELETE", "/admin/v1/keys/"+k1.ID, ""); w.Code != 200 {
		t.Fatalf("revoke again: %d %s", w.Code, w.Body.String())
	}
	w = e.do("DELETE", "/admin/v1/keys/key_000000000000", "")
	if _, code, _ := apiErrorOf(t, w); w.Code != 404 || code != "not_found" {
		t.Fatalf("revoke unknown: %d %s", w.Code, w.Body.String())
	}
	acme = decode[list[keyJSON]](t, e.do("GET", "/admin/v1/keys?tenant=acme", ""))
	if acme.Data[0].Revoked == nil || acme.Data[1].Revoked != nil {
		t.Fatalf("after revoke: %+v", acme)
	}
	ten1 := decode[tenantJSON](t, e.do("GET", "/admin/v1/tenants/acme", ""))
	if ten1.ActiveKeys != 2 {
		t.Fatalf("active keys %d, want 2", ten1.ActiveKeys)
	}
}

// TestUnknownStoredTier: a tenant whose stored tier this server does not
// define can be seen and fixed but gets no keys until then.
func TestUnknownStoredTier(t *testing.T) {
	e := newEnv(t)
	if err := e.db.SetTenant(context.Background(), store.Tenant{ID: "old", Tier: "gold"}); err != nil {
		t.Fatal(err)
	}
	got := decode[tenantJSON](t, e.do("GET", "/admin/v1/tenants/old", ""))
	if got.Tier != "gold" || got.Streams != nil {
		t.Fatalf("tenant %+v", got)
	}
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/admin/v1/keys", `{"tenant":"old"}`},
		{"PUT", "/admin/v1/tenants/old", `{"streams":2}`},
	} {
		if w := e.do(c.method, c.path, c.body); w.Code != http.StatusConflict {
			t.Errorf("%s %s: %d %s", c.method, c.path, w.Code, w.Body.String())
		}
	}
	w := e.do("PUT", "/admin/v1/tenants/old", `{"tier":"solo","streams":2}`)
	if got := decode[tenantJSON](t, w); w.Code != 200 || got.Tier != "solo" || *got.Streams != 2 {
		t.Fatalf("fix: %d %s", w.Code, w.Body.String())
	}
	e.createKey(`{"tenant":"old"}`)
}

func TestTenants(t *testing.T) {
	e := newEnv(t)
	steps := []struct {
		name, method, path, body string
		want                     int
		check                    func(t *testing.T, got tenantJSON)
	}{
		{"get unknown", "GET", "/admin/v1/tenants/acme", "", 404, nil},
		{"new without tier", "PUT", "/admin/v1/tenants/acme", `{"streams":4}`, 400, nil},
		{"new with unknown tier", "PUT", "/admin/v1/tenants/acme", `{"tier":"gold"}`, 400, nil},
		{"bad id", "PUT", "/admin/v1/tenants/a%20b", `{"tier":"solo"}`, 400, nil},
		{"negative streams", "PUT", "/admin/v1/tenants/acme", `{"tier":"solo","streams":-1}`, 400, nil},
		{"create", "PUT", "/admin/v1/tenants/acme", `{"tier":"solo"}`, 201, func(t *testing.T, got tenantJSON) {
			if got.ID != "acme" || got.Tier != "solo" || *got.Streams != 3 || got.StreamsOverride != 0 ||
				got.ActiveKeys != 0 || got.Created.IsZero() || got.Live != (liveJSON{}) {
				t.Errorf("created %+v", got)
			}
		}},
		{"override", "PUT", "/admin/v1/tenants/acme", `{"streams":7}`, 200, func(t *testing.T, got tenantJSON) {
			if got.Tier != "solo" || *got.Streams != 7 || got.StreamsOverride != 7 {
				t.Errorf("override %+v", got)
			}
		}},
		{"no change", "PUT", "/admin/v1/tenants/acme", `{}`, 200, func(t *testing.T, got tenantJSON) {
			if got.Tier != "solo" || got.StreamsOverride != 7 {
				t.Errorf("no change %+v", got)
			}
		}},
		{"new tier keeps override", "PUT", "/admin/v1/tenants/acme", `{"tier":"team"}`, 200, func(t *testing.T, got tenantJSON) {
			if got.Tier != "team" || *got.Streams != 7 {
				t.Errorf("tier %+v", got)
			}
		}},
		{"clear override", "PUT", "/admin/v1/tenants/acme", `{"streams":0}`, 200, func(t *testing.T, got tenantJSON) {
			if *got.Streams != 10 || got.StreamsOverride != 0 {
				t.Errorf("cleared %+v", got)
			}
		}},
		{"unknown tier on update", "PUT", "/admin/v1/tenants/acme", `{"tier":"gold"}`, 400, nil},
		{"get", "GET", "/admin/v1/tenants/acme", "", 200, func(t *testing.T, got tenantJSON) {
			if got.Tier != "team" || *got.Streams != 10 {
				t.Errorf("get %+v", got)
			}
		}},
		{"another", "PUT", "/admin/v1/tenants/zed", `{"tier":"platform","streams":100}`, 201, nil},
	}
	var created time.Time
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			w := e.do(s.method, s.path, s.body)
			if w.Code != s.want {
				t.Fatalf("status %d, want %d: %s", w.Code, s.want, w.Body.String())
			}
			if s.check == nil {
				return
			}
			got := decode[tenantJSON](t, w)
			if got.Streams == nil {
				t.Fatalf("streams null: %s", w.Body.String())
			}
			if created.IsZero() {
				created = got.Created
			} else if !got.Created.Equal(created) {
				t.Errorf("created changed: %v, was %v", got.Created, created)
			}
			s.check(t, got)
		})
	}
	e.createKey(`{"tenant":"zed"}`)
	ts := decode[list[tenantJSON]](t, e.do("GET", "/admin/v1/tenants", ""))
	if ts.Object != "list" || len(ts.Data) != 2 || ts.Data[0].ID != "acme" || ts.Data[1].ID != "zed" ||
		*ts.Data[1].Streams != 100 || ts.Data[1].ActiveKeys != 1 || ts.Data[0].ActiveKeys != 0 {
		t.Fatalf("list %+v", ts)
	}
}

func TestLive(t *testing.T) {
	e := newEnv(t)
	e.createKey(`{"tenant":"acme","tier":"solo"}`)
	e.createKey(`{"tenant":"idle","tier":"team"}`)
	liveOf := func() list[liveTenantJSON] { return decode[list[liveTenantJSON]](t, e.do("GET", "/admin/v1/live", "")) }
	if l := liveOf(); l.Object != "list" || l.Data == nil || len(l.Data) != 0 {
		t.Fatalf("idle: %+v", l)
	}

	lim := admission.Limits{Streams: 1, Queue: 2, QueueWait: time.Minute}
	tk := e.admit("acme", lim)
	if l := liveOf(); len(l.Data) != 1 || l.Data[0] != (liveTenantJSON{Tenant: "acme", Running: 1, LimitStreams: 1, QueueLimit: 2}) {
		t.Fatalf("one running: %+v", l)
	}

	// A second request waits in acme's queue.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		tk2, err := e.ctl.Admit(ctx, admission.Request{Tenant: "acme", Limits: lim})
		if err == nil {
			tk2.Release()
		}
		done <- err
	}()
	for e.ctl.State("acme").Queued == 0 {
		time.Sleep(time.Millisecond)
	}
	if l := liveOf(); len(l.Data) != 1 || l.Data[0].Running != 1 || l.Data[0].Queued != 1 {
		t.Fatalf("one queued: %+v", l)
	}
	ts := decode[list[tenantJSON]](t, e.do("GET", "/admin/v1/tenants", ""))
	if ts.Data[0].ID != "acme" || ts.Data[0].Live != (liveJSON{Running: 1, Queued: 1}) || ts.Data[1].Live != (liveJSON{}) {
		t.Fatalf("tenants: %+v", ts)
	}
	if got := decode[tenantJSON](t, e.do("GET", "/admin/v1/tenants/acme", "")); got.Live != (liveJSON{Running: 1, Queued: 1}) {
		t.Fatalf("acme: %+v", got)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued admit: %v", err)
	}
	tk.Release()
	if l := liveOf(); len(l.Data) != 0 {
		t.Fatalf("after release: %+v", l)
	}
}

func TestNoAdmission(t *testing.T) {
	e := newEnv(t, noAdmission)
	e.createKey(`{"tenant":"acme","tier":"solo"}`)
	if got := e.do("GET", "/admin/v1/live", "").Body.String(); strings.TrimSpace(got) != `{"object":"list","data":[]}` {
		t.Fatalf("live: %s", got)
	}
	if got := decode[tenantJSON](t, e.do("GET", "/admin/v1/tenants/acme", "")); got.Live != (liveJSON{}) {
		t.Fatalf("tenant: %+v", got)
	}
}

func TestUsage(t *testing.T) {
	e := newEnv(t)
	now := e.now
	ms := time.Millisecond
	recs := []store.Usage{
		{Time: now.Add(-time.Minute), Tenant: "acme", Status: 200, PromptTokens: 10, CompletionTokens: 5, QueueTime: 10 * ms, TTFT: 100 * ms},
		{Time: now.Add(-2 * time.Minute), Tenant: "acme", Status: 200, PromptTokens: 20, CompletionTokens: 7, QueueTime: 30 * ms, TTFT: 300 * ms},
		{Time: now.Add(-3 * time.Minute), Tenant: "acme", Status: 429},
		{Time: now.Add(-4 * time.Minute), Tenant: "acme", Status: 408, QueueTime: 60 * time.Second},
		{Time: now.Add(-5 * time.Minute), Tenant: "acme", Status: 500},
		{Time: now.Add(-48 * time.Hour), Tenant: "old", Status: 200, PromptTokens: 1},
		{Time: now.Add(-30 * time.Minute), Tenant: "beta", Status: 200, PromptTokens: 3, CompletionTokens: 4},
	}
	if err := e.db.RecordUsage(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		query   string
		want    int
		since   time.Time
		tenants []string
	}{
		{"", 200, now.Add(-24 * time.Hour), []string{"acme", "beta"}},
		{"?since=10m", 200, now.Add(-10 * time.Minute), []string{"acme"}},
		{"?since=72h", 200, now.Add(-72 * time.Hour), []string{"acme", "beta", "old"}},
		{"?since=72h&tenant=old", 200, now.Add(-72 * time.Hour), []string{"old"}},
		{"?tenant=nobody", 200, now.Add(-24 * time.Hour), []string{}},
		{"?since=" + now.Add(-time.Hour).Format(time.RFC3339), 200, now.Add(-time.Hour), []string{"acme", "beta"}},
		{"?since=-1h", 400, time.Time{}, nil},
		{"?since=0s", 400, time.Time{}, nil},
		{"?since=yesterday", 400, time.Time{}, nil},
		{"?tenant=a%20b", 400, time.Time{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			w := e.do("GET", "/admin/v1/usage"+tt.query, "")
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.want, w.Body.String())
			}
			if tt.want != 200 {
				if _, _, p := apiErrorOf(t, w); p == nil {
					t.Errorf("no param: %s", w.Body.String())
				}
				return
			}
			got := decode[usageList](t, w)
			if got.Object != "list" || got.Since != tt.since.Unix() || got.Data == nil {
				t.Fatalf("usage %+v", got)
			}
			var names []string
			for _, u := range got.Data {
				names = append(names, u.Tenant)
			}
			if strings.Join(names, ",") != strings.Join(tt.tenants, ",") {
				t.Fatalf("tenants %v, want %v", names, tt.tenants)
			}
		})
	}
	got := decode[usageList](t, e.do("GET", "/admin/v1/usage?tenant=acme", ""))
	want := usageJSON{Tenant: "acme", Requests: 5, OK: 2, QueueTimeout: 1, OverCapacity: 1, Errors: 1,
		PromptTokens: 30, CompletionTokens: 12}
	u := got.Data[0]
	if u.QueueTimeMS.Mean != 12008 || u.QueueTimeMS.P99 != 60000 || u.TTFTMS.Mean != 200 || u.TTFTMS.P50 == 0 {
		t.Errorf("latencies %+v %+v", u.QueueTimeMS, u.TTFTMS)
	}
	u.QueueTimeMS, u.TTFTMS = latencyMS{}, latencyMS{}
	if u != want {
		t.Errorf("acme %+v, want %+v", u, want)
	}
	if !strings.Contains(e.do("GET", "/admin/v1/usage?tenant=acme", "").Body.String(), `"stream_capacity_exceeded":1`) {
		t.Errorf("no stream_capacity_exceeded field")
	}
}

// TestLogsHoldNoSecrets: the log of a session of changes and refusals
// names keys by id only, and never holds the token.
func TestLogsHoldNoSecrets(t *testing.T) {
	var buf strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := newEnv(t, func(c *Config) { c.Logger = logger })
	k := e.createKey(`{"tenant":"acme","tier":"solo"}`)
	e.do("PUT", "/admin/v1/tenants/acme", `{"streams":2}`)
	e.do("DELETE", "/admin/v1/keys/"+k.ID, "")
	e.doAuth("GET", "/admin/v1/keys", "", "Bearer "+k.Key)
	e.doAuth("GET", "/admin/v1/keys", "", "Bearer wrong-"+testToken)
	e.db.Close() // store failures are logged
	if w := e.do("GET", "/admin/v1/tenants", ""); w.Code != 500 {
		t.Fatalf("closed store: %d %s", w.Code, w.Body.String())
	}
	mu.Lock()
	log := buf.String()
	mu.Unlock()
	if !strings.Contains(log, k.ID) || !strings.Contains(log, "list tenants") {
		t.Fatalf("log lacks the key id or the failure:\n%s", log)
	}
	h := admission.HashKey(k.Key)
	for _, secret := range []string{testToken, k.Key, hex.EncodeToString(h[:])} {
		if strings.Contains(log, secret) {
			t.Errorf("log holds a secret %q:\n%s", secret, log)
		}
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestLastUsed(t *testing.T) {
	e := newEnv(t)
	k := e.createKey(`{"tenant":"acme","tier":"solo"}`)
	used := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := e.db.TouchKeys(context.Background(), map[string]time.Time{k.ID: used}); err != nil {
		t.Fatal(err)
	}
	w := e.do("GET", "/admin/v1/keys", "")
	ks := decode[list[keyJSON]](t, w)
	if len(ks.Data) != 1 || ks.Data[0].LastUsed == nil || !ks.Data[0].LastUsed.Equal(used) || ks.Data[0].Revoked != nil {
		t.Fatalf("keys %s", w.Body.String())
	}
	if !strings.Contains(w.Body.String(), `"last_used":"2030-01-02T03:04:05Z","revoked":null`) {
		t.Errorf("times not RFC 3339 / null: %s", w.Body.String())
	}
}
