package redisslots

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sotasystems/sota/admission"
)

// Defaults of Options.
const (
	DefaultPrefix          = "sota:adm:"
	DefaultLeaseTTL        = 15 * time.Second
	DefaultFallbackStreams = 1
	DefaultPoll            = 250 * time.Millisecond
	DefaultOpTimeout       = time.Second
	DefaultProbe           = time.Second
)

// ErrClosed is an Admit on (or waiting through) a closed Admitter.
var ErrClosed = errors.New("redis admission: closed")

// Options configure an Admitter. Zero fields take the defaults above.
type Options struct {
	Client redis.UniversalClient // required; the caller closes it after Admitter.Close
	Prefix string                // of every key and of the wake channel
	// LeaseTTL bounds how long a dead replica's slots stay taken; leases
	// and waiter heartbeats are renewed every LeaseTTL/3.
	LeaseTTL time.Duration
	// FallbackStreams is each tenant's cap in THIS replica while Redis is
	// out of reach (min with the tenant's own limit): during an outage the
	// fleet admits at most replicas × FallbackStreams per tenant.
	FallbackStreams int
	Poll            time.Duration // a waiter's check when no wake-up came
	OpTimeout       time.Duration // one Redis round trip
	Probe           time.Duration // how often to try Redis while it is out of reach
	Logger          *slog.Logger
}

func (o *Options) defaults() error {
	if o.Client == nil {
		return errors.New("redis admission: no client")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.LeaseTTL, DefaultLeaseTTL)
	def(&o.Poll, DefaultPoll)
	def(&o.OpTimeout, DefaultOpTimeout)
	def(&o.Probe, DefaultProbe)
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.FallbackStreams == 0 {
		o.FallbackStreams = DefaultFallbackStreams
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	switch {
	case o.LeaseTTL < 30*time.Millisecond:
		return fmt.Errorf("redis admission: lease TTL %v, want >= 30ms", o.LeaseTTL)
	case o.FallbackStreams < 1:
		return fmt.Errorf("redis admission: fallback streams %d, want >= 1", o.FallbackStreams)
	case o.Poll < 0 || o.OpTimeout < 0 || o.Probe < 0:
		return errors.New("redis admission: negative interval")
	}
	return nil
}

// Admitter hands out stream slots shared by every replica on one Redis. It
// implements admission.Admitter and is safe for concurrent use.
type Admitter struct {
	client  redis.UniversalClient
	opts    Options
	log     *slog.Logger
	channel string // where grants are published
	replica string // prefix of this process's ticket ids
	seq     atomic.Uint64
	local   *admission.Controller // the fallback while Redis is out of reach
	down    atomic.Bool           // Redis is out of reach: admit locally

	mu      sync.Mutex
	held    map[string]*entry // leases held by this process, by ticket id
	waiting map[string]*entry // this process's waiters in Redis queues
	tenants map[string]admission.Limits
	closed  bool

	ctx      context.Context // ends at Close: waiters leave, loops stop
	cancel   context.CancelFunc
	loops    sync.WaitGroup
	inflight sync.WaitGroup // Admit calls, waited for by Close
	ps       *redis.PubSub
}

// entry is one ticket id of this process's: a waiter, then a lease.
type entry struct {
	tenant  string
	keys    []string
	limits  admission.Limits
	wake    chan struct{} // a grant was published for it (buffered 1)
	granted time.Time     // when it became a lease (for the hold EWMA)
	lost    bool          // the renewer could not keep its lease (logged once)
}

// New starts an Admitter: its wake-up subscription and its renewer. When
// Redis does not answer, it starts in fallback mode (logged) and recovers
// when Redis comes back.
func New(ctx context.Context, o Options) (*Admitter, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	var rnd [6]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("redis admission: replica id: %w", err)
	}
	a := &Admitter{client: o.Client, opts: o, log: o.Logger, channel: o.Prefix + "wake",
		replica: hex.EncodeToString(rnd[:]), local: admission.NewController(nil),
		held: map[string]*entry{}, waiting: map[string]*entry{}, tenants: map[string]admission.Limits{}}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	pctx, cancel := context.WithTimeout(ctx, o.OpTimeout)
	err := a.client.Ping(pctx).Err()
	cancel()
	if err != nil {
		a.markDown(fmt.Errorf("ping at startup: %w", err))
	}
	a.ps = a.client.Subscribe(a.ctx, a.channel)
	wakes := a.ps.Channel()
	a.loops.Add(2)
	go func() {
		defer a.loops.Done()
		for m := range wakes {
			for _, id := range strings.Fields(m.Payload) {
				a.wake(id)
			}
		}
	}()
	go func() {
		defer a.loops.Done()
		a.maintain()
	}()
	return a, nil
}

