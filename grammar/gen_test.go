package grammar

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/tokenizer"
)

// walker picks tokens under the mask at random, leaning towards tokens that
// close strings, arrays and objects so that walks finish.
type randomWalk struct {
	v      *Vocab
	closer []uint64 // tokens with a closing byte, and EOS
	rng    *rand.Rand
	mask   []uint64
	ids    []int32
}

func newRandomWalk(v *Vocab, seed uint64) *randomWalk {
	w := &randomWalk{v: v, rng: rand.New(rand.NewPCG(seed, 7)), mask: make([]uint64, v.Words()), closer: make([]uint64, v.Words())}
	for id := range int32(v.Size()) {
		if v.isEOS(id) || bytes.ContainsAny(v.Bytes(id), `"]}`) {
			w.closer[id>>6] |= 1 << (id & 63)
		}
	}
	return w
}

// next samples one allowed token; maskTime is the cost of Allowed.
func (w *randomWalk) next(m *Matcher) (tok int32, maskTime time.Duration) {
	t0 := time.Now()
	m.Allowed(w.mask)
	maskTime = time.Since(t0)
	pick := func(filter []uint64) bool {
		w.ids = w.ids[:0]
		for k, word := range w.mask {
			if filter != nil {
				word &= filter[k]
			}
			for ; word != 0; word &= word - 1 {
				w.ids = append(w.ids, int32(k*64+trailingZeros(word)))
			}
		}
		return len(w.ids) > 0
	}
	if w.rng.Float64() < 0.4 && pick(w.closer) || pick(nil) {
		return w.ids[w.rng.IntN(len(w.ids))], maskTime
	}
	return -1, maskTime
}

func trailingZeros(x uint64) int {
	n := 0
	for x&1 == 0 {
		x >>= 1
		n++
	}
	return n
}

// generate walks g from the start; it returns the output and whether EOS ended it.
func generate(t testing.TB, g *Grammar, w *randomWalk, maxSteps int, times *[]time.Duration) ([]byte, bool) {
	m := g.NewMatcher()
	var out []byte
	for range maxSteps {
		tok, d := w.next(m)
		if times != nil {
			*times = append(*times, d)
		}
		if tok < 0 {
			t.Fatalf("empty mask after %q", out)
		}
		if g.vocab.isEOS(tok) {
			if !m.CanEnd() {
				t.Fatalf("EOS allowed before the output is complete: %q", out)
			}
			return out, true
		}
		if !m.Accept(tok) {
			t.Fatalf("allowed token %q rejected after %q", g.vocab.Bytes(tok), out)
		}
		out = append(out, g.vocab.Bytes(tok)...)
	}
	return out, false
}

func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// TestCorpusGenerate generates from a sample of the corpus's schemas with
// the Llama-3.1 vocabulary under the mask and checks every finished output
// with an independent validator (Python's jsonschema, formats checked).
func TestCorpusGenerate(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus: not in -short")
	}
	v := needLlama(t)
	files := loadCorpus(t)
	var chosen []corpusFile
	var grammars []*Grammar
	step := max(1, len(files) / *corpusGen)
	for i := 0; i < len(files) && len(chosen) < *corpusGen; i += step {
		for j := i; j < len(files) && j < i+step; j++ {
			g, err := CompileSchema(files[j].schema, v, Options{Whitespace: -1})
			if err == nil {
				chosen, grammars = append(chosen, files[j]), append(grammars, g)
				break
			}
		}
	}
	var cold, warm []time.Duration
	var pairs [][2][]byte
	var exact []bool
	finished := 0
	for i, g := range grammars {
		w := newRandomWalk(v, uint64(i))
		for round := range 2 {
			times := &warm
			if round == 0 {
				times = &cold
			}
			out, done := generate(t, g, w, 400, times)
			if !done {
				continue
			}
			finished++
			if !json.Valid(out) {
				t.Fatalf("%s: output is not JSON: %q", chosen[i].name, out)
			}
			pairs = append(pairs, [2][]byte{chosen[i].schema, out})
			exact = append(exact, len(g.Relaxed) == 0)
		}
	}
	t.Logf("%d schemas, %d of %d walks finished", len(grammars), finished, 2*len(grammars))
	t.Logf("mask per token, first walk (node masks computed on first use): p50 %v p99 %v max %v",
		percentile(cold, .5), percentile(cold, .99), percentile(cold, 1))
	t.Logf("mask per token, second walk (warm grammar): p50 %v p90 %v p99 %v", percentile(warm, .5), percentile(warm, .9), percentile(warm, .99))
	fails, ok := pyValidate(t, pairs)
	if !ok {
		t.Log("python3 with jsonschema not found: outputs checked as JSON only")
		return
	}
	bad := 0
	for _, f := range fails {
		var i int
		fmt.Sscanf(f, "%d", &i)
		if exact[i] {
			bad++
			t.Errorf("output breaks its schema: %s: %.300s", f, pairs[i][1])
		} else {
			t.Logf("relaxed grammar output breaks its schema: %s", f)
		}
	}
	t.Logf("validator: %d of %d outputs valid", len(pairs)-len(fails), len(pairs))
}

