package redisslots

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/sotasystems/sota/admission"
)

func lim(streams, queue int, wait time.Duration) admission.Limits {
	return admission.Limits{Streams: streams, Queue: queue, QueueWait: wait, RetryAfter: 5 * time.Second}
}

// replica starts an Admitter (one "replica") on s, closed at the end.
func replica(t testing.TB, s *redisServer, tweak func(*Options)) *Admitter {
	t.Helper()
	o := Options{Client: s.client(t), LeaseTTL: 3 * time.Second, Poll: 100 * time.Millisecond, Probe: 50 * time.Millisecond,
		OpTimeout: 500 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)}
	if tweak != nil {
		tweak(&o)
	}
	a, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

type result struct {
	tk  *admission.Ticket
	err error
}

func admitAsync(ctx context.Context, a *Admitter, r admission.Request) <-chan result {
	ch := make(chan result, 1)
	go func() {
		tk, err := a.Admit(ctx, r)
		ch <- result{tk, err}
	}()
	return ch
}

func mustAdmit(t testing.TB, a *Admitter, r admission.Request) *admission.Ticket {
	t.Helper()
	tk, err := a.Admit(context.Background(), r)
	if err != nil {
		t.Fatalf("admit %+v: %v", r, err)
	}
	return tk
}

// eventually polls cond (state in Redis settles after a call returns on
// another goroutine) and fails with what after a while.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestCapQueueAndRejections(t *testing.T) {
	for _, tc := range []struct {
		name     string
		replicas int
	}{{"one replica", 1}, {"two replicas", 2}} {
		t.Run(tc.name, func(t *testing.T) {
			s := startRedis(t)
			rc := s.client(t)
			var as []*Admitter
			for range tc.replicas {
				as = append(as, replica(t, s, nil))
			}
			at := func(i int) *Admitter { return as[i%len(as)] }
			a := as[0]
			run, queue := a.keys("acme")[0], a.keys("acme")[1]
			r := admission.Request{Tenant: "acme", Limits: lim(3, 1, 500*time.Millisecond), Class: admission.Medium}
			var held []*admission.Ticket
			for i := range 3 {
				tk := mustAdmit(t, at(i), r)
				if tk.InUse != i+1 {
					t.Errorf("ticket %d: InUse = %d, want %d", i, tk.InUse, i+1)
				}
				held = append(held, tk)
			}
			fourth := admitAsync(context.Background(), at(3), r)
			eventually(t, "the fourth to queue", func() bool { return zcard(t, rc, queue) == 1 })
			if n := zcard(t, rc, run); n != 3 {
				t.Fatalf("running = %d, want 3", n)
			}
			// Queue full: the fifth is refused at once, from any replica.
			_, err := at(4).Admit(context.Background(), r)
			var rej *admission.Rejection
			if !errors.As(err, &rej) || !errors.Is(err, admission.ErrQueueFull) {
				t.Fatalf("fifth: err = %v, want ErrQueueFull", err)
			}
			if rej.RetryAfter != 5*time.Second || rej.Tenant != "acme" || rej.Limits != r.Limits {
				t.Errorf("rejection = %+v, want the tier's 5s without history", rej)
			}
			// Another tenant is unaffected.
			mustAdmit(t, at(1), admission.Request{Tenant: "beta", Limits: lim(1, 0, time.Second)}).Release()
			// A release (on replica 0) hands the slot to the waiter (on
			// the last replica).
			held[0].Release()
			held[0].Release() // idempotent
			res := <-fourth
			if res.err != nil {
				t.Fatalf("fourth: %v", res.err)
			}
			if n, q := zcard(t, rc, run), zcard(t, rc, queue); n != 3 || q != 0 {
				t.Fatalf("running %d, queued %d; want 3, 0", n, q)
			}
			// No slot within QueueWait: a 408.
			start := time.Now()
			_, err = at(1).Admit(context.Background(), r)
			if !errors.Is(err, admission.ErrQueueTimeout) {
				t.Fatalf("err = %v, want ErrQueueTimeout", err)
			}
			if waited := time.Since(start); waited < r.Limits.QueueWait {
				t.Errorf("timed out after %v, want >= %v", waited, r.Limits.QueueWait)
			}
			if q := zcard(t, rc, queue); q != 0 {
				t.Errorf("a timed-out waiter stayed queued (%d)", q)
			}
			for _, tk := range append(held[1:], res.tk) {
				tk.Release()
			}
			if n := zcard(t, rc, run); n != 0 {
				t.Fatalf("%d leases after all released", n)
			}
		})
	}
}

