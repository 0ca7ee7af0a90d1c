package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sotasystems/sota/admission"
	redisslots "github.com/sotasystems/sota/store/redis"
)

func TestRedisFlags(t *testing.T) {
	// A port with nothing listening: Redis is out of reach at startup.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "redis://127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port) + "/0"
	_ = l.Close()
	rc := &runContext{ctx: context.Background(), logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, tc := range []struct {
		name string
		f    redisFlags
		want string // "local", "redis" or an error substring
	}{
		{"unset: this process alone", redisFlags{RedisLeaseTTL: 15 * time.Second, RedisFallbackStreams: 1}, "local"},
		{"bad url", redisFlags{RedisURL: "http://x", RedisLeaseTTL: 15 * time.Second, RedisFallbackStreams: 1}, "--redis-url"},
		{"short ttl", redisFlags{RedisURL: dead, RedisLeaseTTL: time.Millisecond, RedisFallbackStreams: 1}, "--redis-lease-ttl"},
		{"no fallback", redisFlags{RedisURL: dead, RedisLeaseTTL: time.Second, RedisFallbackStreams: 0}, "--redis-fallback-streams"},
		{"unreachable starts degraded", redisFlags{RedisURL: dead, RedisLeaseTTL: time.Second, RedisFallbackStreams: 1}, "redis"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, closeA, err := tc.f.admitter(context.Background(), rc)
			switch tc.want {
			case "local":
				if _, ok := a.(*admission.Controller); !ok || err != nil {
					t.Fatalf("admitter = %T, %v; want *admission.Controller", a, err)
				}
			case "redis":
				if err != nil {
					t.Fatal(err)
				}
				ra, ok := a.(*redisslots.Admitter)
				if !ok || !ra.Degraded() {
					t.Fatalf("admitter = %T (degraded %v), want a degraded *redisslots.Admitter", a, ok && ra.Degraded())
				}
			default:
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want one naming %s", err, tc.want)
				}
				return
			}
			closeA()
		})
	}
}
