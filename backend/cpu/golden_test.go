package cpu

import (
	"fmt"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
)

// goldenTolerance is the largest absolute logit difference accepted against
// Hugging Face transformers (float32 eager attention).
const goldenTolerance = 1e-4

// TestGoldenLogits checks each tiny architecture checkpoint (testdata/, made
// by scripts/make_tiny_checkpoints.py with transformers) against the
// transformers logits at every position, prefilled several ways over paged,
// non-contiguous block tables.
func TestGoldenLogits(t *testing.T) {
	archs := []string{"llama-tiny", "mistral-tiny", "qwen2-tiny"}
	for _, arch := range archs {
		dir := testmodels.Testdata(t, arch)
		g := loadGolden(t, dir)
		m := loadModel(t, dir)
		T, V := g.Shape[0], g.Shape[1]
		for _, chunk := range []int{T, 1, 7} {
			for _, blockSize := range []int{16, 4} {
				t.Run(fmt.Sprintf("%s/chunk%d/block%d", arch, chunk, blockSize), func(t *testing.T) {
					be := newTestBackend(t, m, Options{BlockSize: blockSize, NumBlocks: 64})
					// Odd blocks only, descending: nothing about the layout is contiguous.
					n := (T + blockSize - 1) / blockSize
					blocks := make([]int32, n)
					for i := range blocks {
						blocks[i] = int32(63 - 2*i)
					}
					got := make([]float32, 0, T*V)
					for pos := 0; pos < T; pos += chunk {
						end := min(pos+chunk, T)
						got = append(got, logitsOf(t, be, makeBatch(seqSpec{tokens: g.InputIDs[pos:end], pos: pos, blocks: blocks}))...)
					}
					d := maxAbsDiff(got, g.logits)
					if d > goldenTolerance {
						t.Fatalf("max |logit - transformers| = %g > %g", d, goldenTolerance)
					}
					t.Logf("max |logit - transformers| = %.2g", d)
				})
			}
		}
	}
}

// TestGoldenGreedyContinuation: greedy decoding through Forward (which
// samples) continues the prompt exactly as transformers' generate did.
func TestGoldenGreedyContinuation(t *testing.T) {
	for _, arch := range []string{"llama-tiny", "mistral-tiny", "qwen2-tiny"} {
		t.Run(arch, func(t *testing.T) {
			dir := testmodels.Testdata(t, arch)
			g := loadGolden(t, dir)
			be := newTestBackend(t, loadModel(t, dir), Options{NumBlocks: 16})
			got := greedy(t, be, g.InputIDs, len(g.GreedyContinuation))
			for i := range got {
				if got[i] != g.GreedyContinuation[i] {
					t.Fatalf("greedy tokens %v\nwant %v", got, g.GreedyContinuation)
				}
			}
		})
	}
}