func TestQueueOrderClassThenArrival(t *testing.T) {
	s := startRedis(t)
	rc := s.client(t)
	as := []*Admitter{replica(t, s, nil), replica(t, s, nil)}
	l := lim(1, 10, time.Minute)
	holder := mustAdmit(t, as[0], admission.Request{Tenant: "a", Limits: l})
	order := []admission.Class{admission.Slow, admission.Medium, admission.Fast, admission.Medium, admission.Ludicrous, admission.Slow}
	var mu sync.Mutex
	var got []int
	var wg sync.WaitGroup
	queue := as[0].keys("a")[1]
	for i, cl := range order {
		wg.Go(func() {
			tk, err := as[i%2].Admit(context.Background(), admission.Request{Tenant: "a", Limits: l, Class: cl})
			if err != nil {
				t.Errorf("admit %d: %v", i, err)
				return
			}
			mu.Lock()
			got = append(got, i)
			mu.Unlock()
			tk.Release()
		})
		// Arrival order is the loop's.
		eventually(t, "waiter to queue", func() bool { return zcard(t, rc, queue) == i+1 })
	}
	holder.Release()
	wg.Wait()
	if want := []int{4, 2, 1, 3, 0, 5}; !slices.Equal(got, want) {
		t.Fatalf("grant order %v, want %v (class, then arrival)", got, want)
	}
}

func TestWaiterThatLeavesFreesItsPlace(t *testing.T) {
	s := startRedis(t)
	rc := s.client(t)
	a, b := replica(t, s, nil), replica(t, s, nil)
	l := lim(1, 1, time.Minute)
	queue := a.keys("a")[1]
	holder := mustAdmit(t, a, admission.Request{Tenant: "a", Limits: l})
	ctx, cancel := context.WithCancel(context.Background())
	gone := admitAsync(ctx, b, admission.Request{Tenant: "a", Limits: l})
	eventually(t, "waiter to queue", func() bool { return zcard(t, rc, queue) == 1 })
	cancel()
	if res := <-gone; !errors.Is(res.err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", res.err)
	}
	// Its place is free at once: nothing left in Redis, another may queue.
	if q := zcard(t, rc, queue); q != 0 {
		t.Fatalf("queued = %d after the waiter left, want 0", q)
	}
	next := admitAsync(context.Background(), a, admission.Request{Tenant: "a", Limits: l})
	eventually(t, "next to queue", func() bool { return zcard(t, rc, queue) == 1 })
	holder.Release()
	res := <-next
	if res.err != nil {
		t.Fatal(res.err)
	}
	res.tk.Release()
	if n := zcard(t, rc, a.keys("a")[0]); n != 0 {
		t.Fatalf("%d leases left", n)
	}
}

func TestRetryAfterEstimatesTheQueue(t *testing.T) {
	s := startRedis(t)
	rc := s.client(t)
	a := replica(t, s, nil)
	l := lim(2, 2, time.Minute)
	r := admission.Request{Tenant: "a", Limits: l}
	// History: streams held 200 ms each.
	for range 3 {
		tk := mustAdmit(t, a, r)
		time.Sleep(200 * time.Millisecond)
		tk.Release()
	}
	x, y := mustAdmit(t, a, r), mustAdmit(t, a, r)
	w1, w2 := admitAsync(context.Background(), a, r), admitAsync(context.Background(), a, r)
	eventually(t, "two waiters", func() bool { return zcard(t, rc, a.keys("a")[1]) == 2 })
	_, err := a.Admit(context.Background(), r)
	var rej *admission.Rejection
	if !errors.As(err, &rej) {
		t.Fatalf("err = %v, want a rejection", err)
	}
	// Third in line, two slots, ~200 ms per stream: ~300 ms.
	if rej.RetryAfter < 300*time.Millisecond || rej.RetryAfter > 400*time.Millisecond {
		t.Errorf("RetryAfter = %v, want about 300ms", rej.RetryAfter)
	}
	x.Release()
	y.Release()
	for _, w := range []<-chan result{w1, w2} {
		res := <-w
		if res.err != nil {
			t.Fatal(res.err)
		}
		res.tk.Release()
	}
}