// benchStates records matchers along walks of a warm grammar.
func benchStates(b *testing.B, v *Vocab, schemas []string) []*Matcher {
	var states []*Matcher
	for i, s := range schemas {
		g, err := CompileSchema([]byte(s), v, Options{Whitespace: -1})
		if err != nil {
			b.Fatal(err)
		}
		w := newRandomWalk(v, uint64(i))
		for range 3 { // warm the node masks
			generate(b, g, w, 300, nil)
		}
		m := g.NewMatcher()
		for range 300 {
			tok, _ := w.next(m)
			if v.isEOS(tok) {
				break
			}
			states = append(states, m.Clone())
			m.Accept(tok)
		}
	}
	return states
}

var benchSchemas = []string{
	`{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer","minimum":0,"maximum":150},"email":{"type":"string","format":"email"},"tags":{"type":"array","items":{"type":"string"},"maxItems":5},"address":{"type":"object","properties":{"street":{"type":"string"},"city":{"type":"string"},"zip":{"type":"string","pattern":"^[0-9]{5}$"}},"required":["city"]}},"required":["name","age"],"additionalProperties":false}`,
	`{"type":"array","items":{"anyOf":[{"type":"number"},{"type":"boolean"},{"type":"object","properties":{"id":{"type":"integer"},"when":{"type":"string","format":"date-time"}},"required":["id"]}]},"maxItems":8}`,
}

func benchMask(b *testing.B, v *Vocab) {
	states := benchStates(b, v, benchSchemas)
	mask := make([]uint64, v.Words())
	b.ResetTimer()
	i := 0
	for b.Loop() {
		states[i%len(states)].Allowed(mask)
		i++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e3/float64(b.N), "µs/token")
	b.ReportMetric(float64(len(states)), "states")
	b.StopTimer()
	per := make([]time.Duration, len(states))
	for k, m := range states {
		t0 := time.Now()
		for range 10 {
			m.Allowed(mask)
		}
		per[k] = time.Since(t0) / 10
	}
	b.ReportMetric(float64(percentile(per, .5).Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(percentile(per, .99).Nanoseconds())/1e3, "p99-µs")
	b.ReportMetric(float64(percentile(per, 1).Nanoseconds())/1e3, "max-µs")
}

// BenchmarkMaskLlama3 is the per-step mask cost over the Llama-3.1 128K
// vocabulary, warm grammars, averaged over the states of random walks.
func BenchmarkMaskLlama3(b *testing.B) { benchMask(b, needLlama(b)) }

// BenchmarkMaskDemo is the same over the demo model's 512-token vocabulary.
func BenchmarkMaskDemo(b *testing.B) {
	tok, err := tokenizer.LoadFS(demo.FS())
	if err != nil {
		b.Fatal(err)
	}
	v, err := NewVocab(tok)
	if err != nil {
		b.Fatal(err)
	}
	benchMask(b, v)
}

// BenchmarkCompileCorpus compiles every schema of the corpus once per op
// (node masks excluded: they are computed on first use).
func BenchmarkCompileCorpus(b *testing.B) {
	files := loadCorpus(b)
	v := testVocab(b)
	var times []time.Duration
	for b.Loop() {
		for _, f := range files {
			t0 := time.Now()
			CompileSchema(f.schema, v, Options{Whitespace: -1})
			times = append(times, time.Since(t0))
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(percentile(times, .5).Microseconds()), "p50-µs/schema")
	b.ReportMetric(float64(percentile(times, .99).Microseconds()), "p99-µs/schema")
}
