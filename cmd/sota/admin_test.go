package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

// adminDB is a fresh database path for the admin commands (SOTA_DB points
// at it, so commands may leave --db out).
func adminDB(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "data", "sota.db")
	t.Setenv("SOTA_DB", p)
	t.Setenv("SOTA_TIERS", "")
	return p
}

func openDB(t *testing.T, path string) *store.DB {
	t.Helper()
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// mustSota runs a command that must succeed.
func mustSota(t *testing.T, args ...string) (stdout, stderr string) {
	t.Helper()
	code, out, errOut := sota(t, args...)
	if code != 0 {
		t.Fatalf("sota %s: exit %d\nstdout %s\nstderr %s", strings.Join(args, " "), code, out, errOut)
	}
	return out, errOut
}

func TestKeysCreateListRevoke(t *testing.T) {
	path := adminDB(t)
	out, errOut := mustSota(t, "keys", "create", "--tenant", "acme", "--tier", "team", "--priority", "Fast")
	key := strings.TrimSuffix(out, "\n")
	if !strings.HasPrefix(key, admission.KeyPrefix) || strings.Contains(key, "\n") {
		t.Fatalf("stdout must be the key alone on one line: %q", out)
	}
	if strings.Contains(errOut, key) || !strings.Contains(errOut, "not be shown again") || !strings.Contains(errOut, "tier team") {
		t.Fatalf("stderr %q", errOut)
	}

	db := openDB(t, path)
	k, ten, err := db.KeyByHash(context.Background(), admission.HashKey(key))
	if err != nil {
		t.Fatal(err)
	}
	if ten.ID != "acme" || ten.Tier != "team" || k.Priority != "fast" || k.Prefix != admission.DisplayPrefix(key) {
		t.Fatalf("stored key %+v tenant %+v", k, ten)
	}
	if !strings.Contains(errOut, k.ID) {
		t.Fatalf("stderr does not name the key id %s: %q", k.ID, errOut)
	}

	// A second key for the existing tenant: --tier may be left out.
	out2, _ := mustSota(t, "keys", "create", "--tenant", "acme")
	mustSota(t, "keys", "create", "--tenant", "bob", "--tier", "solo", "--db", path)

	list, _ := mustSota(t, "keys", "list")
	if strings.Contains(list, key) || strings.Contains(list, strings.TrimSpace(out2)) {
		t.Fatalf("keys list shows a key:\n%s", list)
	}
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], k.ID) ||
		!strings.Contains(lines[1], "team") || !strings.Contains(lines[1], "never") || !strings.Contains(lines[3], "bob") {
		t.Fatalf("keys list:\n%s", list)
	}

	jsonOut, _ := mustSota(t, "keys", "list", "--tenant", "acme", "--json")
	var ks []keyJSON
	if err := json.Unmarshal([]byte(jsonOut), &ks); err != nil {
		t.Fatalf("%v: %s", err, jsonOut)
	}
	if len(ks) != 2 || ks[0].ID != k.ID || ks[0].Tier != "team" || ks[0].LastUsed != nil || ks[0].Revoked != nil {
		t.Fatalf("keys list --json: %+v", ks)
	}

	_, errOut = mustSota(t, "keys", "revoke", k.ID)
	if !strings.Contains(errOut, "revoked") {
		t.Fatalf("revoke stderr %q", errOut)
	}
	if _, _, err := db.KeyByHash(context.Background(), admission.HashKey(key)); !errors.Is(err, store.ErrRevoked) {
		t.Fatalf("after revoke: %v", err)
	}
	jsonOut, _ = mustSota(t, "keys", "list", "--tenant", "acme", "--json")
	ks = nil
	if err := json.Unmarshal([]byte(jsonOut), &ks); err != nil || ks[0].Revoked == nil {
		t.Fatalf("revoked key listed as %+v (%v)", ks, err)
	}
}