func TestDeadReplicaLeasesExpire(t *testing.T) {
	s := startRedis(t)
	rc := s.client(t)
	const ttl = 600 * time.Millisecond
	fast := func(o *Options) { o.LeaseTTL = ttl }
	dead, alive := replica(t, s, fast), replica(t, s, fast)
	run, queue := alive.keys("a")[0], alive.keys("a")[1]
	l := lim(2, 2, time.Minute)
	r := admission.Request{Tenant: "a", Limits: l}
	mustAdmit(t, dead, r)
	mustAdmit(t, dead, r)
	deadWaiter := admitAsync(context.Background(), dead, r)
	eventually(t, "the dead replica's waiter to queue", func() bool { return zcard(t, rc, queue) == 1 })

	// While the replica lives, renewal keeps its leases well past the TTL.
	time.Sleep(3 * ttl)
	if n := zcard(t, rc, run); n != 2 {
		t.Fatalf("running = %d after 3 TTLs with renewal, want 2", n)
	}

	// The replica dies without releasing anything: its slots and its
	// queue place go within the TTL, and the other replica is served.
	dead.abandon()
	if res := <-deadWaiter; !errors.Is(res.err, ErrClosed) { // (a waiter that dies: the next test)
		t.Fatalf("dead replica's waiter: %v, want ErrClosed", res.err)
	}
	died := time.Now()
	var tks []*admission.Ticket
	for range 2 {
		tks = append(tks, mustAdmit(t, alive, r))
	}
	if waited := time.Since(died); waited > ttl+time.Second {
		t.Errorf("a dead replica's slots came free after %v, want within the TTL %v (+ a poll)", waited, ttl)
	}
	t.Logf("dead replica's slots free after %v (TTL %v)", time.Since(died), ttl)
	if n, q := zcard(t, rc, run), zcard(t, rc, queue); n != 2 || q != 0 {
		t.Fatalf("running %d, queued %d; want 2 (the live replica's), 0", n, q)
	}
	for _, tk := range tks {
		tk.Release()
	}
}

