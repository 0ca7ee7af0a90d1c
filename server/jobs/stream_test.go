package jobs

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

type deltaData struct {
	Index int    `json:"index"`
	Text  string `json:"text"`
}

// openStream GETs a job's stream from lastID.
func (h *harness) openStream(key, id, lastID string) *http.Response {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.http.URL+"/v1/jobs/"+id+"/stream", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := h.http.Client().Do(req)
	if err != nil || resp.StatusCode != 200 {
		h.t.Fatalf("stream: %v %v", err, resp)
	}
	return resp
}

// A client that reads part of a stream, goes away and comes back with its
// Last-Event-ID gets the rest: the pieces add up to the output exactly, in
// both choices; a restart of the server in between changes nothing.
func TestStreamResumesFromLastEventID(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "reconnect"
		if restart {
			name = "across a restart"
		}
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, withStep(5*time.Millisecond))
			id := h.submit("ka", `{"prompt": "stream me", "max_tokens": 80, "n": 2, "async": true}`)
			texts := make([]strings.Builder, 2)
			collect := func(evs []sseEvent) string {
				last := ""
				for _, e := range evs {
					if e.event == "delta" {
						var d deltaData
						if err := json.Unmarshal([]byte(e.data), &d); err != nil {
							t.Fatal(err)
						}
						texts[d.Index].WriteString(d.Text)
						last = e.id
					}
				}
				return last
			}
			resp := h.openStream("ka", id, "")
			n := 0
			evs := readEvents(resp.Body, func(e sseEvent) bool {
				if e.event == "delta" {
					n++
				}
				return n == 10
			})
			resp.Body.Close()
			last := collect(evs)
			if last == "" {
				t.Fatalf("no deltas: %v", evs)
			}
			if restart {
				h.restart()
			}
			resp = h.openStream("ka", id, last)
			evs = readEvents(resp.Body, func(sseEvent) bool { return false })
			resp.Body.Close()
			collect(evs)
			if evs[len(evs)-1].event != "done" || evs[len(evs)-2].event != "result" {
				t.Fatalf("stream ends %v", evs[len(evs)-2:])
			}
			var o jobObject
			_ = json.Unmarshal([]byte(evs[len(evs)-2].data), &o)
			if o.Status != Finished || len(o.Output) != 2 {
				t.Fatalf("result %+v", o)
			}
			for i := range 2 {
				if texts[i].String() != o.Output[i] {
					t.Fatalf("choice %d: streamed %q\nwant %q", i, texts[i].String(), o.Output[i])
				}
			}
			// A finished job's stream replays all of it.
			resp = h.openStream("ka", id, "")
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(b), "event: result") || !strings.HasSuffix(string(b), "event: done\ndata: [DONE]\n\n") {
				t.Fatalf("replay %s", b)
			}
		})
	}
}

// Several watchers of one job each get the whole output.
func TestStreamManyWatchers(t *testing.T) {
	h := newHarness(t, withStep(2*time.Millisecond))
	id := h.submit("ka", `{"prompt": "watch", "max_tokens": 50, "async": true}`)
	var wg sync.WaitGroup
	got := make([]string, 5)
	for i := range got {
		wg.Go(func() {
			resp := h.openStream("ka", id, "")
			defer resp.Body.Close()
			var b strings.Builder
			for _, e := range readEvents(resp.Body, func(sseEvent) bool { return false }) {
				if e.event == "delta" {
					var d deltaData
					_ = json.Unmarshal([]byte(e.data), &d)
					b.WriteString(d.Text)
				}
			}
			got[i] = b.String()
		})
	}
	wg.Wait()
	o := h.job("ka", id)
	for i, g := range got {
		if g != o.Output[0] {
			t.Fatalf("watcher %d: %q, want %q", i, g, o.Output[0])
		}
	}
}

func TestParseCursor(t *testing.T) {
	for in, want := range map[string]string{"": "", "0:12": "0:12", "0:1,1:30": "0:1,1:30", "1:5": "0:0,1:5",
		"x": "", "0:-1": "", "0:1,zz": ""} {
		if got := parseCursor(in).String(); got != want {
			t.Errorf("parseCursor(%q) = %q, want %q", in, got, want)
		}
	}
}
