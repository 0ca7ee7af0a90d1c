package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sotasystems/sota/bench/internal/sse"
)

// chunk is the part of a response (streamed chunk or whole body) the
// benchmark reads.
type chunk struct {
	Choices []struct {
		Text  *string `json:"text"`
		Delta *struct {
			Content          *string         `json:"content"`
			ReasoningContent *string         `json:"reasoning_content"`
			Reasoning        *string         `json:"reasoning"`
			ToolCalls        json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
		Message *struct {
			Content          *string         `json:"content"`
			ReasoningContent *string         `json:"reasoning_content"`
			ToolCalls        json.RawMessage `json:"tool_calls"`
		} `json:"message"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error *apiError `json:"error"`
}

type apiError struct {
	Message    string          `json:"message"`
	Type       string          `json:"type"`
	RetryAfter json.RawMessage `json:"retry_after"`
}

func nonEmpty(s *string) bool { return s != nil && *s != "" }

func hasCalls(m json.RawMessage) bool {
	m = bytes.TrimSpace(m)
	return len(m) > 0 && string(m) != "null" && string(m) != "[]"
}

// output is the number of bytes of output the chunk carries (text, content,
// reasoning; a tool-call delta counts as output too), and whether it has
// any.
func (c *chunk) output() (text int, any bool) {
	for _, ch := range c.Choices {
		if nonEmpty(ch.Text) {
			text += len(*ch.Text)
			any = true
		}
		if d := ch.Delta; d != nil {
			for _, s := range []*string{d.Content, d.ReasoningContent, d.Reasoning} {
				if nonEmpty(s) {
					text += len(*s)
					any = true
				}
			}
			any = any || hasCalls(d.ToolCalls)
		}
		if m := ch.Message; m != nil {
			for _, s := range []*string{m.Content, m.ReasoningContent} {
				if nonEmpty(s) {
					text += len(*s)
					any = true
				}
			}
			any = any || hasCalls(m.ToolCalls)
		}
	}
	return text, any
}

// requester sends one attempt of a request and measures it.
type requester struct {
	client    *http.Client
	stream    bool
	noUsage   bool
	extraBody map[string]any
	timeout   time.Duration
}

func (q *requester) body(t Target, p Prompt) ([]byte, error) {
	b := make(map[string]any, 8+len(q.extraBody))
	for k, v := range q.extraBody {
		b[k] = v
	}
	if t.Model != "" {
		b["model"] = t.Model
	}
	if t.API() == Chat {
		b["messages"] = p.ChatMessages()
	} else {
		b["prompt"] = p.CompletionText()
	}
	b["max_tokens"] = p.OutputLen
	if p.IgnoreEOS {
		b["ignore_eos"] = true
	}
	b["stream"] = q.stream
	if q.stream && !q.noUsage {
		b["stream_options"] = map[string]any{"include_usage": true}
	}
	return json.Marshal(b)
}

// attempt sends the request once and fills rec's measurements from it.
func (q *requester) attempt(ctx context.Context, url string, t Target, p Prompt, tenant *Tenant, rec *Record) Attempt {
	body, err := q.body(t, p)
	if err != nil {
		return q.fail(rec, Attempt{}, "bad_request", fmt.Errorf("encode request: %w", err))
	}
	if q.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, q.timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return q.fail(rec, Attempt{}, "bad_request", fmt.Errorf("build request: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	if q.stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	for k, v := range t.Headers {
		req.Header.Set(k, v)
	}
	key := t.APIKey
	if tenant != nil {
		key = tenant.APIKey
		if tenant.Priority != "" {
			req.Header.Set("X-Siati-Tier", tenant.Priority)
		}
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}

	*rec = Record{Target: rec.Target, Prompt: rec.Prompt, Tenant: rec.Tenant, Seq: rec.Seq, Dispatched: rec.Dispatched, Attempts: rec.Attempts}
	rec.InputTokens, rec.InputSource = p.InputLen, FromEstimate
	rec.Start = time.Now()
	resp, err := q.client.Do(req)
	if err != nil {
		return q.fail(rec, Attempt{}, transportKind(ctx, err), err)
	}
	defer resp.Body.Close()
	a := Attempt{Status: resp.StatusCode}
	rec.Status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		return q.rejected(rec, a, resp)
	}
	ct := resp.Header.Get("Content-Type")
	if q.stream && strings.HasPrefix(ct, "text/event-stream") {
		return q.readStream(ctx, rec, a, resp.Body)
	}
	return q.readWhole(ctx, rec, a, resp.Body)
}

// rejected reads a non-200 answer: its error message and Retry-After.
func (q *requester) rejected(rec *Record, a Attempt, resp *http.Response) Attempt {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	rec.End = time.Now()
	a.Latency = rec.End.Sub(rec.Start)
	var body struct {
		Error *apiError `json:"error"`
	}
	msg := strings.TrimSpace(string(data))
	if json.Unmarshal(data, &body) == nil && body.Error != nil {
		msg = body.Error.Message
		if d, ok := retryAfterBody(body.Error.RetryAfter); ok {
			a.RetryAfter, a.HasRetryAfter = d, true
		}
	}
	if d, ok := retryAfterHeader(resp.Header.Get("Retry-After"), rec.End); ok {
		a.RetryAfter, a.HasRetryAfter = d, true
	}
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return q.fail(rec, a, strconv.Itoa(resp.StatusCode), fmt.Errorf("http %d: %s", resp.StatusCode, msg))
}

// readStream reads an SSE response, timestamping every event.
func (q *requester) readStream(ctx context.Context, rec *Record, a Attempt, body io.Reader) Attempt {
	rd := sse.NewReader(body, 0)
	var first, lastOut, lastEvent time.Time
	textBytes := 0
	for {
		ev, err := rd.Next()
		now := time.Now()
		if err == io.EOF {
			break // a stream may end without [DONE]
		}
		if err != nil {
			rec.End = now
			a.Latency = now.Sub(rec.Start)
			return q.fail(rec, a, transportKind(ctx, err), fmt.Errorf("read stream: %w", err))
		}
		data := bytes.TrimSpace(ev.Data)
		if string(data) == "[DONE]" {
			break
		}
		var c chunk
		if err := json.Unmarshal(data, &c); err != nil {
			rec.End = now
			a.Latency = now.Sub(rec.Start)
			return q.fail(rec, a, "bad_response", fmt.Errorf("stream chunk %.80q: %w", data, err))
		}
		if c.Error != nil {
			rec.End = now
			a.Latency = now.Sub(rec.Start)
			return q.fail(rec, a, "stream_error", fmt.Errorf("error event: %s", c.Error.Message))
		}
		lastEvent = now
		if n, ok := c.output(); ok {
			if first.IsZero() {
				first = now
			} else {
				rec.ITL = append(rec.ITL, now.Sub(lastOut))
			}
			lastOut = now
			rec.Chunks++
			textBytes += n
		}
		q.usage(rec, &c)
	}
	rec.End = time.Now()
	a.Latency = rec.End.Sub(rec.Start)
	if first.IsZero() {
		return q.fail(rec, a, "no_output", errors.New("the stream carried no output"))
	}
	rec.TTFT = first.Sub(rec.Start)
	rec.E2E = lastEvent.Sub(rec.Start)
	if rec.OutputSource != FromUsage {
		rec.OutputTokens, rec.OutputSource = rec.Chunks, FromChunks
	}
	rec.OK = true
	return a
}

// readWhole reads a non-streamed JSON response.
func (q *requester) readWhole(ctx context.Context, rec *Record, a Attempt, body io.Reader) Attempt {
	data, err := io.ReadAll(body)
	rec.End = time.Now()
	a.Latency = rec.End.Sub(rec.Start)
	if err != nil {
		return q.fail(rec, a, transportKind(ctx, err), fmt.Errorf("read response: %w", err))
	}
	var c chunk
	if err := json.Unmarshal(data, &c); err != nil {
		return q.fail(rec, a, "bad_response", fmt.Errorf("response %.80q: %w", data, err))
	}
	if c.Error != nil {
		return q.fail(rec, a, "stream_error", fmt.Errorf("error: %s", c.Error.Message))
	}
	n, ok := c.output()
	if !ok {
		return q.fail(rec, a, "no_output", errors.New("the response carried no output"))
	}
	rec.TTFT = a.Latency
	rec.E2E = a.Latency
	rec.OutputTokens, rec.OutputSource = (n+3)/4, FromEstimate
	q.usage(rec, &c)
	rec.OK = true
	return a
}

func (q *requester) usage(rec *Record, c *chunk) {
	if c.Usage == nil {
		return
	}
	if c.Usage.CompletionTokens > 0 {
		rec.OutputTokens, rec.OutputSource = c.Usage.CompletionTokens, FromUsage
	}
	if c.Usage.PromptTokens > 0 {
		rec.InputTokens, rec.InputSource = c.Usage.PromptTokens, FromUsage
	}
}

func (q *requester) fail(rec *Record, a Attempt, kind string, err error) Attempt {
	rec.OK = false
	rec.Kind = kind
	rec.Error = err.Error()
	if rec.End.IsZero() {
		rec.End = time.Now()
	}
	return a
}

func transportKind(ctx context.Context, err error) string {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "timeout"
	}
	return "transport"
}

// retryAfterHeader reads Retry-After: delay-seconds or an HTTP date.
func retryAfterHeader(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// retryAfterBody reads sota's error.retry_after (seconds, number or string).
func retryAfterBody(m json.RawMessage) (time.Duration, bool) {
	if len(m) == 0 || string(m) == "null" {
		return 0, false
	}
	s := strings.Trim(string(m), `"`)
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}
