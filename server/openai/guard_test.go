package openai

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestHostAndContentTypeGuards(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	ts.srv.cfg.AllowedHosts = []string{"localhost", "127.0.0.1"}
	body := `{"prompt": "x", "max_tokens": 1}`
	tests := []struct {
		name, host, contentType string
		status                  int
	}{
		{"json", "", "application/json", 200},
		{"json with charset", "", "application/json; charset=utf-8", 200},
		{"no content type", "", "", 200},
		{"localhost with port", "localhost:8080", "application/json", 200},
		{"text/plain (a cross-origin browser post)", "", "text/plain;charset=UTF-8", 415},
		{"form", "", "application/x-www-form-urlencoded", 415},
		{"multipart", "", "multipart/form-data; boundary=x", 415},
		{"foreign host (DNS rebinding)", "evil.example:8080", "application/json", 421},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("POST", ts.http.URL+"/v1/completions", strings.NewReader(body))
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			if tc.host != "" {
				req.Host = tc.host
			}
			resp, err := ts.http.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || (tc.status != 200 && !strings.Contains(string(b), `"error"`)) {
				t.Fatalf("status %d %s, want %d", resp.StatusCode, b, tc.status)
			}
			if h := resp.Header; h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Cache-Control") != "no-store" {
				t.Fatalf("headers %v", h)
			}
		})
	}
}

// A client that sends its body too slowly is cut at the body timeout.
func TestSlowBodyIsCut(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	ts.srv.cfg.BodyReadTimeout = 200 * time.Millisecond
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	_, _ = conn.Write([]byte("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"prompt\""))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, " 400 ") {
		t.Fatalf("status line %q, %v; want 400", status, err)
	}
	if took := time.Since(start); took < 200*time.Millisecond || took > 2*time.Second {
		t.Fatalf("cut after %v, want about the 200 ms timeout", took)
	}
}

// A long stream keeps running past the body timeout (the deadline is lifted
// once the body is read).
func TestBodyDeadlineLiftedForTheResponse(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	ts.srv.cfg.BodyReadTimeout = 50 * time.Millisecond
	ts.be.StepDelay = 5 * time.Millisecond
	code, body, _ := ts.post("/v1/completions", `{"prompt": "x", "stream": true, "ignore_eos": true, "max_tokens": 40}`)
	if code != 200 || !strings.HasSuffix(strings.TrimSpace(body), "data: [DONE]") || strings.Contains(body, `"error"`) {
		t.Fatalf("a 200 ms stream under a 50 ms body timeout: %d %s", code, body)
	}
}

func TestRequestBounds(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	// Far more text than the context can hold is refused before tokenizing.
	huge := `{"prompt": "` + strings.Repeat("once upon a time ", 60000) + `"}`
	ts.srv.cfg.MaxBodyBytes = 4 << 20
	limit := 100 * time.Millisecond // tokenizing it would take seconds
	if raceEnabled {
		limit *= 10
	}
	start := time.Now()
	code, body, _ := ts.post("/v1/completions", huge)
	if took := time.Since(start); code != 400 || !strings.Contains(body, "context_length_exceeded") || took > limit {
		t.Fatalf("a 1 MB prompt: %d in %v: %.200s", code, took, body)
	}
	// At the default body cap (8 MiB) the refusal allocates far less than
	// 100 MB in all (client and server together: an upper bound on the peak).
	ts.srv.cfg.MaxBodyBytes = 8 << 20
	big := `{"prompt": "` + strings.Repeat("once upon a time ", 500000) + `"}` // 8.5 MB of text, cut to the cap
	big = big[:8<<20-4] + `"}`
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start = time.Now()
	code, body, _ = ts.post("/v1/completions", big)
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	// Its time is sending and decoding 8 MiB of JSON, not tokenizing (seconds).
	if alloc := after.TotalAlloc - before.TotalAlloc; code != 400 || alloc > 100<<20 || took > 10*limit {
		t.Fatalf("an 8 MiB prompt: %d in %v, %d MB allocated: %.200s", code, took, alloc>>20, body)
	}
	code, body, _ = ts.post("/v1/chat/completions", `{"messages": [{"role": "user", "content": "`+strings.Repeat("once upon a time ", 60000)+`"}]}`)
	if code != 400 || !strings.Contains(body, `"param":"messages"`) {
		t.Fatalf("a 1 MB message: %d %.200s", code, body)
	}
	// prompts × n is bounded.
	code, body, _ = ts.post("/v1/completions", `{"prompt": ["a", "b", "c"], "n": 100, "max_tokens": 1}`)
	if code != 400 || !strings.Contains(body, `"param":"prompt"`) {
		t.Fatalf("300 sequences: %d %s", code, body)
	}
	// A single stop string has the list's length limit.
	code, _, _ = ts.post("/v1/completions", `{"prompt": "x", "stop": "`+strings.Repeat("s", 300)+`"}`)
	if code != 400 {
		t.Fatalf("a 300-byte stop: %d", code)
	}
}

// Streams still running when the drain timeout passes get an error event
// and [DONE].
func TestCutStreams(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	ts.be.StepDelay = 5 * time.Millisecond
	req, _ := http.NewRequestWithContext(context.Background(), "POST", ts.http.URL+"/v1/completions",
		strings.NewReader(`{"prompt": "x", "stream": true, "ignore_eos": true, "max_tokens": 400}`))
	resp, err := ts.http.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q, %v", line, err)
	}
	if n := ts.srv.Cut(); n != 1 {
		t.Fatalf("Cut = %d, want 1 running", n)
	}
	rest, _ := io.ReadAll(rd)
	events := strings.Split(strings.TrimSpace(string(rest)), "\n\n")
	if len(events) < 2 || events[len(events)-1] != "data: [DONE]" || !strings.Contains(events[len(events)-2], "drain timeout") ||
		!strings.Contains(events[len(events)-2], "service_unavailable") {
		t.Fatalf("end of a cut stream: %q", events[max(0, len(events)-2):])
	}
	ts.srv.Wait()
}

// A byte-fallback token's logprob bytes are the byte it stands for.
func TestByteTokenLogprobBytes(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	id, ok := ts.tok.TokenID("<0xE2>")
	if !ok {
		t.Skip("the demo vocabulary has no <0xE2>")
	}
	if _, b := ts.model.tokenText(id); len(b) != 1 || b[0] != 0xE2 {
		t.Fatalf("bytes of <0xE2>: %v", b)
	}
}

// Text within the byte bound but over the context in tokens is refused
// after encoding about one context's worth, and a text that fits is not.
func TestTokenBudget(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	m := ts.model
	limit := m.Engine.MaxModelLen()
	words := strings.Repeat("once upon a time there was a girl ", 20000) // ~680 KB, far over 512 tokens
	if !m.overTokenBudget(words, limit) {
		t.Fatal("a text of thousands of contexts passed the budget")
	}
	for _, n := range []int{budgetPiece + 10, 3 * budgetPiece} {
		text := strings.Repeat("a ", n/2)
		exact := len(m.Tokenizer.Encode(text, false))
		if over := m.overTokenBudget(text, exact); over {
			t.Errorf("%d bytes, %d tokens: over a budget of exactly its tokens", len(text), exact)
		}
	}
}