func TestDeadReplicaWaiterLeavesTheQueue(t *testing.T) {
	s := startRedis(t)
	rc := s.client(t)
	const ttl = 600 * time.Millisecond
	dead := replica(t, s, func(o *Options) { o.LeaseTTL = ttl })
	run, queue := dead.keys("a")[0], dead.keys("a")[1]
	r := admission.Request{Tenant: "a", Limits: lim(1, 1, time.Minute)}
	mustAdmit(t, dead, r)
	// A waiter queued by hand, as a replica that died waiting leaves it:
	// no one renews its heartbeat.
	ctx := context.Background()
	if err := rc.ZAdd(ctx, queue, redis.Z{Score: 1, Member: "ghost"}).Err(); err != nil {
		t.Fatal(err)
	}
	tm, _ := rc.Time(ctx).Result()
	if err := rc.ZAdd(ctx, dead.keys("a")[2], redis.Z{Score: float64(tm.Add(ttl).UnixMilli()), Member: "ghost"}).Err(); err != nil {
		t.Fatal(err)
	}
	dead.abandon()
	live := replica(t, s, nil)
	// At first the ghost fills the queue (429); within the TTL its place
	// comes free and a new request queues, then gets the dead holder's slot.
	died := time.Now()
	var tk *admission.Ticket
	for {
		var err error
		if tk, err = live.Admit(ctx, r); err == nil {
			break
		}
		if !errors.Is(err, admission.ErrQueueFull) {
			t.Fatal(err)
		}
		if time.Since(died) > ttl+time.Second {
			t.Fatalf("the dead replica's waiter still fills the queue after %v (TTL %v)", time.Since(died), ttl)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n, q := zcard(t, rc, run), zcard(t, rc, queue); n != 1 || q != 0 {
		t.Fatalf("running %d, queued %d; want 1, 0", n, q)
	}
	tk.Release()
}

// TestRandomizedTwoReplicas drives two replicas on one Redis at random and
// checks, after every operation, that Redis's leases are exactly the
// tickets held and never above the cap.
func TestRandomizedTwoReplicas(t *testing.T) {
	s := startRedis(t)
	rc := s.client(t)
	as := []*Admitter{replica(t, s, nil), replica(t, s, nil)}
	caps := map[string]int{"a": 1, "b": 3, "c": 5}
	tenants := []string{"a", "b", "c"}
	held := map[string][]*admission.Ticket{}
	rng := rand.New(rand.NewPCG(1, 2))
	for op := range 600 {
		tenant := tenants[rng.IntN(len(tenants))]
		a := as[rng.IntN(2)]
		switch {
		case rng.IntN(2) == 0 && len(held[tenant]) > 0:
			i := rng.IntN(len(held[tenant]))
			held[tenant][i].Release()
			held[tenant] = slices.Delete(held[tenant], i, i+1)
		case rng.IntN(4) == 0:
			// A waiter that gives up after a moment (queue 1).
			ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(3))*time.Millisecond)
			tk, err := a.Admit(ctx, admission.Request{Tenant: tenant, Limits: lim(caps[tenant], 1, time.Minute),
				Class: admission.Class(rng.IntN(4))})
			cancel()
			if err == nil {
				held[tenant] = append(held[tenant], tk)
			}
		default:
			tk, err := a.Admit(context.Background(), admission.Request{Tenant: tenant, Limits: lim(caps[tenant], 0, time.Minute)})
			switch {
			case err == nil:
				held[tenant] = append(held[tenant], tk)
			case !errors.Is(err, admission.ErrQueueFull):
				t.Fatalf("op %d: %v", op, err)
			case len(held[tenant]) < caps[tenant]:
				t.Fatalf("op %d: refused with %d of %d held", op, len(held[tenant]), caps[tenant])
			}
		}
		for _, tn := range tenants {
			n := zcard(t, rc, as[0].keys(tn)[0])
			if n != len(held[tn]) || n > caps[tn] {
				t.Fatalf("op %d: tenant %s has %d leases in Redis, %d tickets held, cap %d", op, tn, n, len(held[tn]), caps[tn])
			}
			if q := zcard(t, rc, as[0].keys(tn)[1]); q != 0 {
				t.Fatalf("op %d: tenant %s has %d queued after every waiter returned", op, tn, q)
			}
		}
	}
	for _, tks := range held {
		for _, tk := range tks {
			tk.Release()
		}
	}
}

// countingHandler counts log records by level.
type countingHandler struct {
	mu sync.Mutex
	n  map[slog.Level]int
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.n[r.Level]++
	h.mu.Unlock()
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }
func (h *countingHandler) count(l slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.n[l]
}

func TestFallbackWhileRedisIsDownThenRecovery(t *testing.T) {
	s := startRedis(t)
	rc := s.client(t)
	logs := &countingHandler{n: map[slog.Level]int{}}
	a := replica(t, s, func(o *Options) { o.Logger = slog.New(logs); o.FallbackStreams = 1 })
	run := a.keys("a")[0]
	r := admission.Request{Tenant: "a", Limits: lim(3, 0, time.Minute)}
	shared := mustAdmit(t, a, r)

	s.stop() // outage
	// Fallback: at most FallbackStreams in this replica, not the tier's 3.
	local := mustAdmit(t, a, r)
	if !a.Degraded() {
		t.Fatal("not degraded with Redis down")
	}
	for range 3 {
		if _, err := a.Admit(context.Background(), r); !errors.Is(err, admission.ErrQueueFull) {
			t.Fatalf("second stream in fallback: err = %v, want ErrQueueFull (local cap 1)", err)
		}
	}
	if n := logs.count(slog.LevelError); n != 1 {
		t.Errorf("%d Error logs for one outage, want 1", n)
	}
	local.Release() // locally
	local = mustAdmit(t, a, r)
	local.Release()

	s.start() // recovery, empty
	eventually(t, "recovery", func() bool { return !a.Degraded() })
	if n := logs.count(slog.LevelInfo); n != 1 {
		t.Errorf("%d Info logs for one recovery, want 1", n)
	}
	// The lease held across the outage came back (the tenant had room).
	if n := zcard(t, rc, run); n != 1 {
		t.Fatalf("running = %d after recovery, want 1 (the lease held across the outage)", n)
	}
	a2, a3 := mustAdmit(t, a, r), mustAdmit(t, a, r)
	if n := zcard(t, rc, run); n != 3 {
		t.Fatalf("running = %d, want 3", n)
	}
	if _, err := a.Admit(context.Background(), r); !errors.Is(err, admission.ErrQueueFull) {
		t.Fatalf("fourth: err = %v, want ErrQueueFull (shared cap 3 again)", err)
	}
	for _, tk := range []*admission.Ticket{shared, a2, a3} {
		tk.Release()
	}
	if n := zcard(t, rc, run); n != 0 {
		t.Fatalf("running = %d after all released", n)
	}
}

