package cpu

import (
	"fmt"
	"math"
	"testing"

	"github.com/sotasystems/sota/internal/demo"
	"github.com/sotasystems/sota/internal/testmodels"
	"github.com/sotasystems/sota/model"
	"github.com/sotasystems/sota/tokenizer"
)

// logitBounds are the largest absolute logit differences from the float32
// backend accepted per model and weight format, over every position of the
// test sequences. The measured values (avx2-fma and go kernels, the same to
// two digits) are noted beside each; the bounds leave about 2× headroom.
// The tiny checkpoints have random weights and logits of magnitude ~0.1–1,
// stories260k trained weights and logits of magnitude ~10.
var logitBounds = []struct {
	model  string
	format WeightFormat
	bound  float64
}{
	{"llama-tiny", WeightsBF16, 0.15},   // 0.063, top-1 78/80
	{"mistral-tiny", WeightsBF16, 0.15}, // 0.059, top-1 80/80
	{"qwen2-tiny", WeightsBF16, 1e-5},   // 0: its float32 weights are bfloat16 values
	{"stories260k", WeightsBF16, 0.25},  // 0.117 (max |logit| 23.7), top-1 1603/1608
	{"llama-tiny", WeightsInt8, 0.35},   // 0.159, top-1 78/80
	{"mistral-tiny", WeightsInt8, 0.35}, // 0.177, top-1 78/80
	{"qwen2-tiny", WeightsInt8, 0.3},    // 0.124, top-1 78/80
	{"stories260k", WeightsInt8, 0.9},   // 0.453, top-1 1597/1608
}

// storiesPrompts start the stories260k sequences; each continues with the
// float32 backend's greedy tokens.
var storiesPrompts = []string{
	"Once upon a time", "One day, a little girl named Lily", "The dog was", "Tom and his mom went to the park",
	"There was a big", "Sam had a red ball", "The sun was shining and", "A little bird",
}

// storiesNewTokens is the greedy continuation length of each prompt.
const storiesNewTokens = 200

type lowpCase struct {
	m    *model.Model
	seqs [][]int32 // full sequences (prompt + float32 greedy continuation)
	from []int     // first position whose next-token prediction is checked (last prompt token)
}

// lowpSequences loads a model and its test sequences: a tiny checkpoint's
// golden input ids, or stories260k (the built-in demo model) prompts
// continued greedily by the float32 backend.
func lowpSequences(t *testing.T, name string) lowpCase {
	t.Helper()
	if name != "stories260k" {
		dir := testmodels.Testdata(t, name)
		g := loadGolden(t, dir)
		return lowpCase{m: loadModel(t, dir), seqs: [][]int32{g.InputIDs}, from: []int{0}}
	}
	m, err := model.LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	tok, err := tokenizer.LoadFS(demo.FS())
	if err != nil {
		t.Fatal(err)
	}
	c := lowpCase{m: m}
	be := newTestBackend(t, m, Options{NumBlocks: 64})
	for _, p := range storiesPrompts {
		ids := tok.Encode(p, true)
		cont := greedy(t, be, ids, storiesNewTokens)
		c.seqs = append(c.seqs, append(ids, cont...))
		c.from = append(c.from, len(ids)-1)
	}
	return c
}

// seqLogits are the logits of every position of seq, [len(seq), vocab].
func seqLogits(t *testing.T, be *Backend, seq []int32) []float32 {
	bs := be.Geometry().BlockSize
	return logitsOf(t, be, makeBatch(seqSpec{tokens: seq, blocks: seqBlocks(0, 1, (len(seq)+bs-1)/bs)}))
}

func argmax(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}

// TestLowpLogitError bounds the logit error of bfloat16 and int8 weights
// against float32 weights (same kernels family, float32 accumulation), and
// reports the top-1 agreement at every checked position.
func TestLowpLogitError(t *testing.T) {
	cases := map[string]lowpCase{} // loaded by the parent: subtests' cleanups would close them
	for _, c := range logitBounds {
		if _, ok := cases[c.model]; !ok {
			cases[c.model] = lowpSequences(t, c.model)
		}
	}
	for _, c := range logitBounds {
		t.Run(fmt.Sprintf("%s/%s", c.model, c.format), func(t *testing.T) {
			lc := cases[c.model]
			V := lc.m.Config.VocabSize
			ref := newTestBackend(t, lc.m, Options{NumBlocks: 64})
			be := newTestBackend(t, lc.m, Options{NumBlocks: 64, Weights: c.format})
			var worst, scale float64
			agree, total := 0, 0
			for i, seq := range lc.seqs {
				want, got := seqLogits(t, ref, seq), seqLogits(t, be, seq)
				worst = max(worst, maxAbsDiff(got, want))
				for _, v := range want {
					scale = max(scale, math.Abs(float64(v)))
				}
				for pos := lc.from[i]; pos < len(seq); pos++ {
					row := func(l []float32) []float32 { return l[pos*V : (pos+1)*V] }
					if argmax(row(got)) == argmax(row(want)) {
						agree++
					}
					total++
				}
			}
			t.Logf("max |logit - float32| = %.3g (max |logit| %.3g); top-1 agreement %d/%d = %.4f",
				worst, scale, agree, total, float64(agree)/float64(total))
			if worst > c.bound {
				t.Errorf("max |logit - float32| = %.3g > %.3g", worst, c.bound)
			}
		})
	}
}

// TestInt8GreedyAgreement: on the trained stories260k model, int8 weights
// pick the float32 backend's greedy token at ≥ 99% of the positions of
// float32's greedy continuations (teacher-forced: both read the same
// sequence).
func TestInt8GreedyAgreement(t *testing.T) {
	lc := lowpSequences(t, "stories260k")
	V := lc.m.Config.VocabSize
	be := newTestBackend(t, lc.m, Options{NumBlocks: 64, Weights: WeightsInt8})
	agree, total := 0, 0
	for i, seq := range lc.seqs {
		logits := seqLogits(t, be, seq)
		for pos := lc.from[i]; pos+1 < len(seq); pos++ {
			if int32(argmax(logits[pos*V:(pos+1)*V])) == seq[pos+1] {
				agree++
			}
			total++
		}
	}
	frac := float64(agree) / float64(total)
	t.Logf("int8 greedy top-1 agreement with float32: %d/%d = %.4f", agree, total, frac)
	if frac < 0.99 {
		t.Fatalf("int8 agrees with float32's greedy token at %.4f of positions, want ≥ 0.99", frac)
	}
}
