package scheduler

import (
	"math"
	"slices"
	"testing"
)

func TestParsePolicy(t *testing.T) {
	for _, name := range []string{"fcfs", "priority", "fair"} {
		if p, err := ParsePolicy(name); err != nil || string(p) != name {
			t.Errorf("ParsePolicy(%q) = %q, %v", name, p, err)
		}
	}
	if _, err := ParsePolicy("random"); err == nil {
		t.Error("ParsePolicy accepted an unknown name")
	}
}

func TestPriorityOrder(t *testing.T) {
	tests := []struct {
		policy Policy
		want   []RequestID
	}{
		{FCFS, []RequestID{1, 2, 3, 4, 5}},
		{PriorityFirst, []RequestID{2, 4, 3, 5, 1}},
		{FairShare, []RequestID{2, 4, 3, 5, 1}}, // one tenant: priority within it
	}
	for _, tc := range tests {
		t.Run(string(tc.policy), func(t *testing.T) {
			h := newHarness(t, setup{cfg: Config{MaxNumSeqs: 1, Policy: tc.policy}})
			for i, prio := range []int{3, 1, 2, 1, 2} {
				h.add(Request{ID: RequestID(i + 1), Prompt: prompt(i, 4), MaxTokens: 2, Priority: prio})
			}
			var order []RequestID
			h.onPlan = func(p *Plan) {
				for _, s := range p.seqs {
					if !slices.Contains(order, s.req.ID) {
						order = append(order, s.req.ID)
					}
				}
			}
			h.run(100)
			if !slices.Equal(order, tc.want) {
				t.Fatalf("order %v, want %v", order, tc.want)
			}
		})
	}
}

// shares runs a flooding tenant "a" against a tenant "b" that arrives after
// the flood, and returns b's share of the tokens computed while both had
// work waiting.
func shares(t *testing.T, policy Policy, lateSteps int) float64 {
	h := newHarness(t, setup{blocks: 1024, cfg: Config{MaxNumSeqs: 4, MaxNumBatchedTokens: 64, MaxModelLen: 64, Policy: policy}})
	id := RequestID(0)
	for range 300 {
		id++
		h.add(Request{ID: id, Prompt: prompt(int(id), 8), MaxTokens: 16, Tenant: "a"})
	}
	for range lateSteps {
		h.step()
	}
	for range 100 {
		id++
		h.add(Request{ID: id, Prompt: prompt(int(id), 8), MaxTokens: 16, Tenant: "b"})
	}
	served := map[string]int{}
	h.onPlan = func(p *Plan) {
		for i, s := range p.seqs {
			served[s.req.Tenant] += p.numNew[i]
		}
	}
	for range 400 {
		h.step()
	}
	return float64(served["b"]) / float64(served["a"]+served["b"])
}

// One tenant floods the queue; the other, queued behind the flood, still
// gets its fair half of the tokens under FairShare, and almost none under
// FCFS (which shows the test can fail).
func TestFairShareAcrossTenants(t *testing.T) {
	for _, late := range []int{0, 200} {
		fair := shares(t, FairShare, late)
		fcfs := shares(t, FCFS, late)
		t.Logf("after %d steps of the flood: tenant b's share %.3f fair, %.3f FCFS", late, fair, fcfs)
		if math.Abs(fair-0.5) > 0.05 {
			t.Errorf("late %d: fair share gives tenant b %.3f of the tokens, want 0.5 ± 0.05", late, fair)
		}
		if fcfs > 0.1 {
			t.Errorf("late %d: FCFS gives tenant b %.3f: the flood should starve it", late, fcfs)
		}
	}
}

func TestFairShareWeights(t *testing.T) {
	h := newHarness(t, setup{blocks: 1024, cfg: Config{MaxNumSeqs: 4, MaxNumBatchedTokens: 64, MaxModelLen: 64, Policy: FairShare}})
	id := RequestID(0)
	for range 200 {
		for _, tn := range []struct {
			name   string
			weight float64
		}{{"a", 1}, {"b", 3}} {
			id++
			h.add(Request{ID: id, Prompt: prompt(int(id), 8), MaxTokens: 16, Tenant: tn.name, Weight: tn.weight})
		}
	}
	served := map[string]int{}
	h.onPlan = func(p *Plan) {
		for i, s := range p.seqs {
			served[s.req.Tenant] += p.numNew[i]
		}
	}
	for range 400 {
		h.step()
	}
	if share := float64(served["b"]) / float64(served["a"]+served["b"]); math.Abs(share-0.75) > 0.05 {
		t.Fatalf("tenant b with weight 3 got %.3f of the tokens, want 0.75 ± 0.05", share)
	}
}

func TestIdleTenantDoesNotBankCredit(t *testing.T) {
	q := newQueue(FairShare)
	a, b := q.tenant("a"), q.tenant("b")
	a.live, a.served = 1, 1000
	q.activate(b)
	if b.served != 1000 {
		t.Fatalf("a tenant arriving late starts at %v, want the busy tenants' floor 1000", b.served)
	}
	b.live = 1
	b.live = 0
	q.forget(b)
	if _, ok := q.tenants["b"]; ok {
		t.Fatal("an idle tenant at the floor is kept")
	}
	a.live = 0
	q.forget(a)
	if len(q.tenants) != 0 {
		t.Fatal("counters not reset when every tenant is idle")
	}
}
