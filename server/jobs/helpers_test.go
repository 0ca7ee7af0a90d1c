package jobs

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/fake"
	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/server/openai"
	"github.com/sotasystems/sota/store"
	"github.com/sotasystems/sota/tokenizer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

// keyring is a test Authenticator: key → principal.
type keyring map[string]admission.Principal

func (k keyring) Authenticate(_ context.Context, key string) (admission.Principal, error) {
	p, ok := k[key]
	if !ok {
		return p, fmt.Errorf("%w: unknown key", admission.ErrUnauthorized)
	}
	return p, nil
}

// gen adapts openai.Server to Generator, as cmd/sota does.
type gen struct{ srv *openai.Server }

func (g gen) Generate(ctx context.Context, c Call) Reply {
	r := g.srv.Do(ctx, openai.Call{Principal: c.Principal, Endpoint: c.Endpoint, Body: c.Body, RequestID: c.RequestID,
		Class: c.Class, Check: c.Check, Admit: c.Admit, Progress: c.Progress})
	return Reply{Status: r.Status, Body: r.Body}
}

// harness is an OpenAI server and a jobs service over the fake backend,
// on one HTTP server, with two tenants (keys "ka" and "kb").
type harness struct {
	t    testing.TB
	dir  string
	be   *fake.Backend
	eng  *engine.Engine
	srv  *openai.Server
	adm  *admission.Controller
	db   *store.DB
	svc  *Service
	http *httptest.Server
	cfg  Config
	keys keyring
}

type option func(*harness)

func withStep(d time.Duration) option { return func(h *harness) { h.be.StepDelay = d } }
func withConfig(f func(*Config)) option {
	return func(h *harness) { f(&h.cfg) }
}

func tier(streams, queue int) admission.Tier {
	return admission.Tier{Name: "test", Streams: streams, Queue: queue, QueueWait: 60 * time.Second, RetryAfter: time.Second,
		Models: []string{"*"}, Priorities: []admission.Class{admission.Slow, admission.Medium}, Weight: 1}
}

func newHarness(t testing.TB, opts ...option) *harness {
	t.Helper()
	tok, err := tokenizer.LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, dir: t.TempDir()}
	h.be = fake.New(backend.Geometry{VocabSize: tok.VocabSize(), MaxModelLen: 2048, BlockSize: 16, NumBlocks: 4096})
	h.keys = keyring{
		"ka": {Tenant: "acme", KeyID: "key_a", Tier: tier(2, 4)},
		"kb": {Tenant: "beta", KeyID: "key_b", Tier: tier(2, 4)},
	}
	h.adm = admission.NewController(nil)
	h.cfg = Config{Auth: h.keys, Admission: h.adm, Logger: quiet, FlushInterval: 20 * time.Millisecond,
		WebhookBackoff: 10 * time.Millisecond, WebhookAttempts: 4}
	for _, o := range opts {
		o(h)
	}
	h.eng, err = engine.New(h.be, engine.Config{EOSTokenIDs: []int32{2}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := tokenizer.NewTemplate(map[string]string{"default": "{% for m in messages %}{{ m['content'] }}{% endfor %}"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &openai.Model{Name: "stories", Engine: h.eng, Tokenizer: tok, Template: tmpl, Defaults: sample.Defaults()}
	h.srv, err = openai.New(openai.Config{Models: []*openai.Model{m}, Logger: quiet, Auth: h.cfg.Auth, Admission: h.cfg.Admission})
	if err != nil {
		t.Fatal(err)
	}
	h.open()
	h.start()
	t.Cleanup(func() {
		h.stop()
		h.eng.Close()
	})
	return h
}

func (h *harness) open() {
	db, err := store.Open(filepath.Join(h.dir, "sota.db"))
	if err != nil {
		h.t.Fatal(err)
	}
	h.db = db
}

// start starts the jobs service and the HTTP server.
func (h *harness) start() {
	cfg := h.cfg
	cfg.DB, cfg.Generator = h.db, gen{h.srv}
	svc, err := New(cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	h.svc = svc
	mux := http.NewServeMux()
	svc.Mount(mux)
	mux.Handle("/", h.srv.Handler())
	h.http = httptest.NewServer(mux)
}

// stop closes the HTTP server, the service and the store.
func (h *harness) stop() {
	if h.svc == nil {
		return
	}
	h.http.CloseClientConnections()
	h.http.Close()
	h.svc.Close()
	h.db.Close()
	h.svc = nil
}

// restart is a new process on the same store: what Close left unfinished
// runs again.
func (h *harness) restart() {
	h.stop()
	h.open()
	h.start()
}

func (h *harness) do(method, path, key, body string, header ...string) (int, string, http.Header) {
	h.t.Helper()
	req, err := http.NewRequest(method, h.http.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := h.http.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// submit posts an async job and returns its id.
func (h *harness) submit(key, body string) string {
	h.t.Helper()
	code, out, _ := h.do("POST", "/v1/stories/generate", key, body)
	if code != http.StatusAccepted {
		h.t.Fatalf("submit: %d %s", code, out)
	}
	var o jobObject
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		h.t.Fatal(err)
	}
	return o.ID
}

func (h *harness) job(key, id string) jobObject {
	h.t.Helper()
	code, out, _ := h.do("GET", "/v1/jobs/"+id, key, "")
	if code != http.StatusOK {
		h.t.Fatalf("get %s: %d %s", id, code, out)
	}
	var o jobObject
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		h.t.Fatal(err)
	}
	return o
}

// waitFor polls the job until cond holds (or fails after 20 s).
func (h *harness) waitFor(key, id string, cond func(jobObject) bool) jobObject {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		o := h.job(key, id)
		if cond(o) {
			return o
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("job %s: still %s", id, o.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func isFinal(o jobObject) bool { return final(o.Status) }

// completion is a result's comparable part (ids and times differ per run).
type completion struct {
	Choices json.RawMessage `json:"choices"`
	Usage   json.RawMessage `json:"usage"`
}

func choices(t testing.TB, body []byte) completion {
	t.Helper()
	var c completion
	if err := json.Unmarshal(body, &c); err != nil || len(c.Choices) == 0 {
		t.Fatalf("not a completion: %s", body)
	}
	return c
}

// sseEvent is one server-sent event.
type sseEvent struct{ event, id, data string }

// readEvents reads events from r until it ends or stop returns true.
func readEvents(r io.Reader, stop func(sseEvent) bool) []sseEvent {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var out []sseEvent
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				out = append(out, ev)
				if stop(ev) {
					return out
				}
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "event: "):
			ev.event = line[7:]
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
	return out
}
