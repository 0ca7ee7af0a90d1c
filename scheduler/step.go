package scheduler

import (
	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/kvcache"
	"github.com/sotasystems/sota/sample"
)

// Plan is one step: the batch for the backend and what Update needs to apply
// its output. It is reused: valid until the next Schedule.
type Plan struct {
	Batch   backend.Batch
	seqs    []*seq
	numNew  []int
	sampled []bool
	reqs    []RequestID
	masks   []uint64 // backing of the constrained rows' masks
	started []RequestID
}

// Started lists the requests whose first sequence is scheduled for the first
// time in this step (the end of their wait in the queue).
func (p *Plan) Started() []RequestID { return p.started }

// Empty reports whether the plan has nothing to compute.
func (p *Plan) Empty() bool { return len(p.seqs) == 0 }

// NumSeqs is the number of sequences in the step.
func (p *Plan) NumSeqs() int { return len(p.seqs) }

// NumTokens is the number of tokens the step computes.
func (p *Plan) NumTokens() int { return len(p.Batch.Tokens) }

// Requests lists the requests with a sequence in the step, once each.
func (p *Plan) Requests() []RequestID {
	p.reqs = p.reqs[:0]
	for _, s := range p.seqs {
		if !contains(p.reqs, s.req.ID) {
			p.reqs = append(p.reqs, s.req.ID)
		}
	}
	return p.reqs
}