func TestWaiterMovesToFallbackWhenRedisGoesDown(t *testing.T) {
	s := startRedis(t)
	rc := s.client(t)
	a := replica(t, s, nil)
	r := admission.Request{Tenant: "a", Limits: lim(1, 1, 2*time.Second)}
	holder := mustAdmit(t, a, r)
	w := admitAsync(context.Background(), a, r)
	eventually(t, "waiter to queue", func() bool { return zcard(t, rc, a.keys("a")[1]) == 1 })
	s.stop()
	// Its next poll fails: it admits locally (nothing held locally).
	res := <-w
	if res.err != nil {
		t.Fatalf("waiter: %v", res.err)
	}
	res.tk.Release()
	holder.Release() // Redis is down: logged, expires by itself
}

func TestCloseReleasesAllAndLeaksNothing(t *testing.T) {
	s := startRedis(t)
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	rc := s.client(t)
	c := redis.NewClient(&redis.Options{Addr: s.addr()})
	a, err := New(context.Background(), Options{Client: c, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	r := admission.Request{Tenant: "a", Limits: lim(2, 1, time.Minute)}
	mustAdmit(t, a, r)
	last := mustAdmit(t, a, r)
	w := admitAsync(context.Background(), a, r)
	eventually(t, "waiter to queue", func() bool { return zcard(t, rc, a.keys("a")[1]) == 1 })
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if res := <-w; !errors.Is(res.err, ErrClosed) {
		t.Fatalf("waiter at Close: %v, want ErrClosed", res.err)
	}
	if n, q := zcard(t, rc, a.keys("a")[0]), zcard(t, rc, a.keys("a")[1]); n != 0 || q != 0 {
		t.Fatalf("after Close: %d leases, %d queued; want none", n, q)
	}
	last.Release() // a no-op after Close
	if _, err := a.Admit(context.Background(), r); !errors.Is(err, ErrClosed) {
		t.Fatalf("Admit after Close: %v", err)
	}
	_ = c.Close()
}

func TestSnapshot(t *testing.T) {
	s := startRedis(t)
	a, b := replica(t, s, nil), replica(t, s, nil)
	r := admission.Request{Tenant: "a", Limits: lim(2, 0, time.Minute)}
	x := mustAdmit(t, a, r)
	y := mustAdmit(t, b, r)
	got := a.Snapshot()
	if len(got) != 1 || got[0].Tenant != "a" || got[0].Running != 2 || got[0].Limits != r.Limits {
		t.Fatalf("snapshot = %+v, want tenant a with 2 running across replicas", got)
	}
	x.Release()
	y.Release()
	if got := a.Snapshot(); len(got) != 0 {
		t.Fatalf("snapshot after release = %+v, want none", got)
	}
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		ok   bool
	}{
		{"no client", Options{}, false},
		{"defaults", Options{Client: redis.NewClient(&redis.Options{})}, true},
		{"short ttl", Options{Client: redis.NewClient(&redis.Options{}), LeaseTTL: time.Millisecond}, false},
		{"negative fallback", Options{Client: redis.NewClient(&redis.Options{}), FallbackStreams: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.defaults()
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok %v", err, tc.ok)
			}
			if tc.ok && (tc.o.LeaseTTL != DefaultLeaseTTL || tc.o.FallbackStreams != 1 || tc.o.Poll != DefaultPoll) {
				t.Errorf("defaults not applied: %+v", tc.o)
			}
			if tc.o.Client != nil {
				_ = tc.o.Client.Close()
			}
		})
	}
}