// tagEscaper keeps a tenant name from ending the {hash tag} early.
var tagEscaper = strings.NewReplacer("%", "%25", "{", "%7B", "}", "%7D")

func (a *Admitter) keys(tenant string) []string {
	base := a.opts.Prefix + "{" + tagEscaper.Replace(tenant) + "}:"
	return []string{base + "run", base + "queue", base + "wait", base + "meta"}
}

// call runs one script with the wake channel as ARGV[1]. It is detached
// from the caller's context on purpose: a script whose reply we stopped
// reading may still have taken a lease or a queue place we would not know
// of; OpTimeout bounds it instead.
func (a *Admitter) call(s *redis.Script, keys []string, args ...any) *redis.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), a.opts.OpTimeout)
	defer cancel()
	return s.Run(ctx, a.client, keys, append([]any{a.channel}, args...)...)
}

// Admit takes a slot of r.Tenant's across all replicas, waiting in the
// tenant's shared queue when all are in use. It returns a
// *admission.Rejection (ErrQueueFull at once, ErrQueueTimeout after
// r.Limits.QueueWait), ctx's error, or ErrClosed. While Redis is out of
// reach it admits from the local fallback controller.
func (a *Admitter) Admit(ctx context.Context, r admission.Request) (*admission.Ticket, error) {
	if r.Limits.Streams < 1 {
		return nil, fmt.Errorf("redis admission: tenant %s: streams = %d, want >= 1", r.Tenant, r.Limits.Streams)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return nil, ErrClosed
	}
	a.inflight.Add(1)
	defer a.inflight.Done()
	a.tenants[r.Tenant] = r.Limits
	a.mu.Unlock()
	r.Class = min(max(r.Class, admission.Slow), admission.Ludicrous)
	if a.down.Load() {
		return a.admitLocal(ctx, r, r.Limits.QueueWait)
	}
	return a.admitShared(ctx, r)
}

func (a *Admitter) admitShared(ctx context.Context, r admission.Request) (*admission.Ticket, error) {
	start := time.Now()
	id := a.replica + "-" + strconv.FormatUint(a.seq.Add(1), 36)
	e := &entry{tenant: r.Tenant, keys: a.keys(r.Tenant), limits: r.Limits, wake: make(chan struct{}, 1)}
	// Registered before the script runs: a grant's publish may arrive
	// before the script's reply.
	a.mu.Lock()
	a.waiting[id] = e
	a.mu.Unlock()

	var timeout <-chan time.Time
	if r.Limits.QueueWait > 0 {
		t := time.NewTimer(r.Limits.QueueWait)
		defer t.Stop()
		timeout = t.C
	}
	var poll *time.Ticker
	script, args := acquireScript, []any{id, r.Limits.Streams, r.Limits.Queue, int(r.Class), a.opts.LeaseTTL.Milliseconds()}
	for {
		res, err := a.call(script, e.keys, args...).Int64Slice()
		if err == nil && len(res) == 0 {
			err = errors.New("empty script reply")
		}
		if err != nil {
			a.forget(id)
			a.markDown(fmt.Errorf("admit tenant %s: %w", r.Tenant, err))
			rest := time.Duration(0)
			if r.Limits.QueueWait > 0 {
				if rest = r.Limits.QueueWait - time.Since(start); rest <= 0 {
					return nil, a.timedOut(r)
				}
			}
			return a.admitLocal(ctx, r, rest) // the heartbeat of a queue place we had lapses within the TTL
		}
		switch res[0] {
		case 1:
			return a.grant(id, e, start, res[1]), nil
		case -1:
			a.forget(id)
			var queued, hold int64
			if len(res) >= 3 {
				queued, hold = res[1], res[2]
			}
			return nil, &admission.Rejection{Err: admission.ErrQueueFull, Tenant: r.Tenant, Limits: r.Limits,
				RetryAfter: expectedWait(time.Duration(hold)*time.Millisecond, int(queued)+1, r.Limits)}
		case -2:
			// Our heartbeat lapsed (a stall longer than the TTL) and the
			// queue dropped us: arrive again.
			script, args = acquireScript, []any{id, r.Limits.Streams, r.Limits.Queue, int(r.Class), a.opts.LeaseTTL.Milliseconds()}
			continue
		}
		// Queued: wait for our grant's publish, a slow poll, or the end.
		if poll == nil {
			poll = time.NewTicker(a.opts.Poll)
			defer poll.Stop()
		}
		script, args = checkScript, []any{id}
		select {
		case <-e.wake:
		case <-poll.C:
		case <-ctx.Done():
			return a.leave(id, e, r, start, ctx.Err())
		case <-timeout:
			return a.leave(id, e, r, start, a.timedOut(r))
		case <-a.ctx.Done():
			return a.leave(id, e, r, start, ErrClosed)
		}
	}
}

