package redisslots

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sotasystems/sota/admission"
)

// maintain is the process's one background loop: every LeaseTTL/3 it
// renews all held leases and waiter heartbeats in one pipeline; while
// Redis is out of reach it probes it every Probe instead.
func (a *Admitter) maintain() {
	renew := time.NewTicker(a.opts.LeaseTTL / 3)
	defer renew.Stop()
	probe := time.NewTicker(a.opts.Probe)
	defer probe.Stop()
	for {
		select {
		case <-a.ctx.Done():
			return
		case <-renew.C:
			if !a.down.Load() {
				a.renewAll()
			}
		case <-probe.C:
			if !a.down.Load() {
				continue
			}
			ctx, cancel := context.WithTimeout(a.ctx, a.opts.OpTimeout)
			err := a.client.Ping(ctx).Err()
			cancel()
			if err == nil {
				a.markUp()
				a.renewAll() // before the leases of a long outage lapse for good
			}
		}
	}
}

// tenantRenewal is one tenant's share of a renewal.
type tenantRenewal struct {
	tenant  string
	keys    []string
	streams int
	leases  []string
	waiters []string
}

func (a *Admitter) renewals() []*tenantRenewal {
	a.mu.Lock()
	defer a.mu.Unlock()
	by := map[string]*tenantRenewal{}
	get := func(e *entry) *tenantRenewal {
		t := by[e.tenant]
		if t == nil {
			t = &tenantRenewal{tenant: e.tenant, keys: e.keys}
			by[e.tenant] = t
		}
		t.streams = max(t.streams, e.limits.Streams)
		return t
	}
	for id, e := range a.held {
		t := get(e)
		t.leases = append(t.leases, id)
	}
	for id, e := range a.waiting {
		t := get(e)
		t.waiters = append(t.waiters, id)
	}
	out := make([]*tenantRenewal, 0, len(by))
	for _, t := range by {
		out = append(out, t)
	}
	return out
}

// renewAll extends every lease and heartbeat of this process's, one
// script per tenant, all in one pipeline.
func (a *Admitter) renewAll() {
	ts := a.renewals()
	if len(ts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(a.ctx, a.opts.OpTimeout)
	defer cancel()
	lease := a.opts.LeaseTTL.Milliseconds()
	run := func() ([]*redis.Cmd, error) {
		pipe := a.client.Pipeline()
		cmds := make([]*redis.Cmd, len(ts))
		for i, t := range ts {
			args := make([]any, 0, 4+len(t.leases)+len(t.waiters))
			args = append(args, a.channel, lease, t.streams, len(t.leases))
			for _, id := range t.leases {
				args = append(args, id)
			}
			for _, id := range t.waiters {
				args = append(args, id)
			}
			cmds[i] = renewScript.EvalSha(ctx, pipe, t.keys, args...)
		}
		_, err := pipe.Exec(ctx)
		return cmds, err
	}
	cmds, err := run()
	if redis.HasErrorPrefix(err, "NOSCRIPT") {
		// Redis restarted (or flushed its scripts): load and go again.
		if err = renewScript.Load(ctx, a.client).Err(); err == nil {
			cmds, err = run()
		}
	}
	if err != nil && ctx.Err() == nil && !isReply(err) {
		a.markDown(fmt.Errorf("renew leases: %w", err))
		return
	}
	for i, c := range cmds {
		lost, err := c.StringSlice()
		if err != nil {
			if a.ctx.Err() == nil {
				a.log.Error("redis admission: renew failed", "tenant", ts[i].tenant, "err", err)
			}
			continue
		}
		for _, id := range lost {
			a.lostLease(ts[i].tenant, id)
		}
	}
}

// isReply reports whether err is Redis answering with an error (the
// connection works), not a failure to reach it.
func isReply(err error) bool {
	var re redis.Error
	return errors.As(err, &re)
}

// lostLease logs, once per lease, a stream that runs on after its lease
// expired and the tenant's slots were taken by others: the one way the
// shared cap can be exceeded (Redis out of reach, or restarted empty, for
// longer than the TTL).
func (a *Admitter) lostLease(tenant, id string) {
	a.mu.Lock()
	e := a.held[id]
	first := e != nil && !e.lost
	if first {
		e.lost = true
	}
	a.mu.Unlock()
	if first {
		a.log.Error("redis admission: a running stream lost its lease and the tenant's slots are taken; it runs beyond the shared cap until it ends",
			"tenant", tenant, "lease", id)
	}
}

// Snapshot lists the tenants this process has admitted for, with the
// shared counts from Redis (plus this process's fallback tickets), by name.
// While Redis is out of reach it lists the fallback controller's.
func (a *Admitter) Snapshot() []admission.TenantState {
	local := a.local.Snapshot()
	if a.down.Load() {
		return local
	}
	byName := map[string]admission.TenantState{}
	for _, s := range local {
		byName[s.Tenant] = s
	}
	a.mu.Lock()
	tenants := make(map[string]admission.Limits, len(a.tenants))
	for t, l := range a.tenants {
		tenants[t] = l
	}
	a.mu.Unlock()
	var idle []string
	for t, l := range tenants {
		res, err := a.call(stateScript, a.keys(t)).Int64Slice()
		if err != nil || len(res) < 2 {
			continue
		}
		s := byName[t]
		s.Tenant, s.Limits = t, l
		s.Running += int(res[0])
		s.Queued += int(res[1])
		if s.Running == 0 && s.Queued == 0 {
			idle = append(idle, t)
			continue
		}
		byName[t] = s
	}
	a.mu.Lock()
	for _, t := range idle {
		if !a.usedLocked(t) {
			delete(a.tenants, t)
		}
	}
	a.mu.Unlock()
	out := make([]admission.TenantState, 0, len(byName))
	for _, s := range byName {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Tenant < out[j].Tenant })
	return out
}

func (a *Admitter) usedLocked(tenant string) bool {
	for _, e := range a.held {
		if e.tenant == tenant {
			return true
		}
	}
	for _, e := range a.waiting {
		if e.tenant == tenant {
			return true
		}
	}
	return false
}

// Close stops admitting (waiters get ErrClosed and leave their queues),
// stops the loops and releases every lease this process holds. Tickets
// released after Close are no-ops. It does not close the client.
func (a *Admitter) Close() error {
	if !a.stop() {
		return nil
	}
	a.mu.Lock()
	held := a.held
	a.held = map[string]*entry{}
	a.mu.Unlock()
	var errs []error
	for id, e := range held {
		if err := a.call(releaseScript, e.keys, id, time.Since(e.granted).Milliseconds()).Err(); err != nil {
			errs = append(errs, fmt.Errorf("release %s of tenant %s: %w", id, e.tenant, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("redis admission: close (the leases expire within %v): %w", a.opts.LeaseTTL, err)
	}
	return nil
}

// stop ends Admit, the waiters and the loops; it reports whether this call
// did it.
func (a *Admitter) stop() bool {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return false
	}
	a.closed = true
	a.mu.Unlock()
	a.cancel()
	a.inflight.Wait()
	_ = a.ps.Close()
	a.loops.Wait()
	return true
}

// abandon stops everything without releasing: what a replica's death
// looks like to Redis (tests).
func (a *Admitter) abandon() {
	a.stop()
	a.mu.Lock()
	a.held = map[string]*entry{}
	a.mu.Unlock()
}
