package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// request sends a completion with an optional key (and header pairs) and
// returns status, body and headers.
func request(t *testing.T, c *http.Client, url, key, body string, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest("POST", url+"/v1/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// With keys in the database, serve authenticates, caps and records usage.
func TestServeWithKeys(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sota.db")
	code, out, errOut := sota(t, "keys", "create", "--db", db, "--tenant", "acme", "--tier", "solo")
	if code != 0 {
		t.Fatalf("keys create: %d %s", code, errOut)
	}
	key := strings.TrimSpace(out)
	if !strings.HasPrefix(key, "sk-sota-") {
		t.Fatalf("key %q", key)
	}
	url, stop := startServe(t, "--backend", "fake", "--db", db)
	body := `{"prompt": "x", "max_tokens": 3, "ignore_eos": true}`
	if code, b, _ := request(t, http.DefaultClient, url, "", body); code != 401 || !strings.Contains(b, "invalid_api_key") {
		t.Fatalf("no key: %d %s", code, b)
	}
	code, b, h := request(t, http.DefaultClient, url, key, body)
	if code != 200 || h.Get("X-Ratelimit-Limit-Streams") != "3" || h.Get("X-Sota-Priority") != "medium" {
		t.Fatalf("with key: %d %s %v", code, b, h)
	}
	idem := []string{"X-Request-Id", "retry-7"}
	code, first, _ := request(t, http.DefaultClient, url, key, body, idem...)
	if code != 200 {
		t.Fatalf("idempotent request: %d %s", code, first)
	}
	if exit := stop(); exit != 0 {
		t.Fatalf("serve exit %d", exit)
	}
	// A retry after a restart gets the stored response byte for byte.
	url, stop = startServe(t, "--backend", "fake", "--db", db)
	code, again, h := request(t, http.DefaultClient, url, key, body, idem...)
	if code != 200 || again != first || h.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("retry after restart: %d %v\n%s\nwant\n%s", code, h, again, first)
	}
	// The tenant reads its own usage: the first run's two billed requests.
	req, _ := http.NewRequest("GET", url+"/v1/usage?since=1h", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var u struct {
		Tenant           string              `json:"tenant"`
		Requests         int                 `json:"requests"`
		CompletionTokens int                 `json:"completion_tokens"`
		Streams          struct{ Limit int } `json:"streams"`
	}
	json.NewDecoder(resp.Body).Decode(&u)
	resp.Body.Close()
	if resp.StatusCode != 200 || u.Tenant != "acme" || u.Requests != 2 || u.CompletionTokens != 6 || u.Streams.Limit != 3 {
		t.Fatalf("GET /v1/usage: %d %+v", resp.StatusCode, u)
	}
	if exit := stop(); exit != 0 {
		t.Fatalf("serve exit %d", exit)
	}
	// The usage log was flushed at shutdown.
	code, out, errOut = sota(t, "usage", "--db", db, "--json")
	if code != 0 || !strings.Contains(out, "acme") {
		t.Fatalf("usage: %d %s %s", code, out, errOut)
	}
	var rows []map[string]any
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != 1 {
		t.Fatalf("usage JSON %q: %v", out, err)
	}
}

func TestServeOpenModeAndStaticKeys(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	// Open mode refuses a non-loopback address without the flag.
	code, _, errOut := sota(t, "serve", "--port", "0", "--backend", "fake", "--host", "0.0.0.0")
	if code == 0 || !strings.Contains(errOut, "--allow-unauthenticated") {
		t.Fatalf("open mode on 0.0.0.0: %d %s", code, errOut)
	}
	url, stop := startServe(t, "--backend", "fake", "--api-key", "k1", "--api-key", "k2")
	defer stop()
	body := `{"prompt": "x", "max_tokens": 1}`
	for key, want := range map[string]int{"": 401, "k3": 401, "k1": 200, "k2": 200} {
		if code, b, _ := request(t, http.DefaultClient, url, key, body); code != want {
			t.Errorf("key %q: %d %s, want %d", key, code, b, want)
		}
	}
}

func TestServeTLS(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	dir := t.TempDir()
	cert, keyFile := writeSelfSigned(t, dir)
	url, stop := startServe(t, "--backend", "fake", "--tls-cert", cert, "--tls-key", keyFile)
	defer stop()
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("url %s", url)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pem)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	resp, err := c.Get(url + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ProtoMajor != 2 || resp.TLS.Version != tls.VersionTLS13 {
		t.Fatalf("health over TLS: %d %s %x", resp.StatusCode, resp.Proto, resp.TLS.Version)
	}
	// TLS 1.2 is refused.
	old := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12}}
	defer old.CloseIdleConnections()
	if _, err := (&http.Client{Transport: old}).Get(url + "/health"); err == nil {
		t.Fatal("TLS 1.2 accepted")
	}
}

func writeSelfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

// The admin API creates a key that the same server then accepts.
func TestServeAdminAPI(t *testing.T) {
	db := filepath.Join(t.TempDir(), "sota.db")
	if code, _, errOut := sota(t, "tenants", "set", "--db", db, "seed", "--tier", "solo"); code != 0 {
		t.Fatalf("tenants set: %s", errOut)
	}
	if code, _, errOut := sota(t, "keys", "create", "--db", db, "--tenant", "seed"); code != 0 {
		t.Fatalf("keys create: %s", errOut)
	}
	const token = "admin-token-0123456789"
	url, stop := startServe(t, "--backend", "fake", "--db", db, "--admin-token", token, "--key-cache-ttl", "1ms")
	defer stop()
	call := func(method, path, auth, body string) (int, map[string]any) {
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+auth)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if code, _ := call("GET", "/admin/v1/keys", "wrong", ""); code != 401 {
		t.Fatalf("admin with a wrong token: %d", code)
	}
	code, created := call("POST", "/admin/v1/keys", token, `{"tenant":"acme","tier":"team"}`)
	key, _ := created["key"].(string)
	if code != 201 || !strings.HasPrefix(key, "sk-sota-") {
		t.Fatalf("create key: %d %v", code, created)
	}
	if code, b, h := request(t, http.DefaultClient, url, key, `{"prompt":"x","max_tokens":1}`); code != 200 || h.Get("X-Ratelimit-Limit-Streams") != "10" {
		t.Fatalf("the new key: %d %s", code, b)
	}
	if code, _ := call("DELETE", "/admin/v1/keys/"+created["id"].(string), token, ""); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	time.Sleep(5 * time.Millisecond) // past the 1 ms key cache
	if code, _, _ := request(t, http.DefaultClient, url, key, `{"prompt":"x","max_tokens":1}`); code != 401 {
		t.Fatalf("revoked key: %d", code)
	}
}
