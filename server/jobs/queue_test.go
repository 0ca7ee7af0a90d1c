package jobs

import (
	"testing"

	"github.com/sotasystems/sota/admission"
)

// The job queue: the server's per-tier override, else the tier's own
// jobs_queue, else the server's default.
func TestQueueFor(t *testing.T) {
	s := &Service{cfg: Config{Queue: 100, TierQueue: map[string]int{"team": 7}}}
	tests := []struct {
		tier admission.Tier
		want int
	}{
		{admission.Tier{Name: "team", JobsQueue: 50}, 7},
		{admission.Tier{Name: "solo", JobsQueue: 20}, 20},
		{admission.Tier{Name: "open"}, 100},
	}
	for _, tc := range tests {
		if got := s.queueFor(admission.Principal{Tier: tc.tier}); got != tc.want {
			t.Errorf("tier %+v: queue %d, want %d", tc.tier, got, tc.want)
		}
	}
}
