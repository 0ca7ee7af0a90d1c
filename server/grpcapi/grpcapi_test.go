package grpcapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	rpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	sotav1 "github.com/sotasystems/sota/proto/sota/v1"
)

func ptr[T any](v T) *T { return &v }

// httpCompletion is the part of a /v1/completions response compared.
type httpCompletion struct {
	Choices []struct {
		Index    int    `json:"index"`
		Text     string `json:"text"`
		Logprobs *struct {
			Tokens        []string             `json:"tokens"`
			TokenLogprobs []float32            `json:"token_logprobs"`
			TopLogprobs   []map[string]float32 `json:"top_logprobs"`
		} `json:"logprobs"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int32 `json:"prompt_tokens"`
		CompletionTokens int32 `json:"completion_tokens"`
	} `json:"usage"`
}

func (h *harness) post(path, key, body string) (int, []byte) {
	h.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.http.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := h.http.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestGenerateEqualsHTTP: the same request with the same seed gives over
// gRPC, piece by piece, what /v1/completions answers: text, logprobs (with
// alternatives), finish reasons and usage, for two choices; the token ids
// decode to the text.
func TestGenerateEqualsHTTP(t *testing.T) {
	h := newHarness(t, 0)
	code, raw := h.post("/v1/completions", "ka",
		`{"model":"stories","prompt":"Once upon a time","max_tokens":24,"seed":7,"temperature":0.9,"top_p":0.95,"logprobs":2,"n":2,"stop":["zzz"]}`)
	if code != http.StatusOK {
		t.Fatalf("HTTP: %d %s", code, raw)
	}
	var want httpCompletion
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	var hdr metadata.MD
	s, err := h.cli.Generate(h.ctx("ka"), &sotav1.GenerateRequest{Model: "stories", Input: &sotav1.GenerateRequest_Prompt{Prompt: "Once upon a time"},
		Sampling: &sotav1.SamplingParams{MaxTokens: ptr[int32](24), Seed: ptr[int64](7), Temperature: ptr(0.9), TopP: ptr(0.95),
			Logprobs: true, TopLogprobs: 2, N: ptr[int32](2), Stop: []string{"zzz"}}, RequestId: "same-1"}, grpc.Header(&hdr))
	if err != nil {
		t.Fatal(err)
	}
	deltas, last, err := collect(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := hdr.Get("x-request-id"); !slices.Equal(got, []string{"same-1"}) {
		t.Errorf("x-request-id header %v", got)
	}
	if last == nil || last.Usage.PromptTokens != want.Usage.PromptTokens || last.Usage.CompletionTokens != want.Usage.CompletionTokens ||
		last.Usage.TotalTokens != want.Usage.PromptTokens+want.Usage.CompletionTokens {
		t.Fatalf("usage %v, HTTP %+v", last, want.Usage)
	}
	if len(want.Choices) != 2 {
		t.Fatalf("HTTP choices %d", len(want.Choices))
	}
	for _, c := range want.Choices {
		var text strings.Builder
		var ids []int32
		var lps []*sotav1.TokenLogprob
		finish := ""
		for _, d := range deltas {
			if d.RequestId != "same-1" {
				t.Fatalf("delta request id %q", d.RequestId)
			}
			if int(d.Index) != c.Index {
				continue
			}
			if finish != "" {
				t.Fatalf("choice %d: a delta after its finish", c.Index)
			}
			text.WriteString(d.Text)
			ids = append(ids, d.TokenIds...)
			lps = append(lps, d.Logprobs...)
			finish = d.FinishReason
		}
		if text.String() != c.Text || finish != c.FinishReason {
			t.Errorf("choice %d: gRPC %q (%s), HTTP %q (%s)", c.Index, text.String(), finish, c.Text, c.FinishReason)
		}
		if c.Text == "" || len(lps) != len(c.Logprobs.Tokens) {
			t.Fatalf("choice %d: %d logprobs over gRPC, %d over HTTP (text %q)", c.Index, len(lps), len(c.Logprobs.Tokens), c.Text)
		}
		for i, lp := range lps {
			distinct := map[string]bool{} // HTTP keys alternatives by text: byte tokens share "\ufffd"
			for _, top := range lp.Top {
				distinct[top.Token] = true
			}
			if lp.Token != c.Logprobs.Tokens[i] || lp.Logprob != c.Logprobs.TokenLogprobs[i] || len(distinct) != len(c.Logprobs.TopLogprobs[i]) || len(lp.Top) != 2 {
				t.Fatalf("choice %d token %d: gRPC %v, HTTP %q %v %v", c.Index, i, lp, c.Logprobs.Tokens[i], c.Logprobs.TokenLogprobs[i], c.Logprobs.TopLogprobs[i])
			}
			for _, top := range lp.Top {
				if v, ok := c.Logprobs.TopLogprobs[i][top.Token]; !ok || (v != top.Logprob && !strings.Contains(top.Token, "\ufffd")) {
					t.Fatalf("choice %d token %d: alternative %v, HTTP %v", c.Index, i, top, c.Logprobs.TopLogprobs[i])
				}
			}
			if lp.TokenId != ids[i] {
				t.Fatalf("choice %d token %d: logprob of %d, token id %d", c.Index, i, lp.TokenId, ids[i])
			}
		}
		if len(ids) != len(lps) {
			t.Errorf("choice %d: %d token ids, %d logprobs", c.Index, len(ids), len(lps))
		}
	}
}

// TestGenerateChatAndTokenIDs: chat messages and token-id prompts take
// the HTTP API's chat and completions paths.
func TestGenerateChatAndTokenIDs(t *testing.T) {
	h := newHarness(t, 0)
	code, raw := h.post("/v1/chat/completions", "ka", `{"messages":[{"role":"user","content":"Hello"}],"max_tokens":10,"seed":3}`)
	if code != http.StatusOK {
		t.Fatalf("HTTP: %d %s", code, raw)
	}
	var chat struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(raw, &chat); err != nil {
		t.Fatal(err)
	}
	s, err := h.cli.Generate(h.ctx("ka"), &sotav1.GenerateRequest{Input: &sotav1.GenerateRequest_Messages{Messages: &sotav1.Messages{
		Messages: []*sotav1.ChatMessage{{Role: "user", Content: "Hello"}}}}, Sampling: &sotav1.SamplingParams{MaxTokens: ptr[int32](10), Seed: ptr[int64](3)}})
	if err != nil {
		t.Fatal(err)
	}
	deltas, last, err := collect(s)
	if err != nil || last == nil {
		t.Fatal(err, last)
	}
	var text strings.Builder
	for _, d := range deltas {
		text.WriteString(d.Text)
	}
	if text.String() != chat.Choices[0].Message.Content {
		t.Errorf("chat: gRPC %q, HTTP %q", text.String(), chat.Choices[0].Message.Content)
	}
	tk, err := h.cli.Tokenize(h.ctx("ka"), &sotav1.TokenizeRequest{Text: "Once upon a time", ReturnTokenStrs: true})
	if err != nil || len(tk.TokenIds) < 2 || len(tk.TokenStrs) != len(tk.TokenIds) || tk.MaxModelLen != 512 {
		t.Fatalf("tokenize: %v %v", tk, err)
	}
	if dt, err := h.cli.Detokenize(h.ctx("ka"), &sotav1.DetokenizeRequest{TokenIds: tk.TokenIds}); err != nil || dt.Text != "Once upon a time" {
		t.Errorf("detokenize: %v %v", dt, err)
	}
	if _, err := h.cli.Detokenize(h.ctx("ka"), &sotav1.DetokenizeRequest{TokenIds: []int32{-1}}); status.Code(err) != codes.InvalidArgument {
		t.Errorf("detokenize of -1: %v", err)
	}
	s, err = h.cli.Generate(h.ctx("ka"), &sotav1.GenerateRequest{Input: &sotav1.GenerateRequest_TokenIds{TokenIds: &sotav1.TokenIds{Ids: tk.TokenIds}},
		Sampling: &sotav1.SamplingParams{MaxTokens: ptr[int32](5), Seed: ptr[int64](1)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, last, err = collect(s); err != nil || last.Usage.PromptTokens != int32(len(tk.TokenIds)) {
		t.Fatalf("token ids: %v %v", last, err)
	}
}

// slowRequest starts a Generate that runs until ended and waits for its
// first piece.
func (h *harness) slowRequest(ctx context.Context, id string) grpc.ServerStreamingClient[sotav1.GenerateResponse] {
	h.t.Helper()
	s, err := h.cli.Generate(ctx, &sotav1.GenerateRequest{Input: &sotav1.GenerateRequest_Prompt{Prompt: "Once upon a time"}, RequestId: id,
		Sampling: &sotav1.SamplingParams{MaxTokens: ptr[int32](400), IgnoreEos: true}})
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		h.t.Fatal(err)
	}
	return s
}

// quick runs a short Generate and returns its status.
func (h *harness) quick(key string) error {
	s, err := h.cli.Generate(h.ctx(key), &sotav1.GenerateRequest{Input: &sotav1.GenerateRequest_Prompt{Prompt: "Hi"},
		Sampling: &sotav1.SamplingParams{MaxTokens: ptr[int32](2)}})
	if err != nil {
		return err
	}
	_, _, err = collect(s)
	return err
}

// TestAbort: Abort ends the tenant's own request (CANCELLED) and frees its
// slot; another tenant's id is NOT_FOUND, and so is an unknown one; a
// running id cannot be reused.
func TestAbort(t *testing.T) {
	h := newHarness(t, 2*time.Millisecond)
	s := h.slowRequest(h.ctx("kb"), "job-1")
	dup, _ := h.cli.Generate(h.ctx("kb"), &sotav1.GenerateRequest{Input: &sotav1.GenerateRequest_Prompt{Prompt: "x"}, RequestId: "job-1"})
	if _, _, err := collect(dup); status.Code(err) != codes.AlreadyExists {
		t.Errorf("a running id again: %v", err)
	}
	if _, err := h.cli.Abort(h.ctx("ka"), &sotav1.AbortRequest{RequestId: "job-1"}); status.Code(err) != codes.NotFound {
		t.Errorf("another tenant's abort: %v", err)
	}
	if _, err := h.cli.Abort(h.ctx("kb"), &sotav1.AbortRequest{RequestId: "nope"}); status.Code(err) != codes.NotFound {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := h.cli.Abort(h.ctx("kb"), &sotav1.AbortRequest{RequestId: "job-1"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := collect(s); status.Code(err) != codes.Canceled {
		t.Fatalf("aborted stream: %v", err)
	}
	// beta has one stream: the next request gets it.
	if err := h.quick("kb"); err != nil {
		t.Fatalf("after abort: %v", err)
	}
	waitFor(t, "the engine to be idle", func() bool { st := h.eng.Stats(); return st.Running == 0 && st.Waiting == 0 })
}

// TestClientDeadlineAndCancel: a client deadline ends the stream with
// DEADLINE_EXCEEDED, a cancel with CANCELLED; both free the slot.
func TestClientDeadlineAndCancel(t *testing.T) {
	h := newHarness(t, 2*time.Millisecond)
	ctx, cancel := context.WithTimeout(h.ctx("kb"), 150*time.Millisecond)
	defer cancel()
	s := h.slowRequest(ctx, "")
	if _, _, err := collect(s); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("deadline: %v", err)
	}
	waitFor(t, "the slot after a deadline", func() bool { return h.quick("kb") == nil })
	ctx, cancel2 := context.WithCancel(h.ctx("kb"))
	s = h.slowRequest(ctx, "c")
	cancel2()
	if _, _, err := collect(s); status.Code(err) != codes.Canceled {
		t.Fatalf("cancel: %v", err)
	}
	waitFor(t, "the slot after a cancel", func() bool { return h.quick("kb") == nil })
	waitFor(t, "the engine to be idle", func() bool { st := h.eng.Stats(); return st.Running == 0 && st.Waiting == 0 })
}

// TestStatusCodes: each error has its code, an ErrorInfo, and a full queue
// a RetryInfo.
func TestStatusCodes(t *testing.T) {
	h := newHarness(t, 2*time.Millisecond)
	prompt := &sotav1.GenerateRequest_Prompt{Prompt: "Hi"}
	gen := func(ctx context.Context, r *sotav1.GenerateRequest) error {
		s, err := h.cli.Generate(ctx, r)
		if err != nil {
			return err
		}
		_, _, err = collect(s)
		return err
	}
	cases := []struct {
		name   string
		key    string
		req    *sotav1.GenerateRequest
		code   codes.Code
		reason string
	}{
		{"no key", "", &sotav1.GenerateRequest{Input: prompt}, codes.Unauthenticated, "invalid_api_key"},
		{"bad key", "nope", &sotav1.GenerateRequest{Input: prompt}, codes.Unauthenticated, "invalid_api_key"},
		{"model not in tier", "kc", &sotav1.GenerateRequest{Input: prompt}, codes.PermissionDenied, "permission_denied"},
		{"no such model", "ka", &sotav1.GenerateRequest{Model: "gone", Input: prompt}, codes.NotFound, "invalid_request_error"},
		{"no input", "ka", &sotav1.GenerateRequest{}, codes.InvalidArgument, "invalid_request_error"},
		{"bad temperature", "ka", &sotav1.GenerateRequest{Input: prompt, Sampling: &sotav1.SamplingParams{Temperature: ptr(-1.0)}}, codes.InvalidArgument, "invalid_request_error"},
		{"too long", "ka", &sotav1.GenerateRequest{Input: prompt, Sampling: &sotav1.SamplingParams{MaxTokens: ptr[int32](5000)}}, codes.InvalidArgument, "invalid_request_error"},
		{"bad priority", "ka", &sotav1.GenerateRequest{Input: prompt, Priority: "warp"}, codes.InvalidArgument, "invalid_request_error"},
	}
	for _, c := range cases {
		err := gen(h.ctx(c.key), c.req)
		if status.Code(err) != c.code || reason(err) != c.reason {
			t.Errorf("%s: %v (reason %q), want %v %q", c.name, err, reason(err), c.code, c.reason)
		}
	}
	if _, err := h.cli.ListModels(h.ctx(""), &sotav1.ListModelsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("ListModels without a key: %v", err)
	}
	if _, err := h.cli.Tokenize(h.ctx("kc"), &sotav1.TokenizeRequest{Model: "stories"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("Tokenize of a model not in the tier: %v", err)
	}

	// beta: one stream, no queue: a second request is RESOURCE_EXHAUSTED.
	ctx, cancel := context.WithCancel(h.ctx("kb"))
	s := h.slowRequest(ctx, "")
	err := gen(h.ctx("kb"), &sotav1.GenerateRequest{Input: prompt})
	if status.Code(err) != codes.ResourceExhausted || reason(err) != "stream_capacity_exceeded" {
		t.Errorf("full queue: %v", err)
	}
	if secs, ok := retryDelay(err); !ok || secs < 1 {
		t.Errorf("full queue: RetryInfo %d %v", secs, ok)
	}
	cancel()
	_, _, _ = collect(s)

	// acme: two streams, a queue of one with a 100 ms wait: the third
	// waits, then DEADLINE_EXCEEDED.
	ctx, cancel = context.WithCancel(h.ctx("ka"))
	defer cancel()
	s1, s2 := h.slowRequest(ctx, "a1"), h.slowRequest(ctx, "a2")
	start := time.Now()
	err = gen(h.ctx("ka"), &sotav1.GenerateRequest{Input: prompt})
	if status.Code(err) != codes.DeadlineExceeded || reason(err) != "queue_timeout" || time.Since(start) < 100*time.Millisecond {
		t.Errorf("queue wait: %v after %v", err, time.Since(start))
	}
	cancel()
	_, _, _ = collect(s1)
	_, _, _ = collect(s2)

	// Draining: UNAVAILABLE, and health says NOT_SERVING.
	hc := healthpb.NewHealthClient(h.conn)
	if r, err := hc.Check(h.t.Context(), &healthpb.HealthCheckRequest{}); err != nil || r.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health: %v %v", r, err)
	}
	h.api.Drain()
	if err := gen(h.ctx("ka"), &sotav1.GenerateRequest{Input: prompt}); status.Code(err) != codes.Unavailable {
		t.Errorf("draining: %v", err)
	}
	r, err := hc.Check(h.t.Context(), &healthpb.HealthCheckRequest{Service: "sota.v1.InferenceService"})
	if err != nil || r.Status != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("health while draining: %v %v", r, err)
	}
	waitFor(t, "the engine to be idle", func() bool { st := h.eng.Stats(); return st.Running == 0 && st.Waiting == 0 })
}

func reason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.Reason
		}
	}
	return ""
}

func retryDelay(err error) (int, bool) {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return int(ri.GetRetryDelay().AsDuration() / time.Second), true
		}
	}
	return 0, false
}

// TestModelsAndOpenMode: ListModels filters by tier; with no
// Authenticator every call runs as the open principal.
func TestModelsAndOpenMode(t *testing.T) {
	h := newHarness(t, 0)
	lm, err := h.cli.ListModels(h.ctx("ka"), &sotav1.ListModelsRequest{})
	want := &sotav1.ListModelsResponse{Models: []*sotav1.Model{{Id: "stories", Root: "stories", OwnedBy: "sota", Created: 1700000000, MaxModelLen: 512}}}
	if err != nil || !proto.Equal(lm, want) {
		t.Errorf("ListModels: %v %v", lm, err)
	}
	if lm, err := h.cli.ListModels(h.ctx("kc"), &sotav1.ListModelsRequest{}); err != nil || len(lm.Models) != 0 {
		t.Errorf("ListModels for a tier without the model: %v %v", lm, err)
	}
	h.api.cfg.Auth = nil // open mode (set before any call of this test's)
	if _, err := h.api.ListModels(context.Background(), &sotav1.ListModelsRequest{}); err != nil {
		t.Errorf("open mode: %v", err)
	}
}

// TestReflection: a reflection client lists the services.
func TestReflection(t *testing.T) {
	h := newHarness(t, 0)
	rc, err := rpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(h.t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := rc.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.Name)
	}
	for _, want := range []string{"sota.v1.InferenceService", "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, not %s", names, want)
		}
	}
	if err := rc.Send(&rpb.ServerReflectionRequest{MessageRequest: &rpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "sota.v1.InferenceService"}}); err != nil {
		t.Fatal(err)
	}
	if resp, err = rc.Recv(); err != nil || len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("file of the service: %v %v", resp, err)
	}
	if err := rc.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := rc.Recv(); !errors.Is(err, io.EOF) {
		t.Errorf("after CloseSend: %v", err)
	}
}
