package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func getMetrics(t *testing.T, url, auth string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url+"/metrics", nil)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// serve mounts /metrics beside the API (behind --metrics-token when set),
// with the vllm: copies under --metrics-compat vllm; --no-metrics leaves
// it to the API's 404.
func TestServeMetrics(t *testing.T) {
	url, stop := startServe(t, "--backend", "fake", "--metrics-compat", "vllm", "--metrics-token", "tok")
	if code, _ := postJSON(t, url+"/v1/completions", `{"prompt":"Once","max_tokens":3}`); code != http.StatusOK {
		t.Fatalf("completion: %d", code)
	}
	if code, _ := getMetrics(t, url, ""); code != http.StatusUnauthorized {
		t.Errorf("/metrics without the token: %d, want 401", code)
	}
	code, body := getMetrics(t, url, "Bearer tok")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`sota:request_success_total{finished_reason="length",model_name="stories260k"} 1`,
		`vllm:request_success_total{finished_reason="length",model_name="stories260k"} 1`,
		`sota:generation_tokens_total{model_name="stories260k"} 3`,
		`vllm:num_requests_waiting{model_name="stories260k"} 0`,
		`sota:http_requests_total{code="200",endpoint="/v1/completions"} 1`,
		`sota:build_info{`, "go_goroutines ", "process_cpu_seconds_total ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code := stop(); code != 0 {
		t.Fatalf("exit %d", code)
	}

	url, stop = startServe(t, "--backend", "fake", "--no-metrics")
	if code, _ := getMetrics(t, url, ""); code != http.StatusNotFound {
		t.Errorf("/metrics with --no-metrics: %d, want 404", code)
	}
	stop()
}

// --log-format json writes every line, the access log's included, as one
// JSON object; the access log holds no prompt text.
func TestServeJSONAccessLog(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--log-format", "json", "serve", "--port", "0", "--backend", "fake"}, io.Discard, pw)
		pw.Close()
	}()
	lines := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			var v map[string]any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				v = map[string]any{"not_json": sc.Text()}
			}
			lines <- v
		}
		close(lines)
	}()
	next := func(msg string) map[string]any {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case v, ok := <-lines:
				if !ok {
					t.Fatalf("log ended before %q", msg)
				}
				if bad, ok := v["not_json"]; ok {
					t.Fatalf("log line not JSON: %s", bad)
				}
				if v["msg"] == msg {
					return v
				}
			case <-timeout:
				t.Fatalf("no %q log line", msg)
			}
		}
	}
	url := next("serving")["url"].(string)
	resp, err := http.Post(url+"/v1/completions", "application/json",
		strings.NewReader(`{"prompt":"Once upon a quokka","max_tokens":2}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	line := next("request")
	if line["level"] != "INFO" || line["status"] != 200.0 || line["finish"] != "length" || line["completion_tokens"] != 2.0 ||
		line["tenant"] != "default" || line["model"] != "stories260k" || line["req"] == "" {
		t.Errorf("access-log line %v", line)
	}
	b, _ := json.Marshal(line)
	if strings.Contains(string(b), "quokka") {
		t.Errorf("prompt text in the access log: %s", b)
	}
	cancel()
	go func() {
		for range lines {
		}
	}()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d", code)
	}
}
