package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// Tenant is one API key of a multi-tenant run.
type Tenant struct {
	Name   string
	APIKey string
	// Weight is the tenant's share of the requests (the arrival mix).
	Weight float64
	// Share is what the tenant is entitled to, for Jain's index over
	// output tokens per unit of share; 0 means Weight.
	Share float64
	// MaxConcurrency caps the tenant's requests in flight per target (0 =
	// only the target's limit): a tenant flooding at 10× its stream cap has
	// MaxConcurrency 10× that cap.
	MaxConcurrency int
	// Priority, when set, is sent as X-Siati-Tier (sota's priority class;
	// other servers ignore it).
	Priority string
}

// EntitledShare is Share, or Weight when Share is unset.
func (t Tenant) EntitledShare() float64 {
	if t.Share > 0 {
		return t.Share
	}
	return t.Weight
}

// ParseTenant reads "name=solo,key=sk-…,weight=1,share=1,max-concurrency=30,priority=fast";
// only key is required (name defaults to tenantN, weight to 1).
func ParseTenant(spec string, index int) (Tenant, error) {
	t := Tenant{Name: fmt.Sprintf("tenant%d", index+1), Weight: 1}
	for _, kv := range strings.Split(spec, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		if !ok {
			return t, fmt.Errorf("%w: tenant %q: %q is not key=value", ErrConfig, spec, kv)
		}
		var err error
		switch k {
		case "name":
			t.Name = v
		case "key", "api-key":
			t.APIKey = v
		case "weight":
			t.Weight, err = strconv.ParseFloat(v, 64)
		case "share":
			t.Share, err = strconv.ParseFloat(v, 64)
		case "max-concurrency", "concurrency":
			t.MaxConcurrency, err = strconv.Atoi(v)
		case "priority":
			t.Priority = v
		default:
			return t, fmt.Errorf("%w: tenant %q: unknown field %q (want name, key, weight, share, max-concurrency, priority)", ErrConfig, spec, k)
		}
		if err != nil {
			return t, fmt.Errorf("%w: tenant %q: %s: %v", ErrConfig, spec, k, err)
		}
	}
	if t.APIKey == "" {
		return t, fmt.Errorf("%w: tenant %q has no key", ErrConfig, spec)
	}
	if !(t.Weight > 0) || t.Share < 0 || t.MaxConcurrency < 0 {
		return t, fmt.Errorf("%w: tenant %q: weight must be > 0, share and max-concurrency >= 0", ErrConfig, spec)
	}
	return t, nil
}

// AssignTenants gives each of n requests a tenant (an index into tenants)
// by smooth weighted round robin: deterministic, interleaved, and within one
// request of each tenant's weighted share at every prefix. nil for no
// tenants.
func AssignTenants(n int, tenants []Tenant) []int {
	if len(tenants) == 0 {
		return nil
	}
	total := 0.0
	for _, t := range tenants {
		total += t.Weight
	}
	current := make([]float64, len(tenants))
	out := make([]int, n)
	for i := range out {
		best := 0
		for j, t := range tenants {
			current[j] += t.Weight
			if current[j] > current[best] {
				best = j
			}
		}
		current[best] -= total
		out[i] = best
	}
	return out
}
