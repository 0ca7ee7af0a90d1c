package main

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWebhookClientRefusesInwardAddresses(t *testing.T) {
	tests := []struct {
		ip     string
		inward bool
	}{
		{"127.0.0.1", true}, {"::1", true}, {"10.1.2.3", true}, {"172.16.0.1", true}, {"192.168.1.1", true},
		{"169.254.169.254", true}, {"fe80::1", true}, {"fc00::1", true}, {"0.0.0.0", true}, {"100.64.0.1", true},
		{"224.0.0.1", true}, {"255.255.255.255", true},
		{"8.8.8.8", false}, {"1.1.1.1", false}, {"2606:4700:4700::1111", false}, {"100.128.0.1", false},
	}
	for _, tc := range tests {
		if got := inward(net.ParseIP(tc.ip)); got != tc.inward {
			t.Errorf("inward(%s) = %v, want %v", tc.ip, got, tc.inward)
		}
	}
	hit := false
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hit = true }))
	defer hs.Close()
	if _, err := webhookClient(false).Post(hs.URL, "application/json", nil); !errors.Is(err, errPrivateWebhook) || hit {
		t.Fatalf("a loopback webhook: err = %v, delivered %v; want refused", err, hit)
	}
	resp, err := webhookClient(true).Post(hs.URL, "application/json", nil)
	if err != nil || !hit {
		t.Fatalf("with --webhook-allow-private: %v, delivered %v", err, hit)
	}
	resp.Body.Close()
}
