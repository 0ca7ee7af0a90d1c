package openai

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"go.uber.org/goleak"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/fake"
	"github.com/sotasystems/sota/engine"
	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/tokenizer"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.DiscardHandler)

// plainTemplate renders the messages' contents back to back, so a prompt's
// ids are the encoded user text and scripts can key on them.
const plainTemplate = "{% for m in messages %}{{ m['content'] }}{% endfor %}"

type testServer struct {
	t      testing.TB
	tok    *tokenizer.Tokenizer
	be     *fake.Backend
	eng    *engine.Engine
	srv    *Server
	http   *httptest.Server
	client sdk.Client
	model  *Model
}

// reply scripts the fake backend to answer a prompt (as the plain template
// renders it) with text, then EOS.
type reply struct {
	prompt, text string
	bos          bool // the prompt as /v1/completions encodes it: with BOS
}

func newTestServer(t testing.TB, parser ToolParser, replies ...reply) *testServer {
	t.Helper()
	tok, err := tokenizer.LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	var scripts []fake.Script
	for _, r := range replies {
		scripts = append(scripts, fake.Script{Prompt: tok.Encode(r.prompt, r.bos), Output: tok.Encode(r.text, false), EOS: 2})
	}
	be := fake.New(backend.Geometry{VocabSize: tok.VocabSize(), MaxModelLen: 512, BlockSize: 16, NumBlocks: 512}, scripts...)
	be.CheckKV = true
	eng, err := engine.New(be, engine.Config{EOSTokenIDs: []int32{2}, EnablePrefixCaching: true, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := tokenizer.NewTemplate(map[string]string{"default": plainTemplate}, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &Model{Name: "stories", Aliases: []string{"alias"}, Engine: eng, Tokenizer: tok, Template: tmpl,
		ToolParser: parser, Defaults: sample.Defaults()}
	srv, err := New(Config{Models: []*Model{m}, Logger: quiet, Version: "test", MaxBodyBytes: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	ts := &testServer{t: t, tok: tok, be: be, eng: eng, srv: srv, http: hs, model: m}
	ts.client = sdk.NewClient(option.WithBaseURL(hs.URL+"/v1"), option.WithAPIKey("sk-test"), option.WithMaxRetries(0))
	t.Cleanup(func() {
		hs.Close()
		ts.assertIdle()
		eng.Close()
	})
	return ts
}

// assertIdle syncs with the engine loop (a request round trip: its inbox is
// ordered) and checks that nothing runs and no KV block is held.
func (ts *testServer) assertIdle() {
	ts.t.Helper()
	s, err := ts.eng.Generate(context.Background(), engine.Request{Prompt: []int32{1}, MaxTokens: 1})
	if err != nil {
		ts.t.Fatal(err)
	}
	for {
		if _, err := s.Recv(context.Background()); err != nil {
			break
		}
	}
	if st := ts.eng.Stats(); st.Running != 0 || st.Waiting != 0 || st.KVBlocksUsed != 0 {
		ts.t.Errorf("engine not idle: running %d waiting %d blocks %d", st.Running, st.Waiting, st.KVBlocksUsed)
	}
}

// text is what the server makes of reply text: the scripted tokens decoded
// after the prompt (SentencePiece gives the first a leading space).
func (ts *testServer) text(prompt, text string) string {
	return ts.textAfter(ts.tok.Encode(prompt, false), text)
}

// textAfter is text for a prompt given as ids.
func (ts *testServer) textAfter(prompt []int32, text string) string {
	dec := ts.tok.NewDecoder(true)
	dec.Prime(prompt)
	var b strings.Builder
	for _, id := range ts.tok.Encode(text, false) {
		b.WriteString(dec.Add(id))
	}
	b.WriteString(dec.Flush())
	return b.String()
}

// post sends a raw request and returns status, body and headers.
func (ts *testServer) post(path, body string, header ...string) (int, string, map[string]string) {
	ts.t.Helper()
	req := httptest.NewRequest("POST", ts.http.URL+path, strings.NewReader(body))
	req.RequestURI = ""
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	h := map[string]string{}
	for k := range resp.Header {
		h[k] = resp.Header.Get(k)
	}
	return resp.StatusCode, string(b), h
}

func (ts *testServer) get(path string) (int, string) {
	ts.t.Helper()
	resp, err := ts.http.Client().Get(ts.http.URL + path)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func decodeJSON(resp *http.Response, v any) error {
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}
