package openai

import (
	"bufio"
	"encoding/json"
	"net"
	"strings"
	"testing"

	"github.com/sotasystems/sota/tokenizer"
)

// A streamed completion carries its last text with finish_reason null and
// the reason in a final chunk of its own: a client that keeps text only from
// unfinished chunks loses nothing. Every chunk names the system fingerprint.
func TestCompletionStreamFinishChunk(t *testing.T) {
	ts := newTestServer(t, ToolParserNone, reply{"Once", " upon a time", true})
	_, body, _ := ts.post("/v1/completions", `{"prompt": "Once", "stream": true, "max_tokens": 20}`)
	var kept strings.Builder
	var finishes []string
	fps := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var c struct {
			SystemFingerprint string `json:"system_fingerprint"`
			Choices           []struct {
				Text         string  `json:"text"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("chunk %q: %v", data, err)
		}
		fps[c.SystemFingerprint] = true
		for _, ch := range c.Choices {
			if ch.FinishReason != nil {
				finishes = append(finishes, *ch.FinishReason)
				if ch.Text != "" {
					t.Errorf("the finish chunk carries text %q", ch.Text)
				}
				continue
			}
			kept.WriteString(ch.Text)
		}
	}
	if want := ts.text("Once", " upon a time"); kept.String() != want || len(finishes) != 1 || finishes[0] != "stop" {
		t.Fatalf("text from unfinished chunks %q (want %q), finishes %v", kept.String(), want, finishes)
	}
	if len(fps) != 1 || !strings.HasPrefix(firstKey(fps), "fp_") {
		t.Fatalf("system fingerprints %v", fps)
	}
	// Whole responses carry the same fingerprint.
	_, whole, _ := ts.post("/v1/chat/completions", `{"messages": [{"role": "user", "content": "Once"}], "max_tokens": 3}`)
	if !strings.Contains(whole, `"system_fingerprint":"`+firstKey(fps)+`"`) {
		t.Fatalf("chat response without the fingerprint: %s", whole)
	}
}

func firstKey(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}

// A malformed chunked body is the client's fault: 400, not 500.
func TestMalformedChunkedBody(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.http.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = conn.Write([]byte("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
		"Transfer-Encoding: chunked\r\n\r\nzz\r\n{\"prompt\": \"x\"}\r\n0\r\n\r\n"))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, " 400 ") {
		t.Fatalf("status line %q, %v; want 400", status, err)
	}
}

// Errors say what to do: the unknown model names the served ones.
func TestErrorsNameTheWayOut(t *testing.T) {
	ts := newTestServer(t, ToolParserNone)
	_, body, _ := ts.post("/v1/completions", `{"model": "gpt-4", "prompt": "x"}`)
	if !strings.Contains(body, `\"stories\"`) || !strings.Contains(body, `\"alias\"`) {
		t.Fatalf("unknown model: %s", body)
	}
	if e := classify(errNoTemplateForTest(), ""); !strings.Contains(e.Message, "--chat-template") {
		t.Fatalf("no chat template: %s", e.Message)
	}
}

func errNoTemplateForTest() error { return tokenizer.ErrNoChatTemplate }
