package admission

import (
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
	"time"
)

// Class is a request's priority class within its tenant's allowance.
type Class int8

// The classes in rising order: a higher class is queued ahead of a lower one
// and is preempted last in the engine.
const (
	Slow Class = iota
	Medium
	Fast
	Ludicrous
)

var classNames = [...]string{"slow", "medium", "fast", "ludicrous"}

func (c Class) String() string {
	if c >= Slow && c <= Ludicrous {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", int8(c))
}

// ErrBadClass is an unknown priority class name.
var ErrBadClass = errors.New("unknown priority class")

// ParseClass reads a class name (case-insensitive, surrounding space ignored).
func ParseClass(s string) (Class, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	for i, n := range classNames {
		if t == n {
			return Class(i), nil
		}
	}
	return Medium, fmt.Errorf("%w %q: want slow, medium, fast or ludicrous", ErrBadClass, s)
}

// EnginePriority maps a class to the engine's priority, where smaller runs
// first and is preempted last.
func (c Class) EnginePriority() int { return int(Ludicrous - c) }

// Tier is what a tenant buys: concurrent streams, a bounded queue, the
// models it may use, the priority classes it may ask for and its
// fair-share weight.
type Tier struct {
	Name       string
	Streams    int           // concurrent streams of the whole tenant
	Queue      int           // requests that may wait beyond Streams (0: none)
	QueueWait  time.Duration // longest wait for a slot before a 408
	RetryAfter time.Duration // advised back-off on a 429 when the wait cannot be estimated
	Models     []string      // model names or path.Match patterns ("*" = all)
	Priorities []Class       // classes the tier may use; the highest is its ceiling
	Weight     float64       // fair-share weight across tenants
	// JobsQueue is how many unfinished async jobs a tenant may have
	// (0: the server's default); they share Streams with interactive
	// requests but wait in their own queue.
	JobsQueue int
}

// Validate checks a tier's fields.
func (t *Tier) Validate() error {
	switch {
	case t.Name == "":
		return errors.New("tier: empty name")
	case t.Streams < 1:
		return fmt.Errorf("tier %s: streams = %d, want >= 1", t.Name, t.Streams)
	case t.Queue < 0:
		return fmt.Errorf("tier %s: queue = %d, want >= 0", t.Name, t.Queue)
	case t.QueueWait < 0:
		return fmt.Errorf("tier %s: queue_wait = %v, want >= 0", t.Name, t.QueueWait)
	case t.RetryAfter < 0:
		return fmt.Errorf("tier %s: retry_after = %v, want >= 0", t.Name, t.RetryAfter)
	case t.JobsQueue < 0:
		return fmt.Errorf("tier %s: jobs_queue = %d, want >= 0", t.Name, t.JobsQueue)
	case !(t.Weight > 0) || math.IsInf(t.Weight, 0):
		return fmt.Errorf("tier %s: weight = %v, want > 0", t.Name, t.Weight)
	case len(t.Models) == 0:
		return fmt.Errorf("tier %s: no models (use [\"*\"] for all)", t.Name)
	case len(t.Priorities) == 0:
		return fmt.Errorf("tier %s: no priorities", t.Name)
	}
	for _, m := range t.Models {
		if _, err := path.Match(m, ""); err != nil {
			return fmt.Errorf("tier %s: model pattern %q: %w", t.Name, m, err)
		}
	}
	for _, c := range t.Priorities {
		if c < Slow || c > Ludicrous {
			return fmt.Errorf("tier %s: priority %v out of range", t.Name, c)
		}
	}
	return nil
}

// AllowsModel reports whether the tier may use the model named name.
func (t *Tier) AllowsModel(name string) bool {
	for _, m := range t.Models {
		// "*" is every model, "org/name" ids included (path.Match's *
		// stops at a slash).
		if m == "*" || m == name {
			return true
		}
		if ok, _ := path.Match(m, name); ok {
			return true
		}
	}
	return false
}

// Ceiling is the highest class the tier may use.
func (t *Tier) Ceiling() Class { return slices.Max(t.Priorities) }

// Clamp brings c down to the tier's ceiling.
func (t *Tier) Clamp(c Class) Class { return min(c, t.Ceiling()) }

// Limits are the tier's admission limits, with a tenant's stream override.
func (t *Tier) Limits(streamsOverride int) Limits {
	l := Limits{Streams: t.Streams, Queue: t.Queue, QueueWait: t.QueueWait, RetryAfter: t.RetryAfter}
	if streamsOverride > 0 {
		l.Streams = streamsOverride
	}
	return l
}

// DefaultTiers are the built-in tiers (a tiers file replaces them).
func DefaultTiers() map[string]Tier {
	all := []string{"*"}
	return map[string]Tier{
		"solo": {Name: "solo", Streams: 3, Queue: 3, QueueWait: 60 * time.Second, RetryAfter: 5 * time.Second,
			Models: all, Priorities: []Class{Slow, Medium}, Weight: 1, JobsQueue: 20},
		"team": {Name: "team", Streams: 10, Queue: 10, QueueWait: 60 * time.Second, RetryAfter: 5 * time.Second,
			Models: all, Priorities: []Class{Slow, Medium, Fast}, Weight: 2, JobsQueue: 100},
		"platform": {Name: "platform", Streams: 50, Queue: 50, QueueWait: 60 * time.Second, RetryAfter: 2 * time.Second,
			Models: all, Priorities: []Class{Slow, Medium, Fast, Ludicrous}, Weight: 4, JobsQueue: 1000},
	}
}
