package admission

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func solo(streams, queue int, wait time.Duration) Limits {
	return Limits{Streams: streams, Queue: queue, QueueWait: wait, RetryAfter: 5 * time.Second}
}

// admitAsync starts an Admit and returns where its result lands.
type result struct {
	tk  *Ticket
	err error
}

func admitAsync(ctx context.Context, c *Controller, r Request) <-chan result {
	ch := make(chan result, 1)
	go func() {
		tk, err := c.Admit(ctx, r)
		ch <- result{tk, err}
	}()
	return ch
}

func mustAdmit(t *testing.T, c *Controller, r Request) *Ticket {
	t.Helper()
	tk, err := c.Admit(context.Background(), r)
	if err != nil {
		t.Fatalf("admit %+v: %v", r, err)
	}
	return tk
}

func TestCapQueueAndRejections(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewController(nil)
		r := Request{Tenant: "acme", Limits: solo(3, 1, 2*time.Second), Class: Medium}
		var held []*Ticket
		for range 3 {
			held = append(held, mustAdmit(t, c, r))
		}
		fourth := admitAsync(context.Background(), c, r)
		synctest.Wait()
		if st := c.State("acme"); st.Running != 3 || st.Queued != 1 {
			t.Fatalf("state = %+v, want 3 running, 1 queued", st)
		}
		// Queue full: the fifth is refused at once.
		_, err := c.Admit(context.Background(), r)
		var rej *Rejection
		if !errors.As(err, &rej) || !errors.Is(err, ErrQueueFull) {
			t.Fatalf("fifth: err = %v, want ErrQueueFull", err)
		}
		if rej.RetryAfter != 5*time.Second {
			t.Errorf("RetryAfter without history = %v, want the tier's 5s", rej.RetryAfter)
		}
		// Another tenant is unaffected.
		other := mustAdmit(t, c, Request{Tenant: "beta", Limits: solo(1, 0, time.Second)})
		other.Release()
		// A release hands the slot to the waiter.
		held[0].Release()
		held[0].Release() // idempotent
		res := <-fourth
		if res.err != nil {
			t.Fatalf("fourth: %v", res.err)
		}
		if st := c.State("acme"); st.Running != 3 || st.Queued != 0 {
			t.Fatalf("state = %+v, want 3 running, 0 queued", st)
		}
		// A waiter that gets no slot within QueueWait gets a 408.
		start := time.Now()
		_, err = c.Admit(context.Background(), r)
		if !errors.Is(err, ErrQueueTimeout) {
			t.Fatalf("err = %v, want ErrQueueTimeout", err)
		}
		if waited := time.Since(start); waited != 2*time.Second {
			t.Errorf("timed out after %v, want 2s", waited)
		}
		for _, tk := range append(held[1:], res.tk) {
			tk.Release()
		}
		if n := len(c.Snapshot()); n != 0 {
			t.Fatalf("%d tenants live after all released", n)
		}
	})
}

func TestQueueOrderClassThenArrival(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewController(nil)
		lim := solo(1, 10, time.Minute)
		holder := mustAdmit(t, c, Request{Tenant: "a", Limits: lim})
		order := []Class{Slow, Medium, Fast, Medium, Ludicrous, Slow}
		var mu sync.Mutex
		var got []int
		var wg sync.WaitGroup
		for i, cl := range order {
			wg.Go(func() {
				tk, err := c.Admit(context.Background(), Request{Tenant: "a", Limits: lim, Class: cl})
				if err != nil {
					t.Errorf("admit %d: %v", i, err)
					return
				}
				mu.Lock()
				got = append(got, i)
				mu.Unlock()
				tk.Release()
			})
			synctest.Wait() // arrival order is the loop's
		}
		holder.Release()
		wg.Wait()
		want := []int{4, 2, 1, 3, 0, 5}
		if len(got) != len(want) {
			t.Fatalf("got %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("grant order %v, want %v (class, then arrival)", got, want)
			}
		}
	})
}

func TestWaiterThatLeavesFreesItsPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewController(nil)
		lim := solo(1, 1, time.Minute)
		holder := mustAdmit(t, c, Request{Tenant: "a", Limits: lim})
		ctx, cancel := context.WithCancel(context.Background())
		gone := admitAsync(ctx, c, Request{Tenant: "a", Limits: lim})
		synctest.Wait()
		cancel()
		if res := <-gone; !errors.Is(res.err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", res.err)
		}
		// Its place is free at once: another may queue.
		next := admitAsync(context.Background(), c, Request{Tenant: "a", Limits: lim})
		synctest.Wait()
		if st := c.State("a"); st.Queued != 1 {
			t.Fatalf("queued = %d, want 1", st.Queued)
		}
		holder.Release()
		res := <-next
		if res.err != nil {
			t.Fatal(res.err)
		}
		res.tk.Release()
		if n := len(c.Snapshot()); n != 0 {
			t.Fatalf("%d tenants live", n)
		}
	})
}

func TestRetryAfterEstimatesTheQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewController(nil)
		lim := solo(2, 2, time.Minute)
		// History: streams held 4 s each.
		for range 3 {
			tk := mustAdmit(t, c, Request{Tenant: "a", Limits: lim})
			time.Sleep(4 * time.Second)
			tk.Release()
		}
		a := mustAdmit(t, c, Request{Tenant: "a", Limits: lim})
		b := mustAdmit(t, c, Request{Tenant: "a", Limits: lim})
		w1 := admitAsync(context.Background(), c, Request{Tenant: "a", Limits: lim})
		w2 := admitAsync(context.Background(), c, Request{Tenant: "a", Limits: lim})
		synctest.Wait()
		_, err := c.Admit(context.Background(), Request{Tenant: "a", Limits: lim})
		var rej *Rejection
		if !errors.As(err, &rej) {
			t.Fatalf("err = %v, want a rejection", err)
		}
		// Third in line, two slots, 4 s per stream: 6 s.
		if rej.RetryAfter != 6*time.Second || RetrySeconds(rej.RetryAfter) != 6 {
			t.Errorf("RetryAfter = %v, want 6s", rej.RetryAfter)
		}
		a.Release()
		b.Release()
		for _, w := range []<-chan result{w1, w2} {
			r := <-w
			r.tk.Release()
		}
	})
}

func TestRaisedLimitGrantsSeveral(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewController(nil)
		low := solo(1, 5, time.Minute)
		holder := mustAdmit(t, c, Request{Tenant: "a", Limits: low})
		w1 := admitAsync(context.Background(), c, Request{Tenant: "a", Limits: low})
		w2 := admitAsync(context.Background(), c, Request{Tenant: "a", Limits: low})
		synctest.Wait()
		// The operator raises the tenant to 3 streams; the next request
		// carries the new limit, and a release fills every free slot.
		high := solo(3, 5, time.Minute)
		w3 := admitAsync(context.Background(), c, Request{Tenant: "a", Limits: high})
		synctest.Wait()
		holder.Release()
		for _, w := range []<-chan result{w1, w2, w3} {
			r := <-w
			if r.err != nil {
				t.Fatal(r.err)
			}
			defer r.tk.Release()
		}
		if st := c.State("a"); st.Running != 3 {
			t.Fatalf("running = %d, want 3", st.Running)
		}
	})
}

func TestReleaseOnPanic(t *testing.T) {
	c := NewController(nil)
	lim := solo(1, 0, time.Second)
	func() {
		defer func() { _ = recover() }()
		tk := mustAdmit(t, c, Request{Tenant: "a", Limits: lim})
		defer tk.Release()
		panic("handler failed")
	}()
	mustAdmit(t, c, Request{Tenant: "a", Limits: lim}).Release()
	if n := len(c.Snapshot()); n != 0 {
		t.Fatalf("%d tenants live", n)
	}
}

