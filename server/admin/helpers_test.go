package admin

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const testToken = "admin-token-0123456789abcdef"

// env is one admin handler over a fresh database and controller.
type env struct {
	t   testing.TB
	h   http.Handler
	db  *store.DB
	ctl *admission.Controller
	now time.Time
	// keys and their hashes handed out so far: no response but the create
	// that made one may contain a key, and none a hash.
	keys []issued
}

// issued is a key handed out and its hash as hex and base64 (lower case).
type issued struct {
	key    string
	hashes []string
}

type envOpt func(*Config)

func noAdmission(c *Config) { c.Admission = nil }

func newEnv(t testing.TB, opts ...envOpt) *env {
	t.Helper()
	db, err := store.Open(t.TempDir() + "/sota.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, db: db, ctl: admission.NewController(nil), now: time.Now().UTC().Truncate(time.Second)}
	cfg := Config{Token: testToken, DB: db, Tiers: admission.DefaultTiers(), Admission: e.ctl,
		Now: func() time.Time { return e.now }}
	for _, o := range opts {
		o(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.h = h
	return e
}

// do sends a request with the admin token and checks the answer's shape.
func (e *env) do(method, path, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.doAuth(method, path, body, "Bearer "+testToken)
}

func (e *env) doAuth(method, path, body, auth string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := httptest.NewRecorder()
	e.h.ServeHTTP(w, r)
	e.check(w)
	return w
}

// check asserts what every answer must be: JSON; an error in the one
// shape; no hash of a key ever, no key but in its create response.
func (e *env) check(w *httptest.ResponseRecorder) {
	e.t.Helper()
	body := w.Body.String()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		e.t.Errorf("status %d: Content-Type %q, body %s", w.Code, ct, body)
	}
	if !json.Valid(w.Body.Bytes()) {
		e.t.Fatalf("status %d: body is not JSON: %q", w.Code, body)
	}
	if w.Code >= 400 {
		checkErrorShape(e.t, w.Code, w.Body.Bytes())
	}
	var created struct{ Key string }
	if w.Code == http.StatusCreated {
		_ = json.Unmarshal(w.Body.Bytes(), &created)
	}
	lower := strings.ToLower(body)
	for _, k := range e.keys {
		if k.key != created.Key && strings.Contains(body, k.key) {
			e.t.Errorf("status %d: body holds a key: %s", w.Code, body)
		}
		for _, enc := range k.hashes {
			if strings.Contains(lower, enc) {
				e.t.Errorf("status %d: body holds a key hash: %s", w.Code, body)
			}
		}
	}
	if created.Key != "" {
		h := admission.HashKey(created.Key)
		e.keys = append(e.keys, issued{key: created.Key, hashes: []string{hex.EncodeToString(h[:]),
			strings.ToLower(base64.StdEncoding.EncodeToString(h[:])),
			strings.ToLower(base64.RawURLEncoding.EncodeToString(h[:]))}})
	}
}

// checkErrorShape asserts {"error":{"message","type","param","code"}} and
// nothing else.
func checkErrorShape(t testing.TB, status int, body []byte) {
	t.Helper()
	var outer map[string]json.RawMessage
	if err := json.Unmarshal(body, &outer); err != nil || len(outer) != 1 || outer["error"] == nil {
		t.Fatalf("status %d: not an error body: %s", status, body)
	}
	var inner map[string]any
	if err := json.Unmarshal(outer["error"], &inner); err != nil {
		t.Fatalf("status %d: error is not an object: %s", status, body)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := inner[k]; !ok {
			t.Errorf("status %d: error lacks %q: %s", status, k, body)
		}
	}
	if len(inner) != 4 {
		t.Errorf("status %d: error has other fields: %s", status, body)
	}
	if m, _ := inner["message"].(string); m == "" {
		t.Errorf("status %d: empty message: %s", status, body)
	}
	if ty, _ := inner["type"].(string); ty == "" {
		t.Errorf("status %d: empty type: %s", status, body)
	}
}

// apiErrorOf decodes an error body.
func apiErrorOf(t testing.TB, w *httptest.ResponseRecorder) (typ, code string, param *string) {
	t.Helper()
	var b struct {
		Error struct {
			Type  string  `json:"type"`
			Code  *string `json:"code"`
			Param *string `json:"param"`
		} `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	if b.Error.Code != nil {
		code = *b.Error.Code
	}
	return b.Error.Type, code, b.Error.Param
}

func decode[T any](t testing.TB, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decode %T from %s: %v", v, w.Body.String(), err)
	}
	return v
}

// createKey makes a key through the API and returns the answer.
func (e *env) createKey(body string) createdKeyJSON {
	e.t.Helper()
	w := e.do("POST", "/admin/v1/keys", body)
	if w.Code != http.StatusCreated {
		e.t.Fatalf("create key %s: %d %s", body, w.Code, w.Body.String())
	}
	return decode[createdKeyJSON](e.t, w)
}

// admit takes a stream slot of tenant's directly from the controller.
func (e *env) admit(tenant string, l admission.Limits) *admission.Ticket {
	e.t.Helper()
	tk, err := e.ctl.Admit(context.Background(), admission.Request{Tenant: tenant, Limits: l})
	if err != nil {
		e.t.Fatal(err)
	}
	return tk
}