func (a *Admitter) timedOut(r admission.Request) error {
	return &admission.Rejection{Err: admission.ErrQueueTimeout, Tenant: r.Tenant, Limits: r.Limits, RetryAfter: r.Limits.RetryAfter}
}

// leave takes a waiter out of its queue. A grant that raced the timeout
// wins (as in admission.Controller); one that raced the caller leaving is
// passed on.
func (a *Admitter) leave(id string, e *entry, r admission.Request, start time.Time, why error) (*admission.Ticket, error) {
	res, err := a.call(leaveScript, e.keys, id).Int64()
	if err != nil {
		a.forget(id) // its heartbeat lapses within the TTL
		a.markDown(fmt.Errorf("leave the queue of tenant %s: %w", r.Tenant, err))
		return nil, why
	}
	if res != 1 {
		a.forget(id)
		return nil, why
	}
	tk := a.grant(id, e, start, int64(r.Limits.Streams))
	if errors.Is(why, admission.ErrQueueTimeout) {
		return tk, nil
	}
	tk.Release()
	return nil, why
}

// grant turns waiter id into a held lease and its ticket.
func (a *Admitter) grant(id string, e *entry, start time.Time, inUse int64) *admission.Ticket {
	now := time.Now()
	a.mu.Lock()
	delete(a.waiting, id)
	e.granted = now
	a.held[id] = e
	a.mu.Unlock()
	return admission.NewTicket(func() { a.release(id) }, now.Sub(start), e.limits, int(inUse))
}

// forget drops a waiter this process no longer follows.
func (a *Admitter) forget(id string) {
	a.mu.Lock()
	delete(a.waiting, id)
	a.mu.Unlock()
}

func (a *Admitter) wake(id string) {
	a.mu.Lock()
	e := a.waiting[id]
	a.mu.Unlock()
	if e != nil {
		select {
		case e.wake <- struct{}{}:
		default:
		}
	}
}

// release frees lease id (once: the held map is the record). When Redis
// does not answer, the lease is simply no longer renewed and expires
// within the TTL.
func (a *Admitter) release(id string) {
	a.mu.Lock()
	e := a.held[id]
	delete(a.held, id)
	a.mu.Unlock()
	if e == nil {
		return // released by Close
	}
	held := time.Since(e.granted).Milliseconds()
	if err := a.call(releaseScript, e.keys, id, held).Err(); err != nil {
		a.log.Warn("redis admission: release failed; the slot frees when its lease expires",
			"tenant", e.tenant, "lease", id, "ttl", a.opts.LeaseTTL, "err", err)
		a.markDown(fmt.Errorf("release a slot of tenant %s: %w", e.tenant, err))
	}
}

// admitLocal admits from the fallback controller: per replica, at most
// FallbackStreams per tenant, never the tenant's whole limit (which would
// multiply it by the number of replicas).
func (a *Admitter) admitLocal(ctx context.Context, r admission.Request, wait time.Duration) (*admission.Ticket, error) {
	// Close ends local waits too.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(a.ctx, cancel)
	defer stop()
	l := r.Limits
	l.Streams = min(l.Streams, a.opts.FallbackStreams)
	l.QueueWait = wait
	return a.local.Admit(ctx, admission.Request{Tenant: r.Tenant, Limits: l, Class: r.Class})
}

// expectedWait is admission.Controller's estimate: pos hand-overs at
// Streams slots per mean hold time, else the tier's RetryAfter.
func expectedWait(hold time.Duration, pos int, l admission.Limits) time.Duration {
	if hold <= 0 {
		return l.RetryAfter
	}
	return time.Duration(float64(hold) * float64(pos) / float64(l.Streams))
}

// Degraded reports whether Redis is out of reach (admitting locally).
func (a *Admitter) Degraded() bool { return a.down.Load() }

func (a *Admitter) markDown(err error) {
	if a.ctx.Err() != nil {
		return // closing: not an outage
	}
	if a.down.CompareAndSwap(false, true) {
		a.log.Error("redis admission: Redis is out of reach; admitting with the local fallback cap per replica until it answers again",
			"fallback_streams", a.opts.FallbackStreams, "err", err)
	}
}

func (a *Admitter) markUp() {
	if a.down.CompareAndSwap(true, false) {
		a.log.Info("redis admission: Redis answers again; stream caps are shared across replicas")
	}
}
