package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sotasystems/sota/bench/fakeoai"
)

func TestJoinNargs(t *testing.T) {
	got := joinNargs([]string{"--goodput", "ttft:50", "tpot:20", "--seed", "1", "--metadata", "a=b", "c=d", "--goodput", "e2el:9"})
	want := []string{"--goodput=ttft:50,tpot:20", "--seed", "1", "--metadata=a=b,c=d", "--goodput=e2el:9"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("joinNargs = %q, want %q", got, want)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{},                            // no --base-url
		{"--base-url", "localhost:1"}, // no scheme
		{"--base-url", "http://h", "--max-concurrency", "1,2", "--request-rate", "1,2"},
		{"--base-url", "http://h", "--request-rate", "0"},
		{"--base-url", "http://h", "--goodput", "itl:5"},
		{"--base-url", "http://h", "--tenant", "name=x"},
		{"--base-url", "http://h", "--dataset-name", "sharegpt"},
		{"--base-url", "http://a", "--base-url", "http://b", "--model", "x", "--model", "y", "--model", "z"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, &out, &errb); code != 2 {
			t.Errorf("%q: exit %d, want 2 (stderr %s)", args, code, errb.String())
		}
	}
}

// TestRun runs the CLI against two fake servers (one refusing a tenant with
// 429) and checks the table, the result file and the charts.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("real-time test")
	}
	good := httptest.NewServer(fakeoai.New(fakeoai.Config{TTFT: 5 * time.Millisecond, ITL: 2 * time.Millisecond}))
	defer good.Close()
	busy := httptest.NewServer(fakeoai.New(fakeoai.Config{TTFT: 5 * time.Millisecond, ITL: 2 * time.Millisecond,
		Admit: func(key string, _ int) fakeoai.Decision {
			if key == "k-flood" {
				return fakeoai.Decision{Status: 429, RetryAfter: 1}
			}
			return fakeoai.Decision{}
		}}))
	defer busy.Close()
	dir := t.TempDir()
	args := []string{"--base-url", "good=" + good.URL, "--base-url", "busy=" + busy.URL, "--model", "m",
		"--num-prompts", "12", "--random-input-len", "8", "--random-output-len", "4", "--max-concurrency", "2,4",
		"--tenant", "name=team,key=k-team,weight=2", "--tenant", "name=flood,key=k-flood",
		"--goodput", "ttft:1000", "tpot:100", "--metadata", "note=test", "--commit", "abc123",
		"--result-filename", filepath.Join(dir, "r.json"), "--disable-tqdm"}
	var out, errb bytes.Buffer
	if code := run(context.Background(), append(args, "--fail-on-error"), &out, &errb); code != 1 {
		t.Fatalf("exit %d with 429s and --fail-on-error, want 1; stderr %s", code, errb.String())
	}
	out.Reset()
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d, want 0; stderr %s", code, errb.String())
	}
	for _, want := range []string{"Serving Benchmark Result (max concurrency 2", "max concurrency 4", "Time per Output Token", "busy / good", "Tenants of busy", "429:"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "r.json"))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Commit      string            `json:"commit"`
		CommandLine []string          `json:"command_line"`
		Metadata    map[string]string `json:"metadata"`
		Sweep       string            `json:"sweep"`
		Machine     struct {
			Cores int `json:"cores"`
		} `json:"machine"`
		Points []struct {
			MaxConcurrency int `json:"max_concurrency"`
			Targets        []struct {
				Completed int            `json:"completed"`
				Errors    map[string]int `json:"errors"`
				Goodput   *float64       `json:"request_goodput"`
				Tenants   []struct {
					Name     string         `json:"name"`
					Statuses map[string]int `json:"statuses"`
				} `json:"tenants"`
			} `json:"targets"`
		} `json:"points"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Commit != "abc123" || res.Metadata["note"] != "test" || res.Sweep != "max_concurrency" || res.Machine.Cores < 1 || len(res.CommandLine) < 5 {
		t.Errorf("result header: %+v", res)
	}
	if len(res.Points) != 2 || res.Points[1].MaxConcurrency != 4 {
		t.Fatalf("points: %+v", res.Points)
	}
	for _, p := range res.Points {
		g, bz := p.Targets[0], p.Targets[1]
		if g.Completed != 12 || bz.Completed != 8 || bz.Errors["429"] != 4 || g.Goodput == nil {
			t.Errorf("good %+v busy %+v: want 12 ok; 8 ok and 4 refused", g, bz)
		}
		if f := bz.Tenants[1]; f.Name != "flood" || f.Statuses["429"] != 4 {
			t.Errorf("flood tenant: %+v", f)
		}
	}
	for _, c := range []string{"r-latency.png", "r-throughput.png", "r-tenants.png"} {
		if st, err := os.Stat(filepath.Join(dir, c)); err != nil || st.Size() == 0 {
			t.Errorf("chart %s: %v", c, err)
		}
	}
}

func TestRedactArgs(t *testing.T) {
	in := []string{"--base-url", "http://x", "--api-key", "sk-1", "--api-key=sk-2", "--tenant", "name=a,key=sk-3,weight=1",
		"--tenant=key=sk-4,name=b"}
	want := []string{"--base-url", "http://x", "--api-key", "REDACTED", "--api-key=REDACTED", "--tenant",
		"name=a,key=REDACTED,weight=1", "--tenant=key=REDACTED,name=b"}
	got := redactArgs(in)
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("redactArgs = %q, want %q", got, want)
		}
	}
}
