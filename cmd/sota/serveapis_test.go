package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// apiRequest sends a request and returns its status, headers and body.
func apiRequest(t *testing.T, method, url, contentType, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// The Anthropic and Responses APIs run on serve's model, behind its guards.
func TestServeOtherAPIs(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"memory store", nil},
		{"database", []string{"--db", filepath.Join(t.TempDir(), "sota.db")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("XDG_DATA_HOME", t.TempDir())
			url, stop := startServe(t, append([]string{"--backend", "fake"}, tc.args...)...)
			defer stop()
			const json_ = "application/json"
			msg := `{"model":"stories260k","max_tokens":4,"messages":[{"role":"user","content":"Lily"}]}`
			code, _, body := apiRequest(t, "POST", url+"/v1/messages", json_, msg)
			var m struct {
				Type    string `json:"type"`
				Content []struct {
					Text string `json:"text"`
				} `json:"content"`
				Usage struct {
					OutputTokens int `json:"output_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal([]byte(body), &m); code != 200 || err != nil || m.Type != "message" || m.Usage.OutputTokens != 4 {
				t.Fatalf("messages: %d %s", code, body)
			}
			code, h, body := apiRequest(t, "POST", url+"/v1/messages", json_, strings.Replace(msg, `{"model"`, `{"stream":true,"model"`, 1))
			if code != 200 || h.Get("Content-Type") != "text/event-stream" || !strings.HasPrefix(body, "event: message_start\n") ||
				!strings.HasSuffix(body, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
				t.Fatalf("messages stream: %d %s", code, body)
			}
			code, _, body = apiRequest(t, "POST", url+"/v1/messages/count_tokens", json_, `{"model":"stories260k","messages":[{"role":"user","content":"Lily"}]}`)
			if code != 200 || body != "{\"input_tokens\":3}\n" {
				t.Fatalf("count_tokens: %d %q", code, body)
			}
			code, _, body = apiRequest(t, "POST", url+"/v1/messages", json_, `{"model":"nope","max_tokens":4,"messages":[{"role":"user","content":"x"}]}`)
			if code != 404 || !strings.Contains(body, `"type":"not_found_error"`) {
				t.Fatalf("unknown model: %d %s", code, body)
			}
			code, _, body = apiRequest(t, "POST", url+"/v1/messages", "text/plain", msg)
			if code != http.StatusUnsupportedMediaType || !strings.HasPrefix(body, `{"type":"error"`) {
				t.Fatalf("text/plain: %d %s", code, body)
			}
			code, _, body = apiRequest(t, "POST", url+"/v1/messages", json_, msg, "Host", "evil.example")
			if code != http.StatusMisdirectedRequest || !strings.HasPrefix(body, `{"type":"error"`) {
				t.Fatalf("foreign Host: %d %s", code, body)
			}

			code, _, body = apiRequest(t, "POST", url+"/v1/responses", json_, `{"model":"stories260k","input":"Lily","max_output_tokens":3}`)
			var r struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			}
			if err := json.Unmarshal([]byte(body), &r); code != 200 || err != nil || r.Status != "incomplete" {
				t.Fatalf("responses: %d %s", code, body)
			}
			code, _, got := apiRequest(t, "GET", url+"/v1/responses/"+r.ID, "", "")
			if code != 200 || strings.TrimSpace(got) != strings.TrimSpace(body) {
				t.Fatalf("GET response: %d %s", code, got)
			}
			code, _, body = apiRequest(t, "POST", url+"/v1/responses", json_, `{"model":"stories260k","input":"more","max_output_tokens":3,"previous_response_id":"`+r.ID+`"}`)
			if code != 200 {
				t.Fatalf("previous_response_id: %d %s", code, body)
			}
			code, _, body = apiRequest(t, "POST", url+"/tokenize", json_, `{"prompt":"Lily"}`)
			if code != 200 || !strings.Contains(body, `"count":`) {
				t.Fatalf("tokenize: %d %s", code, body)
			}
		})
	}
}

func TestAPIsFlags(t *testing.T) {
	code, _, errOut := sota(t, "serve", "--backend", "fake", "--port", "0", "--response-retention", "0s")
	if code != 1 || !strings.Contains(errOut, "response-retention") {
		t.Fatalf("exit %d, %s", code, errOut)
	}
}
