package jobs

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// streamPing is how often an idle stream sends a comment (keeps proxies
// from closing it).
const streamPing = 15 * time.Second

// cursor is how far a stream client has read: bytes of each choice's text.
type cursor []int

// parseCursor reads a Last-Event-ID ("0:12,1:30"); a malformed one counts
// as none (the stream starts over).
func parseCursor(s string) cursor {
	var c cursor
	if s == "" {
		return c
	}
	for _, part := range strings.Split(s, ",") {
		i, off, ok := strings.Cut(part, ":")
		ci, err1 := strconv.Atoi(i)
		n, err2 := strconv.Atoi(off)
		if !ok || err1 != nil || err2 != nil || ci < 0 || ci > 1<<16 || n < 0 {
			return nil
		}
		for len(c) <= ci {
			c = append(c, 0)
		}
		c[ci] = n
	}
	return c
}

func (c cursor) String() string {
	var b strings.Builder
	for i, n := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%d:%d", i, n)
	}
	return b.String()
}

// stream answers GET /v1/jobs/{id}/stream: server-sent events of the job's
// output from the client's Last-Event-ID on ("event: delta", each with an
// id to resume from), its state changes ("event: status"), then the job
// object ("event: result") and "event: done". Reconnecting with the last id
// received resumes without gaps or repeats, across a server restart too
// (a rerun produces the same text).
func (s *Service) stream(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r)
	id := r.PathValue("id")
	if _, _, err := s.lookup(r.Context(), p.Tenant, id); err != nil {
		s.writeLookupError(w, r, err)
		return
	}
	last := r.Header.Get("Last-Event-ID")
	if v := r.URL.Query().Get("last_event_id"); last == "" {
		last = v
	}
	cur := parseCursor(last)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(event, id string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var buf strings.Builder
		buf.WriteString("event: " + event + "\n")
		if id != "" {
			buf.WriteString("id: " + id + "\n")
		}
		buf.WriteString("data: ")
		buf.Write(b)
		buf.WriteString("\n\n")
		_, err = w.Write([]byte(buf.String()))
		return err
	}
	sentStatus := ""
	ping := time.NewTicker(streamPing)
	defer ping.Stop()
	for {
		s.mu.Lock()
		j := s.jobs[id]
		var texts []string
		var status string
		var wait chan struct{}
		if j != nil {
			texts, status, wait = j.texts(), j.rec.Status, j.changed
		}
		s.mu.Unlock()
		var obj jobObject
		if j == nil { // finished: the stored job
			o, _, err := s.lookup(r.Context(), p.Tenant, id)
			if err != nil {
				return
			}
			obj, texts, status = o, o.Output, o.Status
		}
		if status != sentStatus {
			if err := send("status", "", map[string]string{"job_id": id, "status": status}); err != nil {
				return
			}
			sentStatus = status
		}
		for i, t := range texts {
			for len(cur) <= i {
				cur = append(cur, 0)
			}
			if len(t) <= cur[i] {
				continue // already sent (or, in a rerun, not yet regenerated)
			}
			delta := t[cur[i]:]
			cur[i] = len(t)
			if err := send("delta", cur.String(), map[string]any{"index": i, "text": delta}); err != nil {
				return
			}
		}
		if j == nil {
			if err := send("result", "", obj); err != nil {
				return
			}
			_, _ = w.Write([]byte("event: done\ndata: [DONE]\n\n"))
			_ = rc.Flush()
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-wait:
		case <-ping.C:
			if _, err := w.Write([]byte(": ping\n\n")); err != nil {
				return
			}
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		}
	}
}
