package grpcapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/fake"
	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/internal/demo"
	sotav1 "github.com/sotasystems/sota/proto/sota/v1"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/server/openai"
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
	oc := openai.Call{Principal: c.Principal, Endpoint: openai.EndpointCompletions, Body: c.Body, RequestID: c.RequestID, Class: c.Class}
	if c.Chat {
		oc.Endpoint = openai.EndpointChat
	}
	if c.Deltas != nil {
		oc.Deltas = func(d openai.Delta) {
			out := Delta{Choice: d.Choice, Text: d.Text, TokenIDs: d.TokenIDs, Finish: d.Finish}
			for _, lp := range d.Logprobs {
				l := &sotav1.TokenLogprob{TokenId: lp.TokenID, Token: lp.Token, Logprob: lp.Logprob}
				for _, t := range lp.Top {
					l.Top = append(l.Top, &sotav1.TopLogprob{TokenId: t.TokenID, Token: t.Token, Logprob: t.Logprob})
				}
				out.Logprobs = append(out.Logprobs, l)
			}
			c.Deltas(out)
		}
	}
	r := g.srv.Do(ctx, oc)
	return Reply{Status: r.Status, Body: r.Body}
}

func tier(name string, streams, queue int, wait time.Duration, models ...string) admission.Tier {
	if len(models) == 0 {
		models = []string{"*"}
	}
	return admission.Tier{Name: name, Streams: streams, Queue: queue, QueueWait: wait, RetryAfter: 3 * time.Second,
		Models: models, Priorities: []admission.Class{admission.Slow, admission.Medium}, Weight: 1}
}

// harness is an OpenAI server (over HTTP, httptest) and the gRPC API (over
// bufconn) on one engine with the fake backend and keyed tenants:
// "ka" (acme: 2 streams, queue 1, 100 ms wait), "kb" (beta: 1 stream, no
// queue), "kc" (gamma: only the model "other").
type harness struct {
	t    *testing.T
	be   *fake.Backend
	eng  *engine.Engine
	srv  *openai.Server
	api  *Server
	http *httptest.Server
	conn *grpc.ClientConn
	cli  sotav1.InferenceServiceClient
}

func newHarness(t *testing.T, step time.Duration) *harness {
	t.Helper()
	tok, err := tokenizer.LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t}
	h.be = fake.New(backend.Geometry{VocabSize: tok.VocabSize(), MaxModelLen: 512, BlockSize: 16, NumBlocks: 1024})
	h.be.StepDelay = step
	keys := keyring{
		"ka": {Tenant: "acme", KeyID: "key_a", Tier: tier("a", 2, 1, 100*time.Millisecond)},
		"kb": {Tenant: "beta", KeyID: "key_b", Tier: tier("b", 1, 0, time.Second)},
		"kc": {Tenant: "gamma", KeyID: "key_c", Tier: tier("c", 1, 0, time.Second, "other")},
	}
	adm := admission.NewController(nil)
	h.eng, err = engine.New(h.be, engine.Config{EOSTokenIDs: []int32{2}, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := tokenizer.NewTemplate(map[string]string{"default": "{% for m in messages %}{{ m['content'] }}\n{% endfor %}"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &openai.Model{Name: "stories", Engine: h.eng, Tokenizer: tok, Template: tmpl, Defaults: sample.Defaults()}
	h.srv, err = openai.New(openai.Config{Models: []*openai.Model{m}, Logger: quiet, Auth: keys, Admission: adm})
	if err != nil {
		t.Fatal(err)
	}
	h.api, err = New(Config{Generator: gen{h.srv}, Auth: keys, Logger: quiet,
		Models: []Model{{ID: "stories", Tokenizer: tok, MaxModelLen: h.eng.MaxModelLen(), Created: time.Unix(1700000000, 0)}}})
	if err != nil {
		t.Fatal(err)
	}
	h.http = httptest.NewServer(h.srv.Handler())
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	h.api.Register(gs)
	served := make(chan struct{})
	go func() { _ = gs.Serve(lis); close(served) }()
	h.conn, err = grpc.NewClient("passthrough:///bufnet", grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }))
	if err != nil {
		t.Fatal(err)
	}
	h.cli = sotav1.NewInferenceServiceClient(h.conn)
	t.Cleanup(func() {
		h.conn.Close()
		gs.Stop()
		<-served
		h.http.Close()
		h.eng.Close()
	})
	return h
}

// ctx is a test context carrying key as a bearer token ("" = none).
func (h *harness) ctx(key string) context.Context {
	ctx := h.t.Context()
	if key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
	}
	return ctx
}

// collect reads a Generate stream to its end: the deltas, the last
// message (with usage) and the status.
func collect(s grpc.ServerStreamingClient[sotav1.GenerateResponse]) (deltas []*sotav1.GenerateResponse, last *sotav1.GenerateResponse, err error) {
	for {
		m, err := s.Recv()
		if err == io.EOF {
			return deltas, last, nil
		}
		if err != nil {
			return deltas, last, err
		}
		if m.Usage != nil {
			last = m
			continue
		}
		deltas = append(deltas, m)
	}
}

// waitFor polls cond (up to 5 s).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