func contains(ids []RequestID, id RequestID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (p *Plan) reset() {
	p.seqs, p.numNew, p.sampled, p.started = p.seqs[:0], p.numNew[:0], p.sampled[:0], p.started[:0]
	b := &p.Batch
	b.Tokens, b.Positions = b.Tokens[:0], b.Positions[:0]
	b.SeqStarts, b.BlockTables, b.BlockTableStarts = b.SeqStarts[:0], b.BlockTables[:0], b.BlockTableStarts[:0]
	clear(b.Samples) // drop references to old histories
	b.Samples = b.Samples[:0]
}

// add schedules n more tokens of s.
func (p *Plan) add(s *seq, n int) {
	b := &p.Batch
	if len(b.SeqStarts) == 0 {
		b.SeqStarts = append(b.SeqStarts, 0)
		b.BlockTableStarts = append(b.BlockTableStarts, 0)
	}
	i := int32(len(p.seqs))
	b.Tokens = append(b.Tokens, s.tokens[s.numComputed:s.numComputed+n]...)
	for pos := s.numComputed; pos < s.numComputed+n; pos++ {
		b.Positions = append(b.Positions, int32(pos))
	}
	b.SeqStarts = append(b.SeqStarts, int32(len(b.Tokens)))
	b.BlockTables = append(b.BlockTables, s.blocks...)
	b.BlockTableStarts = append(b.BlockTableStarts, int32(len(b.BlockTables)))
	sampled := s.numComputed+n == len(s.tokens)
	if sampled {
		b.Samples = append(b.Samples, backend.SampleRow{
			Seq: i, Params: s.params,
			PromptTokens: s.tokens[:s.numPrompt], OutputTokens: s.tokens[s.numPrompt:],
		})
	}
	p.seqs = append(p.seqs, s)
	p.numNew = append(p.numNew, n)
	p.sampled = append(p.sampled, sampled)
}

// chunk is how many of s's uncomputed tokens fit in budget.
func (sc *Scheduler) chunk(s *seq, computed, budget int) int {
	n := min(len(s.tokens)-computed, budget)
	if lim := sc.cfg.LongPrefillTokens; lim > 0 && n > 1 {
		n = min(n, lim)
	}
	return n
}

// Schedule plans the next step. An empty plan means nothing can run now
// (no work, or waiting work that does not fit until something finishes).
func (sc *Scheduler) Schedule() *Plan {
	p := &sc.plan
	p.reset()
	budget := sc.cfg.MaxNumBatchedTokens
	// Decoding sequences need one token each; prefill chunks of running
	// sequences leave that much budget to them, so a long prompt never
	// stalls the streams already running.
	decodes := 0
	for _, s := range sc.running {
		if len(s.tokens)-s.numComputed == 1 {
			decodes++
		}
	}
	preempted := false
	for i := 0; i < len(sc.running) && budget > 0; i++ {
		s := sc.running[i]
		remaining := len(s.tokens) - s.numComputed
		n := 1
		if remaining == 1 {
			decodes--
		} else if n = sc.chunk(s, s.numComputed, budget-decodes); n <= 0 {
			continue
		}
		need := sc.pool.BlocksFor(s.numComputed+n) - len(s.blocks)
		for need > sc.pool.NumFree() {
			victim := sc.running[len(sc.running)-1]
			if victim != s && len(victim.tokens)-victim.numComputed == 1 {
				decodes--
			}
			sc.preempt(victim)
			preempted = true
			if victim == s {
				break
			}
		}
		if s.state != stateRunning {
			break // s preempted itself: everything after it is gone too
		}
		s.blocks, _ = sc.pool.Allocate(s.blocks, need)
		p.add(s, n)
		budget -= n
	}
	if !preempted {
		for budget > 0 && len(sc.running) < sc.cfg.MaxNumSeqs {
			s := sc.queue.peek()
			if s == nil || !sc.admit(s, &budget) {
				break
			}
		}
	}
	if !p.Empty() {
		sc.stats.Steps++
		p.fillMasks(sample.MaskWords(sc.cfg.VocabSize))
	}
	return p
}

// fillMasks asks each constrained sampled sequence for its mask.
func (p *Plan) fillMasks(words int) {
	n := 0
	for _, r := range p.Batch.Samples {
		if p.seqs[r.Seq].constraint != nil {
			n++
		}
	}
	if n == 0 {
		return
	}
	if cap(p.masks) < n*words {
		p.masks = make([]uint64, n*words)
	}
	p.masks = p.masks[:n*words]
	k := 0
	for i := range p.Batch.Samples {
		r := &p.Batch.Samples[i]
		c := p.seqs[r.Seq].constraint
		if c == nil {
			continue
		}
		m := p.masks[k*words : (k+1)*words : (k+1)*words]
		c.Allowed(m)
		r.Mask = m
		k++
	}
}

// admit moves waiting s to running with its first chunk, reusing computed
// prefix blocks (its first sibling's, or the prefix cache's). It reports
// false, changing nothing, when the chunk does not fit.
func (sc *Scheduler) admit(s *seq, budget *int) bool {
	bs := sc.pool.BlockSize()
	reusable := (len(s.tokens) - 1) / bs // the last token is always computed: its logits are sampled
	lead := s.req.seqs[0]
	shareLead := s.index > 0 && lead.state == stateRunning && lead.numComputed >= s.numPrompt
	hits, fromFree := 0, 0
	if shareLead {
		hits = min(reusable, s.numPrompt/bs, len(lead.blocks))
	} else if sc.pool.Caching() {
		s.hashes = kvcache.AppendHashes(s.hashes, s.req.salt, s.tokens, bs)
		sc.found = sc.pool.Lookup(sc.found[:0], s.hashes[:reusable])
		hits = len(sc.found)
		fromFree = sc.pool.NumFreeAmong(sc.found)
	}
	computed := hits * bs
	if sc.cfg.DisableChunkedPrefill && len(s.tokens)-computed > *budget {
		return false
	}
	n := sc.chunk(s, computed, *budget)
	need := sc.pool.BlocksFor(computed+n) - hits
	if need > sc.pool.NumFree()-fromFree {
		return false
	}
	if shareLead {
		s.blocks = append(s.blocks, lead.blocks[:hits]...)
		sc.pool.Share(s.blocks)
	} else if hits > 0 {
		sc.pool.Acquire(sc.found)
		s.blocks = append(s.blocks, sc.found...)
	}
	if sc.pool.Caching() && !shareLead {
		sc.pool.CountQuery(len(s.tokens), computed)
	}
	s.blocks, _ = sc.pool.Allocate(s.blocks, need)
	s.numComputed, s.numCommit = computed, hits
	if !s.admitted {
		s.admitted, s.numCached = true, computed
		if s.index == 0 {
			sc.plan.started = append(sc.plan.started, s.req.ID)
		}
	}
	sc.queue.remove(s)
	sc.insertRunning(s)
	sc.plan.add(s, n)
	*budget -= n
	return true
}

// Event is one sampled token of one sequence.
type Event struct {
	Request RequestID
	Index   int // sequence within the request, 0..N-1
	Token   int32
	Logprob float32
	Top     []sample.TokenLogprob // aliases backend memory: copy before the next step
	Finish  FinishReason          // "" while the sequence continues
	// StopToken: Token is the EOS or stop id that ended the sequence (a
	// server leaves it out of the text).
	StopToken bool
	Usage     Usage // set when Finish != ""
}

// Usage counts a sequence's tokens.
type Usage struct {
	PromptTokens int
	CachedTokens int // prompt tokens served from the prefix cache (or a sibling) at first admission
	OutputTokens int
}

// Update applies the backend's output for plan p (from the latest Schedule):
// it advances the computed counts, commits newly full blocks to the prefix
// cache, appends sampled tokens and ends sequences that stop. out.Samples
// must match p.Batch.Samples one for one. The events are valid until the
// next Update.
func (sc *Scheduler) Update(p *Plan, out *backend.Output) []Event {
	sc.events = sc.events[:0]
	bs := sc.pool.BlockSize()
	k := 0
	for i, s := range p.seqs {
		var res sample.Result
		if p.sampled[i] {
			res = out.Samples[k]
			k++
		}
		if s.state != stateRunning {
			continue
		}
		old := s.numComputed
		s.numComputed += p.numNew[i]
		if old < s.numPrompt {
			sc.stats.PromptTokens += int64(min(s.numComputed, s.numPrompt) - old)
		}
		if sc.pool.Caching() {
			if full := s.numComputed / bs; full > s.numCommit {
				s.hashes = kvcache.AppendHashes(s.hashes, s.req.salt, s.tokens[:full*bs], bs)
				for ; s.numCommit < full; s.numCommit++ {
					sc.pool.Commit(s.blocks[s.numCommit], s.hashes[s.numCommit])
				}
			}
		}
		charge := sc.cfg.InputWeight * float64(p.numNew[i])
		if s.index == 0 && old < s.numPrompt && s.numComputed >= s.numPrompt {
			sc.releaseSiblings(s.req)
		}
		if !p.sampled[i] {
			sc.queue.charge(s.req, charge)
			continue
		}
		sc.queue.charge(s.req, charge+sc.cfg.OutputWeight)
		s.tokens = append(s.tokens, res.Token)
		sc.stats.GenerationTokens++
		ev := Event{Request: s.req.ID, Index: s.index, Token: res.Token, Logprob: res.Logprob, Top: res.Top}
		switch {
		case s.constraint != nil && !s.constraint.Accept(res.Token):
			// The backend sampled outside the mask: end the sequence
			// rather than emit output that breaks the constraint.
			sc.stats.ConstraintViolations++
			ev.Finish = FinishAbort
		case contains32(s.req.stop, res.Token):
			ev.Finish, ev.StopToken = FinishStop, true
		case len(s.tokens)-s.numPrompt >= s.req.MaxTokens || len(s.tokens) >= sc.cfg.MaxModelLen:
			ev.Finish = FinishLength
		}
		if ev.Finish != "" {
			ev.Usage = s.usage()
			sc.finish(s)
		}
		sc.events = append(sc.events, ev)
	}
	return sc.events
}

func (s *seq) usage() Usage {
	return Usage{PromptTokens: s.numPrompt, CachedTokens: s.numCached, OutputTokens: len(s.tokens) - s.numPrompt}
}

func contains32(ids []int32, id int32) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}
