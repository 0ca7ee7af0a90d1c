package main

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/sotasystems/sota/admission"
)

// tiersFlags is the --tiers flag, embedded by the commands that need tiers.
type tiersFlags struct {
	Tiers string `name:"tiers" help:"YAML file of tiers, replacing the built-in solo, team and platform." env:"SOTA_TIERS" placeholder:"FILE"`
}

func (f tiersFlags) load() (map[string]admission.Tier, error) { return loadTiers(f.Tiers) }

// Defaults of a tier file's omitted fields.
const (
	defaultQueueWait  = 60 * time.Second
	defaultRetryAfter = 5 * time.Second
	defaultWeight     = 1.0
)

var (
	defaultModels     = []string{"*"}
	defaultPriorities = []admission.Class{admission.Slow, admission.Medium}
)

// loadTiers reads the tiers: the built-in ones for "", else the YAML file at
// path, whose tiers replace the built-in ones:
//
//	tiers:
//	  solo: {streams: 3, queue: 3, queue_wait: 60s, retry_after: 5, models: ["*"], priorities: [slow, medium], weight: 1}
//
// Omitted fields default to queue = streams, queue_wait 60s, retry_after 5
// (seconds, or a duration string), models ["*"], priorities [slow, medium],
// weight 1. Unknown fields are errors.
func loadTiers(path string) (map[string]admission.Tier, error) {
	if path == "" {
		return admission.DefaultTiers(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tiers: %w", err)
	}
	tiers, err := parseTiers(data)
	if err != nil {
		return nil, fmt.Errorf("tiers file %s: %w", path, err)
	}
	return tiers, nil
}

// tiersFile is the file's shape.
type tiersFile struct {
	Tiers map[string]tierSpec `json:"tiers"`
}

// tierSpec is one tier as written; pointers tell omitted from zero.
type tierSpec struct {
	Streams    int                `json:"streams"`
	Queue      *int               `json:"queue"`
	QueueWait  *durationString    `json:"queue_wait"`
	RetryAfter *secondsOrDuration `json:"retry_after"`
	Models     []string           `json:"models"`
	Priorities []string           `json:"priorities"`
	Weight     *float64           `json:"weight"`
	JobsQueue  *int               `json:"jobs_queue"`
}

// parseTiers parses a tiers file's bytes into validated tiers.
func parseTiers(data []byte) (map[string]admission.Tier, error) {
	var f tiersFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(f.Tiers) == 0 {
		return nil, errors.New("no tiers (want a top-level \"tiers:\" mapping of name to tier)")
	}
	names := make([]string, 0, len(f.Tiers))
	for name := range f.Tiers {
		names = append(names, name)
	}
	slices.Sort(names)
	tiers := make(map[string]admission.Tier, len(names))
	for _, name := range names {
		t, err := f.Tiers[name].tier(name)
		if err != nil {
			return nil, fmt.Errorf("tier %q: %w", name, err)
		}
		tiers[name] = t
	}
	return tiers, nil
}

func (s tierSpec) tier(name string) (admission.Tier, error) {
	if err := checkTierName(name); err != nil {
		return admission.Tier{}, err
	}
	t := admission.Tier{
		Name:       name,
		Streams:    s.Streams,
		Queue:      s.Streams,
		QueueWait:  defaultQueueWait,
		RetryAfter: defaultRetryAfter,
		Models:     slices.Clone(defaultModels),
		Priorities: slices.Clone(defaultPriorities),
		Weight:     defaultWeight,
	}
	if s.Queue != nil {
		t.Queue = *s.Queue
	}
	if s.QueueWait != nil {
		t.QueueWait = time.Duration(*s.QueueWait)
	}
	if s.RetryAfter != nil {
		t.RetryAfter = time.Duration(*s.RetryAfter)
	}
	if s.Models != nil {
		t.Models = s.Models
	}
	if s.Priorities != nil {
		t.Priorities = t.Priorities[:0]
		for _, p := range s.Priorities {
			c, err := admission.ParseClass(p)
			if err != nil {
				return admission.Tier{}, fmt.Errorf("priorities: %w", err)
			}
			if slices.Contains(t.Priorities, c) {
				return admission.Tier{}, fmt.Errorf("priorities: %v listed twice", c)
			}
			t.Priorities = append(t.Priorities, c)
		}
	}
	if s.JobsQueue != nil {
		t.JobsQueue = *s.JobsQueue
	}
	if s.Weight != nil {
		t.Weight = *s.Weight
	}
	if !(t.Weight > 0) || math.IsInf(t.Weight, 0) {
		return admission.Tier{}, fmt.Errorf("weight = %v, want a finite number > 0", t.Weight)
	}
	if err := t.Validate(); err != nil {
		return admission.Tier{}, err
	}
	return t, nil
}

// checkTierName keeps tier names to what prints and stores plainly.
func checkTierName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("name must be 1 to 64 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.", r)) {
			return fmt.Errorf("name may hold only letters, digits, '-', '_' and '.'")
		}
	}
	return nil
}

// durationString is a Go duration written as a string ("60s", "1m30s").
type durationString time.Duration

func (d *durationString) UnmarshalJSON(b []byte) error {
	s, err := strconv.Unquote(string(b))
	if err != nil || !bytes.HasPrefix(b, []byte(`"`)) {
		return fmt.Errorf("want a duration string such as \"60s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationString(v)
	return nil
}

// secondsOrDuration is a whole number of seconds (5) or a duration string
// ("5s", "1m").
type secondsOrDuration time.Duration

func (d *secondsOrDuration) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(b, []byte(`"`)) {
		var v durationString
		if err := v.UnmarshalJSON(b); err != nil {
			return err
		}
		*d = secondsOrDuration(v)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("want whole seconds or a duration string such as \"5s\", got %s", b)
	}
	if n > int64(math.MaxInt64/time.Second) || n < int64(math.MinInt64/time.Second) {
		return fmt.Errorf("%d seconds is out of range", n)
	}
	*d = secondsOrDuration(time.Duration(n) * time.Second)
	return nil
}
