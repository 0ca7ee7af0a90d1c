package main

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
)

// On loopback the server answers only to loopback names; a drain that
// times out cuts the running stream with an error event and [DONE] and
// exits non-zero.
func TestServeHostGuardAndDrainCut(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	url, stop := startServe(t, "--backend", "fake", "--fake-step-delay", "20ms", "--drain-timeout", "200ms")
	req, _ := http.NewRequest("POST", url+"/v1/completions", strings.NewReader(`{"prompt": "x", "max_tokens": 1}`))
	req.Header.Set("Content-Type", "application/json")
	req.Host = "rebound.example:8080"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Fatalf("foreign Host: %d, want 421", resp.StatusCode)
	}
	resp, err = http.Post(url+"/v1/completions", "application/json",
		strings.NewReader(`{"prompt": "x", "stream": true, "ignore_eos": true, "max_tokens": 400}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q, %v", line, err)
	}
	code := stop() // SIGTERM-like: drain for 200 ms, then cut
	rest, _ := io.ReadAll(rd)
	events := strings.Split(strings.TrimSpace(string(rest)), "\n\n")
	if code != 1 || len(events) < 2 || events[len(events)-1] != "data: [DONE]" || !strings.Contains(events[len(events)-2], "drain timeout") {
		t.Fatalf("exit %d, end of the stream %q", code, events[max(0, len(events)-2):])
	}
}
