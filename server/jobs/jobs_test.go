package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

// An async job answers 202 with its urls, runs, and its result is exactly
// what /v1/completions (or chat) answers for the same body and seed.
func TestAsyncResultIsTheEndpoints(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name, body, endpoint, direct string
	}{
		{"completions", `{"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0.8}`, EndpointCompletions,
			`{"model": "stories", "prompt": "Once upon a time", "max_tokens": 12, "temperature": 0.8, "seed": %d}`},
		{"chat", `{"messages": [{"role": "user", "content": "Hello"}], "max_tokens": 7, "n": 2, "seed": 5}`, EndpointChat,
			`{"model": "stories", "messages": [{"role": "user", "content": "Hello"}], "max_tokens": 7, "n": 2, "seed": %d}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, hdr := h.do("POST", "/v1/stories/generate", "ka", strings.Replace(c.body, "{", `{"async": true, `, 1))
			if code != http.StatusAccepted {
				t.Fatalf("%d %s", code, out)
			}
			var o jobObject
			_ = json.Unmarshal([]byte(out), &o)
			if !strings.HasPrefix(o.ID, "job_") || len(o.ID) != 4+32 || o.Status != Pending ||
				o.RefreshURL != "/v1/jobs/"+o.ID || o.CancelURL != o.RefreshURL || hdr.Get("Location") != o.RefreshURL {
				t.Fatalf("202 body %s", out)
			}
			done := h.waitFor("ka", o.ID, isFinal)
			if done.Status != Finished || done.Endpoint != c.endpoint || done.Attempts != 1 {
				t.Fatalf("job %+v", done)
			}
			// The stored body carries the seed the job ran with.
			rec, err := h.db.Job(context.Background(), "acme", o.ID)
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Seed  *int64 `json:"seed"`
				Async *bool  `json:"async"`
			}
			_ = json.Unmarshal(rec.Body, &body)
			if body.Seed == nil || body.Async != nil {
				t.Fatalf("stored body %s: want a seed and no async", rec.Body)
			}
			code, direct, _ := h.do("POST", c.endpoint, "ka", fmt.Sprintf(c.direct, *body.Seed))
			if code != http.StatusOK {
				t.Fatalf("direct: %d %s", code, direct)
			}
			got, want := choices(t, done.Result), choices(t, []byte(direct))
			if string(got.Choices) != string(want.Choices) || string(got.Usage) != string(want.Usage) {
				t.Fatalf("job result %s %s\nendpoint's %s %s", got.Choices, got.Usage, want.Choices, want.Usage)
			}
			if len(done.Output) == 0 || done.Output[0] == "" {
				t.Fatalf("output %q", done.Output)
			}
		})
	}
}

// Without async the request waits and answers the finished job.
func TestSyncGenerate(t *testing.T) {
	h := newHarness(t)
	code, out, _ := h.do("POST", "/v1/stories/generate", "ka", `{"prompt": "Hi", "max_tokens": 5}`)
	var o jobObject
	_ = json.Unmarshal([]byte(out), &o)
	if code != http.StatusOK || o.Status != Finished || len(o.Result) == 0 {
		t.Fatalf("%d %s", code, out)
	}
	var c struct {
		Object  string `json:"object"`
		Choices []struct {
			Text string `json:"text"`
		} `json:"choices"`
	}
	_ = json.Unmarshal(o.Result, &c)
	if c.Object != "text_completion" || len(c.Choices) != 1 || c.Choices[0].Text != o.Output[0] {
		t.Fatalf("result %s, output %q", o.Result, o.Output)
	}
}

func TestValidationIs422(t *testing.T) {
	h := newHarness(t)
	cases := []struct {
		name, body string
		loc        []any
		typ        string
	}{
		{"max_tokens range", `{"prompt": "a", "max_tokens": 0}`, []any{"body", "max_tokens"}, "value_error"},
		{"max_tokens type", `{"prompt": "a", "max_tokens": "x"}`, []any{"body", "max_tokens"}, "type_error"},
		{"temperature", `{"prompt": "a", "temperature": 9}`, []any{"body", "temperature"}, "value_error"},
		{"no prompt", `{"max_tokens": 3}`, []any{"body", "messages"}, "missing"},
		{"both", `{"prompt": "a", "messages": []}`, []any{"body"}, "value_error"},
		{"async type", `{"prompt": "a", "async": "yes"}`, []any{"body", "async"}, "bool_type"},
		{"webhook", `{"prompt": "a", "webhook_url": "ftp://x"}`, []any{"body", "webhook_url"}, "url_parsing"},
		{"model mismatch", `{"prompt": "a", "model": "other"}`, []any{"body", "model"}, "value_error"},
		{"not an object", `[1]`, []any{"body"}, "json_invalid"},
		{"bad messages", `{"messages": "hi"}`, []any{"body", "messages"}, "value_error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, out, _ := h.do("POST", "/v1/stories/generate", "ka", c.body)
			var v struct {
				Detail []detail `json:"detail"`
			}
			if err := json.Unmarshal([]byte(out), &v); code != http.StatusUnprocessableEntity || err != nil || len(v.Detail) != 1 {
				t.Fatalf("%d %s", code, out)
			}
			d := v.Detail[0]
			if fmt.Sprint(d.Loc) != fmt.Sprint(c.loc) || d.Type != c.typ || d.Msg == "" {
				t.Fatalf("detail %+v, want loc %v type %s", d, c.loc, c.typ)
			}
		})
	}
	// Not validation: an unknown model is the endpoint's 404, a bad key a 401.
	if code, out, _ := h.do("POST", "/v1/nosuch/generate", "ka", `{"prompt": "a"}`); code != http.StatusNotFound || !strings.Contains(out, "model_not_found") {
		t.Fatalf("unknown model: %d %s", code, out)
	}
	if code, _, _ := h.do("POST", "/v1/stories/generate", "nokey", `{"prompt": "a"}`); code != http.StatusUnauthorized {
		t.Fatalf("bad key: %d", code)
	}
	// Nothing was stored.
	if rows, _ := h.db.Jobs(context.Background(), store.JobFilter{Tenant: "acme", Limit: 1000}); len(rows) != 0 {
		t.Fatalf("%d jobs stored from invalid requests", len(rows))
	}
}

// Another tenant's job is a 404, for every route.
func TestOtherTenantIs404(t *testing.T) {
	h := newHarness(t)
	id := h.submit("ka", `{"prompt": "a", "max_tokens": 2, "async": true}`)
	h.waitFor("ka", id, isFinal)
	for _, r := range []struct{ method, path string }{{"GET", "/v1/jobs/" + id}, {"DELETE", "/v1/jobs/" + id},
		{"GET", "/v1/jobs/" + id + "/stream"}, {"GET", "/v1/jobs/job_nosuch"}} {
		if code, out, _ := h.do(r.method, r.path, "kb", ""); code != http.StatusNotFound {
			t.Fatalf("%s %s as another tenant: %d %s", r.method, r.path, code, out)
		}
	}
	if code, out, _ := h.do("GET", "/v1/jobs", "kb", ""); code != 200 || !strings.Contains(out, `"data":[]`) {
		t.Fatalf("other tenant's list: %d %s", code, out)
	}
}

func TestListCursor(t *testing.T) {
	h := newHarness(t)
	var ids []string
	for i := range 5 {
		ids = append(ids, h.submit("ka", fmt.Sprintf(`{"prompt": "p%d", "max_tokens": 2, "async": true}`, i)))
	}
	for _, id := range ids {
		h.waitFor("ka", id, isFinal)
	}
	var got []string
	after := ""
	for pages := 0; ; pages++ {
		code, out, _ := h.do("GET", "/v1/jobs?limit=2"+after, "ka", "")
		var page struct {
			Data    []jobObject `json:"data"`
			HasMore bool        `json:"has_more"`
			Next    *string     `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(out), &page); code != 200 || err != nil {
			t.Fatalf("%d %s", code, out)
		}
		for _, o := range page.Data {
			got = append(got, o.ID)
		}
		if !page.HasMore {
			if page.Next != nil || pages != 2 {
				t.Fatalf("last page %d: next %v", pages, page.Next)
			}
			break
		}
		after = "&after=" + *page.Next
	}
	slices.Reverse(ids)
	if !slices.Equal(got, ids) {
		t.Fatalf("listed %v, want newest first %v", got, ids)
	}
	if code, _, _ := h.do("GET", "/v1/jobs?after=bogus", "ka", ""); code != http.StatusUnprocessableEntity {
		t.Fatalf("bad cursor: %d", code)
	}
	if code, out, _ := h.do("GET", "/v1/jobs?status=finished&limit=100", "ka", ""); code != 200 || strings.Count(out, `"job_id"`) != 5 {
		t.Fatalf("status filter: %d %s", code, out)
	}
}

