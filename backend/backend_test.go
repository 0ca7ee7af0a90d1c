package backend

import (
	"errors"
	"strings"
	"testing"

	"github.com/sotasystems/sota/sample"
)

func validBatch() *Batch {
	// Two sequences: a 3-token prefill at 0..2 and one decode token at position 17.
	return &Batch{
		Tokens:           []int32{1, 5, 6, 9},
		Positions:        []int32{0, 1, 2, 17},
		SeqStarts:        []int32{0, 3, 4},
		BlockTables:      []int32{0, 3, 4},
		BlockTableStarts: []int32{0, 1, 3},
		Samples:          []SampleRow{{Seq: 0}, {Seq: 1, Params: sample.Defaults()}},
	}
}

func TestValidate(t *testing.T) {
	g := Geometry{BlockSize: 16, NumBlocks: 8, MaxBatchTokens: 16, MaxSeqs: 4, MaxModelLen: 64, VocabSize: 32}
	cases := []struct {
		name    string
		mutate  func(b *Batch)
		wantErr string
	}{
		{"valid", func(*Batch) {}, ""},
		{"no tokens", func(b *Batch) { *b = Batch{} }, "no tokens"},
		{"positions length", func(b *Batch) { b.Positions = b.Positions[:3] }, "positions"},
		{"too many tokens", func(b *Batch) {
			b.Tokens = make([]int32, 17)
			b.Positions = make([]int32, 17)
		}, "exceed the limit"},
		{"seq starts", func(b *Batch) { b.SeqStarts = []int32{0, 3, 5} }, "do not cover"},
		{"empty sequence", func(b *Batch) { b.SeqStarts = []int32{0, 0, 4} }, "has no tokens"},
		{"token outside vocab", func(b *Batch) { b.Tokens[1] = 32 }, "outside vocabulary"},
		{"negative token", func(b *Batch) { b.Tokens[1] = -1 }, "outside vocabulary"},
		{"position past max", func(b *Batch) { b.Positions[3] = 64 }, "outside [0, 64)"},
		{"positions not consecutive", func(b *Batch) { b.Positions[2] = 5 }, "not consecutive"},
		{"block table short", func(b *Batch) { b.Positions[3] = 40 }, "needs 3"},
		{"block id outside pool", func(b *Batch) { b.BlockTables[2] = 8 }, "block id 8"},
		{"block table starts", func(b *Batch) { b.BlockTableStarts = []int32{0, 1} }, "block table starts"},
		{"sample unknown seq", func(b *Batch) { b.Samples[1].Seq = 2 }, "names sequence 2"},
		{"sample twice", func(b *Batch) { b.Samples[1].Seq = 0 }, "sampled twice"},
		{"bad params", func(b *Batch) { b.Samples[0].Params.Temperature = -1 }, "temperature"},
		{"too many seqs", func(b *Batch) {
			b.Tokens = []int32{1, 1, 1, 1, 1}
			b.Positions = make([]int32, 5)
			b.SeqStarts = []int32{0, 1, 2, 3, 4, 5}
			b.BlockTables = []int32{0, 1, 2, 3, 4}
			b.BlockTableStarts = []int32{0, 1, 2, 3, 4, 5}
			b.Samples = nil
		}, "5 sequences"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := validBatch()
			c.mutate(b)
			err := b.Validate(g)
			if c.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidBatch) || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want ErrInvalidBatch containing %q", err, c.wantErr)
			}
		})
	}
}

func TestSeq(t *testing.T) {
	b := validBatch()
	start, end, blocks := b.Seq(1)
	if start != 3 || end != 4 || len(blocks) != 2 || blocks[0] != 3 || b.NumSeqs() != 2 {
		t.Fatalf("Seq(1) = %d, %d, %v", start, end, blocks)
	}
}
