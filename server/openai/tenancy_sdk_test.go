package openai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	sdk "github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/sotasystems/sota/admission"
)

// The official Go SDK surfaces the 429 as an *Error with status 429, the
// Retry-After header and retry_after in the body.
func TestGoSDKSeesStreamCapacity(t *testing.T) {
	ts := newTenancyServer(t)
	defer ts.eng.Close()
	hs := httptest.NewServer(ts.h)
	defer hs.Close()
	// Fill acme: three slots held, one waiter queued.
	lim := admission.Limits{Streams: 3, Queue: 1, QueueWait: 2 * time.Second, RetryAfter: 5 * time.Second}
	var held []*admission.Ticket
	for range 3 {
		tk, err := ts.adm.Admit(context.Background(), admission.Request{Tenant: "acme", Limits: lim})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, tk)
	}
	waiterCtx, cancelWaiter := context.WithCancel(context.Background())
	waited := make(chan error, 1)
	go func() {
		_, err := ts.adm.Admit(waiterCtx, admission.Request{Tenant: "acme", Limits: lim})
		waited <- err
	}()
	for ts.adm.State("acme").Queued != 1 {
		time.Sleep(time.Millisecond)
	}
	client := sdk.NewClient(option.WithBaseURL(hs.URL+"/v1"), option.WithAPIKey("sk-acme"), option.WithMaxRetries(0))
	_, err := client.Completions.New(context.Background(), sdk.CompletionNewParams{
		Model: "stories", Prompt: sdk.CompletionNewParamsPromptUnion{OfString: sdk.String("x")}, MaxTokens: sdk.Int(1)})
	var apiErr *sdk.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %v, want *openai.Error", err)
	}
	var body struct {
		RetryAfter int    `json:"retry_after"`
		Type       string `json:"type"`
	}
	if jerr := json.Unmarshal([]byte(apiErr.RawJSON()), &body); jerr != nil {
		t.Fatalf("raw JSON %q: %v", apiErr.RawJSON(), jerr)
	}
	if apiErr.StatusCode != 429 || apiErr.Response.Header.Get("Retry-After") != "5" || body.RetryAfter != 5 ||
		body.Type != "stream_capacity_exceeded" || apiErr.Type != "stream_capacity_exceeded" {
		t.Fatalf("status %d, Retry-After %q, body %s", apiErr.StatusCode, apiErr.Response.Header.Get("Retry-After"), apiErr.RawJSON())
	}
	cancelWaiter()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter: %v", err)
	}
	for _, tk := range held {
		tk.Release()
	}
	if s := ts.adm.Snapshot(); len(s) != 0 {
		t.Fatalf("slots held after the test: %+v", s)
	}
}

// BenchmarkReject is the server's own cost of a 429: authenticate, read
// and decode the body, find the model, refuse the slot, write the error.
func BenchmarkReject(b *testing.B) {
	ts := newTenancyServer(&testing.T{})
	defer ts.eng.Close()
	// acme's own limits (solo: 3 streams, a queue of 1): fill both.
	lim := admission.Limits{Streams: 3, Queue: 1, QueueWait: time.Hour, RetryAfter: 5 * time.Second}
	for range 3 {
		tk, err := ts.adm.Admit(context.Background(), admission.Request{Tenant: "acme", Limits: lim})
		if err != nil {
			b.Fatal(err)
		}
		defer tk.Release()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, _ = ts.adm.Admit(ctx, admission.Request{Tenant: "acme", Limits: lim}) }()
	for ts.adm.State("acme").Queued != 1 {
		time.Sleep(time.Millisecond)
	}
	body := `{"model":"stories","prompt":"Once upon a time there was a little girl","max_tokens":64,"stream":true}`
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if a := ts.do(context.Background(), "sk-acme", "/v1/completions", body); a.status != 429 {
				b.Errorf("status %d", a.status)
				return
			}
		}
	})
}
