package cpu

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/internal/testmodels"
)

// TestBatchInvariance: sequences of different lengths and phases (prefill,
// chunked prefill, decode) in one Forward give bit-identical logits to each
// run alone, and the worker count does not matter either, in every weight
// format.
func TestBatchInvariance(t *testing.T) {
	for _, tc := range []struct {
		arch   string
		format WeightFormat
	}{
		{"llama-tiny", WeightsF32}, {"mistral-tiny", WeightsF32}, {"qwen2-tiny", WeightsF32},
		{"llama-tiny", WeightsBF16}, {"mistral-tiny", WeightsBF16}, {"qwen2-tiny", WeightsBF16},
		{"llama-tiny", WeightsInt8}, {"mistral-tiny", WeightsInt8}, {"qwen2-tiny", WeightsInt8},
	} {
		arch := tc.arch
		t.Run(arch+"/"+tc.format.String(), func(t *testing.T) {
			dir := testmodels.Testdata(t, arch)
			g := loadGolden(t, dir)
			m := loadModel(t, dir)
			ids := g.InputIDs
			// Each sequence: a history already in the cache, then new tokens.
			type seq struct{ history, fresh []int32 }
			seqs := []seq{
				{nil, ids[:37]},        // prefill
				{ids[:60], ids[60:61]}, // decode at position 60 (beyond mistral's window)
				{ids[:20], ids[20:29]}, // chunk of a longer prefill
				{nil, ids[5:6]},        // single-token prompt
				{ids[:79], ids[79:80]}, // decode at the end
			}
			const stride = 5 // sequences interleave their blocks
			blocksOf := func(i int) []int32 { return seqBlocks(i, stride, 6) }
			V := g.VocabSize

			alone := make([][]float32, len(seqs))
			for i, s := range seqs {
				be := newTestBackend(t, m, Options{NumBlocks: 32, Threads: 1, Weights: tc.format})
				if len(s.history) > 0 {
					logitsOf(t, be, makeBatch(seqSpec{tokens: s.history, blocks: blocksOf(i)}))
				}
				alone[i] = logitsOf(t, be, makeBatch(seqSpec{tokens: s.fresh, pos: len(s.history), blocks: blocksOf(i)}))
			}

			be := newTestBackend(t, m, Options{NumBlocks: 32, Threads: 3, Weights: tc.format})
			var hist, fresh []seqSpec
			for i, s := range seqs {
				if len(s.history) > 0 {
					hist = append(hist, seqSpec{tokens: s.history, blocks: blocksOf(i)})
				}
				fresh = append(fresh, seqSpec{tokens: s.fresh, pos: len(s.history), blocks: blocksOf(i)})
			}
			logitsOf(t, be, makeBatch(hist...))
			together := logitsOf(t, be, makeBatch(fresh...))
			off := 0
			for i, s := range seqs {
				n := len(s.fresh) * V
				if !slices.Equal(together[off:off+n], alone[i]) {
					t.Fatalf("sequence %d: batched logits differ from alone (max diff %g)", i, maxAbsDiff(together[off:off+n], alone[i]))
				}
				off += n
			}
		})
	}
}

func TestForwardErrors(t *testing.T) {
	dir := testmodels.Testdata(t, "llama-tiny")
	be := newTestBackend(t, loadModel(t, dir), Options{NumBlocks: 4, MaxBatchTokens: 32})
	ctx := context.Background()
	cases := []struct {
		name  string
		batch *backend.Batch
		want  string
	}{
		{"empty", &backend.Batch{}, "no tokens"},
		{"token outside vocabulary", makeBatch(seqSpec{tokens: []int32{1, 512}, blocks: []int32{0}}), "outside vocabulary"},
		{"block outside pool", makeBatch(seqSpec{tokens: []int32{1}, blocks: []int32{4}}), "block id 4"},
		{"block table too short", makeBatch(seqSpec{tokens: []int32{1}, pos: 16, blocks: []int32{0}}), "needs 2"},
		{"too many tokens", makeBatch(seqSpec{tokens: make([]int32, 33), blocks: []int32{0, 1, 2}}), "exceed the limit"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := be.Forward(ctx, c.batch)
			if !errors.Is(err, backend.ErrInvalidBatch) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want ErrInvalidBatch with %q", err, c.want)
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := be.Forward(cctx, makeBatch(seqSpec{tokens: []int32{1}, blocks: []int32{0}, sample: true}))
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v, want context.Canceled", err)
		}
	})
	t.Run("closed", func(t *testing.T) {
		be.Close()
		_, err := be.Forward(ctx, makeBatch(seqSpec{tokens: []int32{1}, blocks: []int32{0}}))
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("error %v, want ErrClosed", err)
		}
	})
}
