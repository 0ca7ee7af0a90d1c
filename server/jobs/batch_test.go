package jobs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"
)

// upload posts a batch input file and returns its id.
func (h *harness) upload(key, content string) string {
	h.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("purpose", "batch")
	fw, _ := mw.CreateFormFile("file", "in.jsonl")
	_, _ = io.WriteString(fw, content)
	mw.Close()
	req, _ := http.NewRequest("POST", h.http.URL+"/v1/files", &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := h.http.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var f fileObject
	if err := json.NewDecoder(resp.Body).Decode(&f); err != nil || resp.StatusCode != 200 {
		h.t.Fatalf("upload: %d %v", resp.StatusCode, err)
	}
	return f.ID
}

func (h *harness) batch(key, id string) batchObject {
	h.t.Helper()
	code, out, _ := h.do("GET", "/v1/batches/"+id, key, "")
	var b batchObject
	if err := json.Unmarshal([]byte(out), &b); err != nil || code != 200 {
		h.t.Fatalf("batch %s: %d %s", id, code, out)
	}
	return b
}

// A batch interrupted by a restart finishes after it: every line once, in
// input order, with the endpoint's response.
func TestBatchAcrossRestart(t *testing.T) {
	h := newHarness(t, withStep(5*time.Millisecond))
	var in strings.Builder
	for i := range 6 {
		fmt.Fprintf(&in, `{"custom_id": "c%d", "method": "POST", "url": "/v1/completions", "body": {"model": "stories", "prompt": "line %d", "max_tokens": 30}}`+"\n", i, i)
	}
	file := h.upload("ka", in.String())
	code, out, _ := h.do("POST", "/v1/batches", "ka", `{"input_file_id": "`+file+`", "endpoint": "/v1/completions", "completion_window": "24h"}`)
	var b batchObject
	if err := json.Unmarshal([]byte(out), &b); err != nil || code != 200 || b.Status != batchInProgress || b.RequestCounts.Total != 6 {
		t.Fatalf("create: %d %s", code, out)
	}
	for h.batch("ka", b.ID).RequestCounts.Completed < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	h.restart()
	deadline := time.Now().Add(20 * time.Second)
	for b = h.batch("ka", b.ID); b.Status != batchCompleted; b = h.batch("ka", b.ID) {
		if time.Now().After(deadline) {
			t.Fatalf("batch %+v", b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if b.RequestCounts != (requestCounts{Total: 6, Completed: 6}) || b.OutputFileID == nil || b.ErrorFileID != nil {
		t.Fatalf("batch %+v", b)
	}
	code, content, _ := h.do("GET", "/v1/files/"+*b.OutputFileID+"/content", "ka", "")
	lines := strings.Split(strings.TrimSpace(content), "\n")
	if code != 200 || len(lines) != 6 {
		t.Fatalf("output %d: %s", code, content)
	}
	for i, l := range lines {
		var o struct {
			CustomID string `json:"custom_id"`
			Response struct {
				StatusCode int             `json:"status_code"`
				Body       json.RawMessage `json:"body"`
			} `json:"response"`
		}
		if err := json.Unmarshal([]byte(l), &o); err != nil || o.CustomID != fmt.Sprintf("c%d", i) || o.Response.StatusCode != 200 {
			t.Fatalf("line %d: %s", i, l)
		}
		choices(t, o.Response.Body)
	}
	// Another tenant sees neither the batch nor its files.
	if code, _, _ := h.do("GET", "/v1/batches/"+b.ID, "kb", ""); code != http.StatusNotFound {
		t.Fatalf("other tenant's batch: %d", code)
	}
	if code, _, _ := h.do("GET", "/v1/files/"+*b.OutputFileID+"/content", "kb", ""); code != http.StatusNotFound {
		t.Fatalf("other tenant's file: %d", code)
	}
}

func TestBatchInputErrors(t *testing.T) {
	h := newHarness(t)
	cases := []struct{ name, content, code string }{
		{"not json", "{nope\n", "invalid_json_line"},
		{"no custom_id", `{"method": "POST", "url": "/v1/completions", "body": {}}` + "\n", "missing_required_parameter"},
		{"duplicate", `{"custom_id": "a", "method": "POST", "url": "/v1/completions", "body": {"prompt": "x"}}` + "\n" +
			`{"custom_id": "a", "method": "POST", "url": "/v1/completions", "body": {"prompt": "x"}}` + "\n", "duplicate_custom_id"},
		{"other endpoint", `{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}` + "\n", "mismatched_endpoint"},
		{"empty", "\n", "empty_file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := h.upload("ka", c.content)
			code, out, _ := h.do("POST", "/v1/batches", "ka", `{"input_file_id": "`+file+`", "endpoint": "/v1/completions", "completion_window": "24h"}`)
			var b batchObject
			if err := json.Unmarshal([]byte(out), &b); err != nil || code != 200 || b.Status != batchFailed ||
				b.Errors == nil || b.Errors.Data[0].Code != c.code {
				t.Fatalf("%d %s", code, out)
			}
		})
	}
	for _, body := range []string{`{"input_file_id": "file-nosuch", "endpoint": "/v1/completions", "completion_window": "24h"}`,
		`{"input_file_id": "x", "endpoint": "/v1/embeddings", "completion_window": "24h"}`,
		`{"input_file_id": "x", "endpoint": "/v1/completions", "completion_window": "1h"}`} {
		if code, out, _ := h.do("POST", "/v1/batches", "ka", body); code != http.StatusBadRequest || !strings.Contains(out, `"param"`) {
			t.Fatalf("%s: %d %s", body, code, out)
		}
	}
}