func TestKeysErrors(t *testing.T) {
	adminDB(t)
	mustSota(t, "tenants", "set", "acme", "--tier", "solo")
	tiers := filepath.Join(t.TempDir(), "tiers.yaml")
	if err := os.WriteFile(tiers, []byte("tiers:\n  gold: {streams: 5}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"keys", "create"}, 2, "--tenant"},
		{[]string{"keys", "create", "--tenant", "new"}, 1, "give its --tier"},
		{[]string{"keys", "create", "--tenant", "new", "--tier", "diamond"}, 1, `unknown tier "diamond"`},
		{[]string{"keys", "create", "--tenant", "acme", "--tier", "team"}, 1, "sota tenants set acme --tier team"},
		{[]string{"keys", "create", "--tenant", "acme", "--priority", "warp"}, 1, "unknown priority class"},
		{[]string{"keys", "create", "--tenant", "bad id", "--tier", "solo"}, 1, "tenant id"},
		{[]string{"keys", "create", "--tenant", "acme", "--tiers", tiers}, 1, "tiers do not define"},
		{[]string{"keys", "create", "--tenant", "x", "--tier", "solo", "--tiers", filepath.Join(t.TempDir(), "none.yaml")}, 1, "no such file"},
		{[]string{"keys", "list", "--tenant", "ghost"}, 1, "not found"},
		{[]string{"keys", "revoke", "key_000000000000"}, 1, "not found"},
		{[]string{"keys", "revoke"}, 2, "key-id"},
	}
	for _, tt := range tests {
		code, out, errOut := sota(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.err) || out != "" {
			t.Errorf("sota %s: exit %d, stdout %q, stderr %q; want exit %d and %q",
				strings.Join(tt.args, " "), code, out, errOut, tt.code, tt.err)
		}
	}
	// Nothing was created by the failures.
	out, _ := mustSota(t, "keys", "list", "--json")
	if strings.TrimSpace(out) != "[]" {
		t.Fatalf("keys after failures: %s", out)
	}
	out, _ = mustSota(t, "tenants", "list", "--json")
	if strings.Count(out, `"id"`) != 1 {
		t.Fatalf("tenants after failures: %s", out)
	}
}

func TestKeysCustomTiers(t *testing.T) {
	adminDB(t)
	tiers := filepath.Join(t.TempDir(), "tiers.yaml")
	if err := os.WriteFile(tiers, []byte("tiers:\n  gold: {streams: 5, priorities: [slow, medium, fast]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOTA_TIERS", tiers)
	_, errOut := mustSota(t, "keys", "create", "--tenant", "acme", "--tier", "gold", "--priority", "ludicrous")
	if !strings.Contains(errOut, "above tier gold's ceiling fast") {
		t.Fatalf("no clamp note: %q", errOut)
	}
	if code, _, errOut := sota(t, "keys", "create", "--tenant", "b", "--tier", "solo"); code != 1 || !strings.Contains(errOut, "the tiers are gold") {
		t.Fatalf("built-in tier accepted with a tiers file: exit %d, %q", code, errOut)
	}
	out, _ := mustSota(t, "tenants", "list")
	if !strings.Contains(out, "5 (tier)") {
		t.Fatalf("tenants list:\n%s", out)
	}
}

func TestTenantsSetList(t *testing.T) {
	path := adminDB(t)
	_, errOut := mustSota(t, "tenants", "set", "acme", "--tier", "solo")
	if !strings.Contains(errOut, "created tenant acme") {
		t.Fatalf("stderr %q", errOut)
	}
	mustSota(t, "tenants", "set", "zed", "--tier", "platform", "--streams", "7")
	db := openDB(t, path)
	before, err := db.Tenant(context.Background(), "acme")
	if err != nil {
		t.Fatal(err)
	}

	_, errOut = mustSota(t, "tenants", "set", "acme", "--tier", "team", "--streams", "4")
	if !strings.Contains(errOut, "updated tenant acme: tier team, streams 4 (own)") {
		t.Fatalf("stderr %q", errOut)
	}
	// Without --tier the tier stays; without --streams the override stays.
	mustSota(t, "tenants", "set", "acme")
	after, _ := db.Tenant(context.Background(), "acme")
	if after.Tier != "team" || after.Streams != 4 || !after.Created.Equal(before.Created) {
		t.Fatalf("after updates: %+v (created before %v)", after, before.Created)
	}
	mustSota(t, "keys", "create", "--tenant", "acme")

	out, _ := mustSota(t, "tenants", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TENANT") ||
		!strings.Contains(lines[1], "acme") || !strings.Contains(lines[1], "4 (own)") ||
		!strings.Contains(lines[2], "zed") || !strings.Contains(lines[2], "7 (own)") {
		t.Fatalf("tenants list:\n%s", out)
	}

	// --streams 0 clears the override.
	mustSota(t, "tenants", "set", "acme", "--streams", "0")
	out, _ = mustSota(t, "tenants", "list", "--json")
	var ts []tenantJSON
	if err := json.Unmarshal([]byte(out), &ts); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(ts) != 2 || ts[0].ID != "acme" || ts[0].Tier != "team" || ts[0].Override != 0 || ts[0].Streams == nil ||
		*ts[0].Streams != 10 || ts[0].ActiveKeys != 1 || ts[1].ActiveKeys != 0 {
		t.Fatalf("tenants list --json: %s", out)
	}

	for _, tt := range []struct {
		args []string
		err  string
	}{
		{[]string{"tenants", "set", "new"}, "give its --tier"},
		{[]string{"tenants", "set", "acme", "--tier", "gold"}, `unknown tier "gold"`},
		{[]string{"tenants", "set", "acme", "--streams=-1"}, "want >= 0"},
		{[]string{"tenants", "set", "a/b", "--tier", "solo"}, "tenant id"},
	} {
		if code, _, errOut := sota(t, tt.args...); code != 1 || !strings.Contains(errOut, tt.err) {
			t.Errorf("sota %s: exit %d, %q; want %q", strings.Join(tt.args, " "), code, errOut, tt.err)
		}
	}
}

func TestUsageReport(t *testing.T) {
	path := adminDB(t)
	db := openDB(t, path)
	now := time.Now()
	ms := time.Millisecond
	var us []store.Usage
	for i, status := range []int{200, 200, 200, 429, 408} {
		u := store.Usage{Time: now.Add(-time.Duration(i) * time.Minute), Tenant: "acme", Status: status,
			PromptTokens: 100, CompletionTokens: 10, QueueTime: time.Duration(i) * ms}
		if status == 200 {
			u.TTFT = 50 * ms
		}
		us = append(us, u)
	}
	us = append(us,
		store.Usage{Time: now.Add(-2 * time.Hour), Tenant: "bob", Status: 500, PromptTokens: 7},
		store.Usage{Time: now.Add(-48 * time.Hour), Tenant: "old", Status: 200},
	)
	if err := db.RecordUsage(context.Background(), us); err != nil {
		t.Fatal(err)
	}

	out, _ := mustSota(t, "usage")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "TENANT") || strings.Contains(out, "old") {
		t.Fatalf("usage:\n%s", out)
	}
	if f := strings.Fields(lines[1]); strings.Join(f[:8], " ") != "acme 5 3 1 1 0 500 50" || f[11] != "50ms" {
		t.Fatalf("acme row %q", lines[1])
	}
	if f := strings.Fields(lines[2]); strings.Join(f[:6], " ") != "bob 1 0 0 0 1" || f[11] != "-" {
		t.Fatalf("bob row %q", lines[2])
	}

	out, _ = mustSota(t, "usage", "--since", "1h", "--json")
	var got []usageJSON
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	want := usageJSON{Tenant: "acme", Requests: 5, OK: 3, QueueTimeout: 1, OverCapacity: 1, PromptTokens: 500,
		CompletionTokens: 50, QueueMean: 0.002, QueueP50: 0.002, QueueP99: 0.004, TTFTMean: 0.05, TTFTP50: 0.05, TTFTP99: 0.05}
	if len(got) != 1 || got[0] != want {
		t.Fatalf("usage --json:\n%+v\nwant\n%+v", got, want)
	}

	out, _ = mustSota(t, "usage", "--since", "72h", "--tenant", "old", "--json")
	if !strings.Contains(out, `"tenant": "old"`) || strings.Contains(out, "acme") {
		t.Fatalf("usage --tenant old: %s", out)
	}
	_, errOut := mustSota(t, "usage", "--tenant", "nobody")
	if !strings.Contains(errOut, "no requests") {
		t.Fatalf("stderr %q", errOut)
	}
	if code, _, errOut := sota(t, "usage", "--since=-1h"); code != 1 || !strings.Contains(errOut, "positive") {
		t.Fatalf("negative --since: exit %d, %q", code, errOut)
	}
}

func TestUsageDefaultDBPath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_DATA_HOME", dir)
	if got, want := defaultDBPath(), filepath.Join(dir, "sota", "sota.db"); got != want {
		t.Fatalf("defaultDBPath() = %q, want %q", got, want)
	}
	t.Setenv("XDG_DATA_HOME", "relative/dir")
	t.Setenv("HOME", dir)
	if got, want := defaultDBPath(), filepath.Join(dir, ".local", "share", "sota", "sota.db"); got != want {
		t.Fatalf("defaultDBPath() = %q, want %q", got, want)
	}
	// With no --db and no SOTA_DB, the commands use the default.
	t.Setenv("SOTA_DB", "")
	t.Setenv("SOTA_TIERS", "")
	mustSota(t, "tenants", "set", "acme", "--tier", "solo")
	if _, err := os.Stat(filepath.Join(dir, ".local", "share", "sota", "sota.db")); err != nil {
		t.Fatal(err)
	}
}