func TestAdmitValidates(t *testing.T) {
	c := NewController(nil)
	if _, err := c.Admit(context.Background(), Request{Tenant: "a"}); err == nil {
		t.Fatal("streams = 0 admitted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Admit(ctx, Request{Tenant: "a", Limits: solo(1, 0, 0)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
}

// TestRandomizedNoLeak drives many tenants through random admits, cancels,
// timeouts and releases, checking after every step that the slots in use
// equal the tickets held and never exceed the cap.
func TestRandomizedNoLeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewController(nil)
		rng := rand.New(rand.NewPCG(1, 2))
		tenants := []string{"a", "b", "c"}
		lim := map[string]Limits{"a": solo(1, 2, 3*time.Second), "b": solo(2, 0, time.Second), "c": solo(3, 4, 0)}
		var (
			mu   sync.Mutex
			held = map[string][]*Ticket{}
			wg   sync.WaitGroup
		)
		cancels := []context.CancelFunc{}
		check := func(step int) {
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			for _, tn := range tenants {
				st := c.State(tn)
				if st.Running != len(held[tn]) {
					t.Fatalf("step %d tenant %s: running %d, tickets held %d", step, tn, st.Running, len(held[tn]))
				}
				if st.Running > lim[tn].Streams || st.Queued > lim[tn].Queue {
					t.Fatalf("step %d tenant %s: %+v over %+v", step, tn, st, lim[tn])
				}
			}
		}
		for step := range 2000 {
			tn := tenants[rng.IntN(len(tenants))]
			switch op := rng.IntN(10); {
			case op < 5: // admit
				ctx, cancel := context.WithCancel(context.Background())
				cancels = append(cancels, cancel)
				cl := Class(rng.IntN(4))
				wg.Go(func() {
					tk, err := c.Admit(ctx, Request{Tenant: tn, Limits: lim[tn], Class: cl})
					if err != nil {
						return
					}
					mu.Lock()
					held[tn] = append(held[tn], tk)
					mu.Unlock()
				})
			case op < 8: // release one
				mu.Lock()
				if h := held[tn]; len(h) > 0 {
					i := rng.IntN(len(h))
					tk := h[i]
					held[tn] = append(h[:i], h[i+1:]...)
					mu.Unlock()
					tk.Release()
				} else {
					mu.Unlock()
				}
			case op < 9: // a waiting client goes away
				if len(cancels) > 0 {
					i := rng.IntN(len(cancels))
					cancels[i]()
				}
			default: // time passes: queued requests may time out
				time.Sleep(time.Duration(rng.IntN(2000)) * time.Millisecond)
			}
			check(step)
		}
		for _, cancel := range cancels {
			cancel()
		}
		synctest.Wait()
		mu.Lock()
		for _, h := range held {
			for _, tk := range h {
				tk.Release()
			}
		}
		mu.Unlock()
		wg.Wait()
		if s := c.Snapshot(); len(s) != 0 {
			t.Fatalf("live after all released: %+v", s)
		}
	})
}

func BenchmarkAdmitRelease(b *testing.B) {
	c := NewController(nil)
	lim := solo(1<<30, 0, 0)
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			tk, err := c.Admit(ctx, Request{Tenant: "a", Limits: lim})
			if err != nil {
				b.Fatal(err)
			}
			tk.Release()
		}
	})
}

// BenchmarkAdmitDecision is the admission decision's own cost under
// contention: 100 tenants with free slots, every goroutine admitting and
// releasing; it reports the p50 and p99 of one Admit.
func BenchmarkAdmitDecision(b *testing.B) {
	c := NewController(nil)
	lim := solo(1<<20, 0, 0)
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("tenant-%03d", i)
	}
	var mu sync.Mutex
	var all []time.Duration
	var next atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		var lat []time.Duration
		i := int(next.Add(1))
		for pb.Next() {
			t0 := time.Now()
			tk, err := c.Admit(ctx, Request{Tenant: names[i%len(names)], Limits: lim})
			lat = append(lat, time.Since(t0))
			if err != nil {
				b.Error(err)
				return
			}
			tk.Release()
			i++
		}
		mu.Lock()
		all = append(all, lat...)
		mu.Unlock()
	})
	slices.Sort(all)
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)/2].Nanoseconds()), "p50-ns")
		b.ReportMetric(float64(all[len(all)*99/100].Nanoseconds()), "p99-ns")
	}
}
