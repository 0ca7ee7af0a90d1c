package scheduler

import (
	"testing"

	"github.com/sotasystems/sota/sample"
)

// script allows exactly want[len(seen)] at each step, then EOS.
type script struct {
	want, seen []int32
	eos        int32
	masks      int
}

func (s *script) Allowed(mask []uint64) {
	clear(mask)
	s.masks++
	id := s.eos
	if len(s.seen) < len(s.want) {
		id = s.want[len(s.seen)]
	}
	mask[id>>6] |= 1 << (id & 63)
}

func (s *script) Accept(tok int32) bool {
	if len(s.seen) < len(s.want) && tok != s.want[len(s.seen)] || len(s.seen) >= len(s.want) && tok != s.eos {
		return false
	}
	s.seen = append(s.seen, tok)
	return true
}

func TestConstraintDrivesSampling(t *testing.T) {
	const eos = 2
	h := newHarness(t, setup{cfg: Config{EOSTokenIDs: []int32{eos}}})
	var made []*script
	h.onPlan = func(p *Plan) {
		for _, r := range p.Batch.Samples {
			if r.Mask == nil || len(r.Mask) != sample.MaskWords(512) {
				t.Fatalf("sampled row without a mask of %d words: %v", sample.MaskWords(512), len(r.Mask))
			}
		}
	}
	h.add(Request{ID: 1, Prompt: []int32{10, 11, 12, 13, 14, 15}, N: 3, MaxTokens: 20,
		NewConstraint: func() sample.Constraint {
			s := &script{want: []int32{300, 301, 302 + int32(len(made))}, eos: eos}
			made = append(made, s)
			return s
		}})
	h.run(100)
	if len(made) != 3 {
		t.Fatalf("%d constraints for 3 sequences", len(made))
	}
	for i, out := range h.out[1] {
		want := []int32{300, 301, 302 + int32(i), eos}
		if len(out) != len(want) {
			t.Fatalf("sequence %d: %v, want %v", i, out, want)
		}
		for k := range want {
			if out[k] != want[k] {
				t.Fatalf("sequence %d: %v, want %v", i, out, want)
			}
		}
		if h.finish[1][i] != FinishStop {
			t.Fatalf("sequence %d finished %q", i, h.finish[1][i])
		}
	}
	if v := h.sc.Stats().ConstraintViolations; v != 0 {
		t.Fatalf("%d violations", v)
	}
}

// A backend that ignores the mask ends the sequence instead of streaming
// a token the constraint rejects.
func TestConstraintViolationAborts(t *testing.T) {
	h := newHarness(t, setup{cfg: Config{EOSTokenIDs: []int32{2}}})
	h.onPlan = func(p *Plan) {
		for i := range p.Batch.Samples {
			p.Batch.Samples[i].Mask = nil // the fake then samples unconstrained
		}
	}
	h.add(Request{ID: 1, Prompt: []int32{10, 11}, MaxTokens: 20,
		NewConstraint: func() sample.Constraint { return &script{want: []int32{1}, eos: 2} }})
	h.run(100)
	if h.finish[1][0] != FinishAbort || h.sc.Stats().ConstraintViolations != 1 {
		t.Fatalf("finish %q, violations %d", h.finish[1][0], h.sc.Stats().ConstraintViolations)
	}
}
