package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sotasystems/sota/admission"
)

const exampleTiers = `tiers:
  solo:     {streams: 3,  queue: 3,  queue_wait: 60s, retry_after: 5, models: ["*"], priorities: [slow, medium], weight: 1}
  team:     {streams: 10, queue: 10, queue_wait: 60s, retry_after: 5, models: ["*"], priorities: [slow, medium, fast], weight: 2}
`

func TestTiersParse(t *testing.T) {
	all := []string{"*"}
	sm := []admission.Class{admission.Slow, admission.Medium}
	tests := []struct {
		name string
		yaml string
		want map[string]admission.Tier // nil: want an error
		err  string                    // part of the error
	}{
		{"example", exampleTiers, map[string]admission.Tier{
			"solo": {Name: "solo", Streams: 3, Queue: 3, QueueWait: time.Minute, RetryAfter: 5 * time.Second, Models: all, Priorities: sm, Weight: 1},
			"team": {Name: "team", Streams: 10, Queue: 10, QueueWait: time.Minute, RetryAfter: 5 * time.Second, Models: all,
				Priorities: []admission.Class{admission.Slow, admission.Medium, admission.Fast}, Weight: 2},
		}, ""},
		{"defaults", "tiers:\n  tiny: {streams: 2}\n", map[string]admission.Tier{
			"tiny": {Name: "tiny", Streams: 2, Queue: 2, QueueWait: time.Minute, RetryAfter: 5 * time.Second, Models: all, Priorities: sm, Weight: 1},
		}, ""},
		{"explicit zeros and durations", `
tiers:
  batch:
    streams: 1
    queue: 0
    queue_wait: 1m30s
    retry_after: 2m
    models: [llama-*, qwen2]
    priorities: [Slow]
    weight: 0.5
`, map[string]admission.Tier{
			"batch": {Name: "batch", Streams: 1, Queue: 0, QueueWait: 90 * time.Second, RetryAfter: 2 * time.Minute,
				Models: []string{"llama-*", "qwen2"}, Priorities: []admission.Class{admission.Slow}, Weight: 0.5},
		}, ""},
		{"empty", "", nil, "no tiers"},
		{"no tiers key", "tier: {}\n", nil, "unknown field"},
		{"unknown tier field", "tiers:\n  a: {streams: 1, burst: 2}\n", nil, "unknown field"},
		{"duplicate tier", "tiers:\n  a: {streams: 1}\n  a: {streams: 2}\n", nil, "already set"},
		{"no streams", "tiers:\n  a: {queue: 1}\n", nil, `tier "a"`},
		{"negative queue", "tiers:\n  a: {streams: 1, queue: -1}\n", nil, "queue = -1"},
		{"numeric queue_wait", "tiers:\n  a: {streams: 1, queue_wait: 60}\n", nil, "duration string"},
		{"bad queue_wait", "tiers:\n  a: {streams: 1, queue_wait: soon}\n", nil, "invalid duration"},
		{"fractional retry_after", "tiers:\n  a: {streams: 1, retry_after: 1.5}\n", nil, "whole seconds"},
		{"huge retry_after", "tiers:\n  a: {streams: 1, retry_after: 99999999999999}\n", nil, "out of range"},
		{"bad priority", "tiers:\n  a: {streams: 1, priorities: [warp]}\n", nil, "unknown priority class"},
		{"repeated priority", "tiers:\n  a: {streams: 1, priorities: [slow, slow]}\n", nil, "twice"},
		{"no priorities", "tiers:\n  a: {streams: 1, priorities: []}\n", nil, "no priorities"},
		{"no models", "tiers:\n  a: {streams: 1, models: []}\n", nil, "no models"},
		{"bad model pattern", "tiers:\n  a: {streams: 1, models: ['[']}\n", nil, "model pattern"},
		{"zero weight", "tiers:\n  a: {streams: 1, weight: 0}\n", nil, "weight"},
		{"bad name", "tiers:\n  'a b': {streams: 1}\n", nil, "name may hold"},
		{"not yaml", "tiers: [", nil, "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTiers([]byte(tt.yaml))
			if tt.want == nil {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q (tiers %+v)", err, tt.err, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTiersLoad(t *testing.T) {
	got, err := loadTiers("")
	if err != nil || !reflect.DeepEqual(got, admission.DefaultTiers()) {
		t.Fatalf("loadTiers(\"\") = %v, %v; want the defaults", got, err)
	}
	dir := t.TempDir()
	good := filepath.Join(dir, "tiers.yaml")
	if err := os.WriteFile(good, []byte(exampleTiers), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err = loadTiers(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got["platform"]; ok || len(got) != 2 {
		t.Fatalf("a file's tiers must replace the built-in ones: %v", got)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("tiers:\n  gold: {streams: 0}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = loadTiers(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "gold") {
		t.Fatalf("error must name the file and the tier: %v", err)
	}
	if _, err := loadTiers(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Fatal("a missing file loaded")
	}
}

// FuzzLoadTiers: parsing never panics, and what it accepts is valid.
func FuzzLoadTiers(f *testing.F) {
	f.Add([]byte(exampleTiers))
	f.Add([]byte("tiers:\n  a: {streams: 1, retry_after: 5s, queue_wait: 0s, weight: 1e3}\n"))
	f.Add([]byte("tiers:\n  b: {streams: 2, models: [\"*\", x], priorities: [ludicrous]}\n"))
	f.Add([]byte("tiers: {a: {streams: 1}, b: {streams: 1, queue: 0}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tiers, err := parseTiers(data)
		if err != nil {
			return
		}
		if len(tiers) == 0 {
			t.Fatal("accepted no tiers")
		}
		for name, tier := range tiers {
			if tier.Name != name {
				t.Fatalf("tier %q named %q", name, tier.Name)
			}
			if err := tier.Validate(); err != nil {
				t.Fatalf("accepted an invalid tier: %v", err)
			}
			if !(tier.Weight > 0) {
				t.Fatalf("accepted weight %v", tier.Weight)
			}
		}
	})
}

func TestTiersJobsQueue(t *testing.T) {
	tiers, err := parseTiers([]byte("tiers:\n  solo: {streams: 3, jobs_queue: 7}\n  team: {streams: 10}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if tiers["solo"].JobsQueue != 7 || tiers["team"].JobsQueue != 0 {
		t.Fatalf("jobs_queue: solo %d, team %d; want 7, 0 (the server's default)", tiers["solo"].JobsQueue, tiers["team"].JobsQueue)
	}
	if _, err := parseTiers([]byte("tiers:\n  solo: {streams: 3, jobs_queue: -1}\n")); err == nil {
		t.Fatal("jobs_queue -1 accepted")
	}
}
