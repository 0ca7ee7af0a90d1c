package admission

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// maxTenantID bounds a tenant id.
const maxTenantID = 128

// CheckTenantID keeps tenant ids to what prints, logs and labels plainly:
// 1 to 128 letters, digits, '-', '_', '.' and '@'.
func CheckTenantID(id string) error {
	if id == "" || len(id) > maxTenantID {
		return fmt.Errorf("tenant id %q: must be 1 to %d characters", id, maxTenantID)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.@", r)) {
			return fmt.Errorf("tenant id %q: may hold only letters, digits, '-', '_', '.' and '@'", id)
		}
	}
	return nil
}

// SortedTiers lists tiers by stream cap, then name.
func SortedTiers(tiers map[string]Tier) []Tier {
	ts := make([]Tier, 0, len(tiers))
	for _, t := range tiers {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b Tier) int {
		return cmp.Or(cmp.Compare(a.Streams, b.Streams), strings.Compare(a.Name, b.Name))
	})
	return ts
}

// TierNames lists the tiers' names by stream cap, then name.
func TierNames(tiers map[string]Tier) string {
	ts := SortedTiers(tiers)
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}
