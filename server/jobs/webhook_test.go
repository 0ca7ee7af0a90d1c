package jobs

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sotasystems/sota/store"
)

// receiver is a loopback webhook endpoint that fails its first fails calls.
type receiver struct {
	mu    sync.Mutex
	fails int
	calls []http.Header
	body  [][]byte
	got   chan struct{}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.calls = append(rc.calls, r.Header.Clone())
	rc.body = append(rc.body, b)
	if len(rc.calls) <= rc.fails {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusNoContent)
	close(rc.got)
}

// A finished job's webhook is signed with the tenant's secret, retried
// after failures with the same delivery id, and its attempts recorded.
func TestWebhookSignedAndRetried(t *testing.T) {
	h := newHarness(t)
	rc := &receiver{fails: 2, got: make(chan struct{})}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	id := h.submit("ka", `{"prompt": "hook", "max_tokens": 3, "async": true, "webhook_url": "`+hook.URL+`/done"}`)
	select {
	case <-rc.got:
	case <-time.After(20 * time.Second):
		t.Fatal("no delivery")
	}
	secret, err := h.db.WebhookSecret(context.Background(), "acme", func() (string, error) { t.Fatal("no secret made"); return "", nil })
	if err != nil || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret %q %v", secret, err)
	}
	rc.mu.Lock()
	calls, bodies := rc.calls, rc.body
	rc.mu.Unlock()
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3", len(calls))
	}
	for i, c := range calls {
		if err := Verify(secret, c.Get(HeaderSignature), bodies[i], time.Now(), time.Minute); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		if c.Get(HeaderEvent) != "job.finished" || c.Get(HeaderDelivery) != calls[0].Get(HeaderDelivery) {
			t.Fatalf("call %d headers %v", i, c)
		}
	}
	if err := Verify("whsec_other", calls[0].Get(HeaderSignature), bodies[0], time.Now(), time.Minute); err == nil {
		t.Fatal("another secret verified")
	}
	if err := Verify(secret, calls[0].Get(HeaderSignature), append(bodies[0], ' '), time.Now(), time.Minute); err == nil {
		t.Fatal("a changed body verified")
	}
	var o jobObject
	if err := json.Unmarshal(bodies[2], &o); err != nil || o.ID != id || o.Status != Finished || len(o.Result) == 0 {
		t.Fatalf("payload %s", bodies[2])
	}
	var ds []store.Delivery
	for deadline := time.Now().Add(5 * time.Second); ; {
		ds, _ = h.db.Deliveries(context.Background(), id)
		if len(ds) == 1 && !ds[0].Delivered.IsZero() || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if len(ds) != 1 || ds[0].Attempts != 3 || ds[0].Delivered.IsZero() || ds[0].LastStatus != http.StatusNoContent {
		t.Fatalf("deliveries %+v", ds)
	}
}

// A receiver that never accepts is given up after the attempts allowed.
func TestWebhookGivenUp(t *testing.T) {
	h := newHarness(t)
	rc := &receiver{fails: 1 << 30, got: make(chan struct{})}
	hook := httptest.NewServer(rc)
	defer hook.Close()
	id := h.submit("ka", `{"prompt": "hook", "max_tokens": 2, "async": true, "webhook_url": "`+hook.URL+`"}`)
	for deadline := time.Now().Add(20 * time.Second); ; {
		ds, _ := h.db.Deliveries(context.Background(), id)
		if len(ds) == 1 && ds[0].Failed {
			if ds[0].Attempts != h.cfg.WebhookAttempts || ds[0].LastStatus != http.StatusServiceUnavailable {
				t.Fatalf("delivery %+v", ds[0])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries %+v", ds)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