func TestCancel(t *testing.T) {
	h := newHarness(t, withStep(20*time.Millisecond))
	// Two run (the tier's two streams); the third waits for a slot.
	var ids []string
	for range 3 {
		ids = append(ids, h.submit("ka", `{"prompt": "long", "max_tokens": 2000, "async": true}`))
	}
	h.waitFor("ka", ids[0], func(o jobObject) bool { return o.Status == Streaming })
	for _, id := range []string{ids[2], ids[0]} {
		code, out, _ := h.do("DELETE", "/v1/jobs/"+id, "ka", "")
		var o jobObject
		_ = json.Unmarshal([]byte(out), &o)
		if code != http.StatusOK || o.Status != Cancelled || o.FinishedAt == nil {
			t.Fatalf("cancel %s: %d %s", id, code, out)
		}
	}
	// A cancelled job stays cancelled; DELETE again answers it as it is.
	if code, out, _ := h.do("DELETE", "/v1/jobs/"+ids[0], "ka", ""); code != 200 || !strings.Contains(out, Cancelled) {
		t.Fatalf("second delete: %d %s", code, out)
	}
	h.do("DELETE", "/v1/jobs/"+ids[1], "ka", "")
	if st := h.adm.State("acme"); st.Running != 0 || st.Queued != 0 {
		t.Fatalf("slots held after cancelling: %+v", st)
	}
}

