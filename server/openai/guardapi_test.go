package openai

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestGuard(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	ts.srv.cfg.AllowedHosts = []string{"localhost"}
	onError := func(w http.ResponseWriter, status int, msg string, retryAfter int) {
		w.WriteHeader(status)
		fmt.Fprintf(w, "other shape: %s (retry %d)", msg, retryAfter)
	}
	inside := make(chan int64, 1)
	h := ts.srv.Guard(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inside <- ts.srv.running.Load()
		w.WriteHeader(http.StatusTeapot)
	}), onError)
	for _, tc := range []struct {
		name, host, contentType string
		drain                   bool
		status                  int
	}{
		{"passes", "localhost", "application/json", false, http.StatusTeapot},
		{"foreign host", "evil.example", "application/json", false, http.StatusMisdirectedRequest},
		{"text/plain", "localhost", "text/plain", false, http.StatusUnsupportedMediaType},
		{"draining", "localhost", "application/json", true, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.drain {
				ts.srv.Drain()
				defer ts.srv.draining.Store(false)
			}
			r := httptest.NewRequest("POST", "http://"+tc.host+"/v1/messages", strings.NewReader("{}"))
			r.Header.Set("Content-Type", tc.contentType)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
			}
			if tc.status == http.StatusTeapot {
				if n := <-inside; n != 1 {
					t.Errorf("running %d inside the handler, want 1", n)
				}
			} else if !strings.HasPrefix(w.Body.String(), "other shape: ") {
				t.Errorf("body %q", w.Body)
			}
		})
	}
	if n := ts.srv.running.Load(); n != 0 {
		t.Errorf("running %d after", n)
	}
}
