package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// bodyCases are bodies each write endpoint must refuse, with the status
// and the param the error must name ("" = null).
var bodyCases = []struct {
	name, body string
	want       int
	param      string
}{
	{"empty", ``, 400, ""},
	{"spaces", "  \n", 400, ""},
	{"malformed", `{"tenant":`, 400, ""},
	{"not JSON", `tenant=acme`, 400, ""},
	{"array", `[]`, 400, ""},
	{"string", `"acme"`, 400, ""},
	{"unknown field", `{"tenant":"acme","tier":"solo","nickname":"x"}`, 400, ""},
	{"trailing data", `{"tenant":"acme","tier":"solo"} {}`, 400, ""},
	{"trailing garbage", `{"tenant":"acme","tier":"solo"}x`, 400, ""},
	{"tier not a string", `{"tier":5}`, 400, "tier"},
	{"too large", `{"tenant":"acme","tier":"` + strings.Repeat("a", maxBody) + `"}`, 413, ""},
}

func TestBodies(t *testing.T) {
	e := newEnv(t)
	for _, ep := range []struct{ method, path string }{
		{"POST", "/admin/v1/keys"},
		{"PUT", "/admin/v1/tenants/acme"},
	} {
		for _, tt := range bodyCases {
			t.Run(ep.method+" "+tt.name, func(t *testing.T) {
				w := e.do(ep.method, ep.path, tt.body)
				if w.Code != tt.want {
					t.Fatalf("status %d, want %d: %.300s", w.Code, tt.want, w.Body.String())
				}
				_, code, p := apiErrorOf(t, w)
				if got := ""; p != nil {
					got = *p
					if got != tt.param {
						t.Errorf("param %q, want %q", got, tt.param)
					}
				} else if tt.param != "" {
					t.Errorf("param null, want %q", tt.param)
				}
				if tt.want == 413 && code != "request_too_large" {
					t.Errorf("413 code %q", code)
				}
			})
		}
	}
	// Wrong types of the PUT's own fields.
	w := e.do("PUT", "/admin/v1/tenants/acme", `{"tier":"solo","streams":"3"}`)
	if _, _, p := apiErrorOf(t, w); w.Code != 400 || p == nil || *p != "streams" {
		t.Fatalf("streams as a string: %d %s", w.Code, w.Body.String())
	}
	w = e.do("PUT", "/admin/v1/tenants/acme", `{"tier":"solo","streams":1.5}`)
	if w.Code != 400 {
		t.Fatalf("streams 1.5: %d %s", w.Code, w.Body.String())
	}
	// Nothing was written by any refused body.
	if w := e.do("GET", "/admin/v1/tenants", ""); strings.TrimSpace(w.Body.String()) != `{"object":"list","data":[]}` {
		t.Fatalf("refused bodies wrote: %s", w.Body.String())
	}
}

// FuzzBodies: whatever the body, POST /admin/v1/keys and PUT
// /admin/v1/tenants/{id} answer JSON: a success of the documented shape or
// an error in the one error shape, never a panic or a 500.
func FuzzBodies(f *testing.F) {
	for _, tt := range bodyCases {
		if tt.want != 413 {
			f.Add(tt.body)
		}
	}
	for _, s := range []string{`{"tenant":"acme","tier":"solo"}`, `{"tenant":"acme","priority":"fast"}`,
		`{"tier":"team","streams":4}`, `{"streams":0}`, `null`, `{"tenant":null}`, `{"tier":"solo","streams":1e3}`,
		`{"tenant":"acme","tier":"solo","priority":" SLOW "}`, `{"streams":-1}`, `{"TENANT":"acme","Tier":"solo"}`} {
		f.Add(s)
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, body string) {
		e.t = t
		for _, ep := range []struct {
			method, path string
			ok           []int
		}{
			{"POST", "/admin/v1/keys", []int{201}},
			{"PUT", "/admin/v1/tenants/fuzz", []int{200, 201}},
		} {
			w := e.do(ep.method, ep.path, body) // checks JSON, error shape, no leaked keys
			switch {
			case w.Code == http.StatusBadRequest, w.Code == http.StatusConflict:
			case w.Code == ep.ok[0] || len(ep.ok) > 1 && w.Code == ep.ok[1]:
				var v map[string]any
				if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil || v["id"] == nil || v["tier"] == nil {
					t.Fatalf("%s %s %q: success body %s", ep.method, ep.path, body, w.Body.String())
				}
			default:
				t.Fatalf("%s %s %q: status %d: %s", ep.method, ep.path, body, w.Code, w.Body.String())
			}
		}
	})
}
