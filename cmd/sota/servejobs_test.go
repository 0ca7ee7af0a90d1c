package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// Without a database the jobs routes say what they need; with --db they run.
func TestServeJobsNeedADatabase(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir()) // no default database file
	url, stop := startServe(t, "--backend", "fake")
	code, out := postJSON(t, url+"/v1/stories260k/generate", `{"prompt": "a", "max_tokens": 2}`)
	if code != http.StatusNotFound || !strings.Contains(out["error"].(map[string]any)["message"].(string), "--db") {
		t.Fatalf("%d %v", code, out)
	}
	if c := stop(); c != 0 {
		t.Fatalf("exit %d", c)
	}
	url, stop = startServe(t, "--backend", "fake", "--db", filepath.Join(t.TempDir(), "sota.db"))
	defer stop()
	code, out = postJSON(t, url+"/v1/stories260k/generate", `{"prompt": "a", "max_tokens": 2}`)
	if code != http.StatusOK || out["status"] != "FINISHED" {
		t.Fatalf("%d %v", code, out)
	}
}

func TestJobsFlagsAndWebhookSecret(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sota.db")
	for _, args := range [][]string{{"--jobs-queue", "0"}, {"--job-timeout", "0s"}, {"--jobs-queue-tier", "solo=0"}} {
		code, _, errOut := sota(t, append([]string{"serve", "--backend", "fake", "--port", "0", "--db", db}, args...)...)
		if code != 1 || !strings.Contains(errOut, strings.TrimPrefix(args[0], "--")) {
			t.Fatalf("%v: exit %d, %s", args, code, errOut)
		}
	}
	code, a, errOut := sota(t, "tenants", "webhook-secret", "acme", "--db", db)
	_, b, _ := sota(t, "tenants", "webhook-secret", "acme", "--db", db)
	_, c, _ := sota(t, "tenants", "webhook-secret", "beta", "--db", db)
	if code != 0 || !strings.HasPrefix(a, "whsec_") || a != b || a == c {
		t.Fatalf("exit %d %q %q %q %s", code, a, b, c, errOut)
	}
}
