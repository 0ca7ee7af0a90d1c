package openai

import (
	"context"
	"testing"
)

// A call made for another API shape is billed under that API's endpoint.
func TestCallObserveEndpoint(t *testing.T) {
	ts := newTestServer(t, ToolParserNone, reply{prompt: "Hi", text: "Hello"})
	u := &usageLog{}
	ts.srv.cfg.Usage = u
	body := []byte(`{"model":"stories","messages":[{"role":"user","content":"Hi"}],"max_tokens":8}`)
	for _, tc := range []struct{ observe, want string }{{"", EndpointChat}, {"/v1/messages", "/v1/messages"}} {
		r := ts.srv.Do(context.Background(), Call{Principal: ts.srv.cfg.OpenPrincipal, Endpoint: EndpointChat, Body: body, Observe: tc.observe})
		if r.Status != 200 {
			t.Fatalf("%d %s", r.Status, r.Body)
		}
		u.mu.Lock()
		got := u.recs[len(u.recs)-1]
		u.mu.Unlock()
		if got.Endpoint != tc.want || got.CompletionTokens == 0 {
			t.Errorf("observe %q: usage %+v, want endpoint %s", tc.observe, got, tc.want)
		}
	}
}