func TestJobQueueFull(t *testing.T) {
	h := newHarness(t, withStep(20*time.Millisecond), withConfig(func(c *Config) { c.Queue = 2 }))
	a := h.submit("ka", `{"prompt": "x", "max_tokens": 2000, "async": true}`)
	b := h.submit("ka", `{"prompt": "y", "max_tokens": 2000, "async": true}`)
	code, out, hdr := h.do("POST", "/v1/stories/generate", "ka", `{"prompt": "z", "async": true}`)
	if code != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" || !strings.Contains(out, `"type":"job_queue_exceeded"`) {
		t.Fatalf("third: %d %s", code, out)
	}
	// Another tenant has its own queue.
	c := h.submit("kb", `{"prompt": "z", "max_tokens": 1, "async": true}`)
	h.waitFor("kb", c, isFinal)
	h.do("DELETE", "/v1/jobs/"+a, "ka", "")
	h.submit("ka", `{"prompt": "z", "max_tokens": 1, "async": true}`)
	h.do("DELETE", "/v1/jobs/"+b, "ka", "")
}

func TestTimeout(t *testing.T) {
	h := newHarness(t, withStep(20*time.Millisecond), withConfig(func(c *Config) { c.Timeout = 300 * time.Millisecond }))
	id := h.submit("ka", `{"prompt": "slow", "max_tokens": 2000, "async": true}`)
	o := h.waitFor("ka", id, isFinal)
	if o.Status != Timeout || len(o.Error) == 0 || len(o.Output) == 0 {
		t.Fatalf("job %+v", o)
	}
}

// Jobs wait for a slot at class slow: an interactive request of the same
// tenant that arrives later is granted first.
func TestInteractiveGoesFirst(t *testing.T) {
	h := newHarness(t)
	p := h.keys["ka"]
	lim := p.Limits()
	var held []*admission.Ticket
	for range lim.Streams {
		tk, err := h.adm.Admit(context.Background(), admission.Request{Tenant: p.Tenant, Limits: lim, Class: admission.Medium})
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, tk)
	}
	id := h.submit("ka", `{"prompt": "job", "max_tokens": 2, "async": true}`)
	h.waitFor("ka", id, func(o jobObject) bool { return o.Status == Queued })
	for h.adm.State(p.Tenant).Queued != 1 {
		time.Sleep(time.Millisecond)
	}
	var order []string
	var mu sync.Mutex
	interactive := make(chan struct{})
	go func() {
		defer close(interactive)
		tk, err := h.adm.Admit(context.Background(), admission.Request{Tenant: p.Tenant, Limits: lim, Class: admission.Medium})
		if err != nil {
			t.Error(err)
			return
		}
		mu.Lock()
		order = append(order, "interactive")
		mu.Unlock()
		time.Sleep(50 * time.Millisecond)
		tk.Release()
	}()
	for h.adm.State(p.Tenant).Queued != 2 {
		time.Sleep(time.Millisecond)
	}
	held[0].Release()
	<-interactive
	o := h.waitFor("ka", id, isFinal)
	mu.Lock()
	order = append(order, "job")
	mu.Unlock()
	if o.Status != Finished || !slices.Equal(order, []string{"interactive", "job"}) {
		t.Fatalf("order %v, job %s", order, o.Status)
	}
	for _, tk := range held[1:] {
		tk.Release()
	}
}

// After the process stops with jobs running (and queued), the next start
// runs them again: they finish with the results they would have had.
func TestRecoveryRerunsUnfinished(t *testing.T) {
	h := newHarness(t, withStep(5*time.Millisecond))
	type sub struct{ id, body string }
	var subs []sub
	for i := range 8 {
		body := fmt.Sprintf(`{"prompt": "story %d", "max_tokens": 60, "temperature": 1}`, i)
		subs = append(subs, sub{h.submit("ka", strings.Replace(body, "{", `{"async": true, `, 1)), body})
	}
	h.waitFor("ka", subs[0].id, func(o jobObject) bool { return o.Status == Streaming && len(o.Output[0]) > 0 })
	h.restart()
	for _, s := range subs {
		o := h.waitFor("ka", s.id, isFinal)
		if o.Status != Finished || o.Attempts < 1 {
			t.Fatalf("job %s after restart: %+v", s.id, o)
		}
		rec, _ := h.db.Job(context.Background(), "acme", s.id)
		var b struct{ Seed int64 }
		_ = json.Unmarshal(rec.Body, &b)
		direct := strings.Replace(s.body, "{", fmt.Sprintf(`{"model": "stories", "seed": %d, `, b.Seed), 1)
		_, want, _ := h.do("POST", EndpointCompletions, "ka", direct)
		if got, w := choices(t, o.Result), choices(t, []byte(want)); string(got.Choices) != string(w.Choices) {
			t.Fatalf("job %s: %s\nwant %s", s.id, got.Choices, w.Choices)
		}
	}
	o := h.job("ka", subs[0].id)
	if o.Attempts != 2 {
		t.Fatalf("the interrupted job ran %d times, want 2", o.Attempts)
	}
}
