package backend

import (
	"context"
	"errors"
	"fmt"

	"github.com/sotasystems/sota/sample"
)

// ErrInvalidBatch is wrapped by every error Validate returns.
var ErrInvalidBatch = errors.New("invalid batch")

// DType names an element type of weights or KV cache.
type DType string

// Element types.
const (
	F32  DType = "f32"
	F16  DType = "f16"
	BF16 DType = "bf16"
)

// Backend runs the forward pass of one model.
type Backend interface {
	// Forward runs one step over b and samples one token per entry of
	// b.Samples. It writes the K/V of every token in b into the cache blocks
	// named by the block tables.
	Forward(ctx context.Context, b *Batch) (*Output, error)
	// Geometry describes the KV cache and batch limits the backend was built with.
	Geometry() Geometry
	// Close releases weights and cache memory.
	Close() error
}

// Geometry is what the engine needs to know to schedule work for a backend.
type Geometry struct {
	BlockSize      int   // tokens per KV block
	NumBlocks      int   // block ids are 0..NumBlocks-1
	MaxBatchTokens int   // most tokens in one Forward
	MaxSeqs        int   // most sequences in one Forward
	MaxModelLen    int   // positions are < MaxModelLen
	VocabSize      int   // logits per row
	KVDType        DType // element type of the KV cache
}

// Batch is one engine step, flat so that it crosses to native code in one call.
type Batch struct {
	Tokens    []int32 // [numTokens] new token ids, sequence after sequence
	Positions []int32 // [numTokens] absolute position of each token in its sequence
	SeqStarts []int32 // [numSeqs+1] sequence i owns Tokens[SeqStarts[i]:SeqStarts[i+1]]

	BlockTables      []int32 // block ids of all sequences, concatenated
	BlockTableStarts []int32 // [numSeqs+1] sequence i's table is BlockTables[BlockTableStarts[i]:BlockTableStarts[i+1]]

	// Samples lists the sequences whose last token's logits are sampled this
	// step (a partial prefill chunk is not sampled).
	Samples []SampleRow
}

// SampleRow asks for one token from the last row of sequence Seq.
type SampleRow struct {
	Seq    int32 // index of the sequence in the batch
	Params sample.Params
	// PromptTokens and OutputTokens are the sequence's history: repetition
	// penalty looks at both, presence/frequency penalties at OutputTokens, and
	// len(OutputTokens) selects the position in the seeded random stream.
	PromptTokens []int32
	OutputTokens []int32
	// Mask, when not nil, allows only some tokens (structured outputs): bit
	// id%64 of word id/64 set means token id may be sampled; it covers the
	// vocabulary (sample.MaskWords(VocabSize) words). See
	// sample.SampleMasked. Backends that cannot apply it do not implement
	// Masker and fail a batch that carries one.
	Mask []uint64
}

// Masker is implemented by backends that apply SampleRow.Mask; the engine
// refuses constrained requests on a backend that does not.
type Masker interface {
	AppliesMasks() bool
}

// AppliesMasks reports whether be applies sampling masks.
func AppliesMasks(be Backend) bool {
	m, ok := be.(Masker)
	return ok && m.AppliesMasks()
}

// Output is what one Forward returns.
type Output struct {
	Samples []sample.Result // one per Batch.Samples entry, in the same order
}

// NumSeqs is the number of sequences in the batch.
func (b *Batch) NumSeqs() int {
	if len(b.SeqStarts) == 0 {
		return 0
	}
	return len(b.SeqStarts) - 1
}

// Seq returns the token range [start, end) and block table of sequence i.
func (b *Batch) Seq(i int) (start, end int, blocks []int32) {
	return int(b.SeqStarts[i]), int(b.SeqStarts[i+1]),
		b.BlockTables[b.BlockTableStarts[i]:b.BlockTableStarts[i+1]]
}

// Validate checks the batch against the invariants in the package doc and the
// geometry g. It is cheap (linear in the batch) and backends call it first.
func (b *Batch) Validate(g Geometry) error {
	n := len(b.Tokens)
	if n == 0 {
		return fmt.Errorf("%w: no tokens", ErrInvalidBatch)
	}
	if len(b.Positions) != n {
		return fmt.Errorf("%w: %d positions for %d tokens", ErrInvalidBatch, len(b.Positions), n)
	}
	if g.MaxBatchTokens > 0 && n > g.MaxBatchTokens {
		return fmt.Errorf("%w: %d tokens exceed the limit of %d", ErrInvalidBatch, n, g.MaxBatchTokens)
	}
	seqs := b.NumSeqs()
	if seqs == 0 || b.SeqStarts[0] != 0 || int(b.SeqStarts[seqs]) != n {
		return fmt.Errorf("%w: sequence starts %v do not cover %d tokens", ErrInvalidBatch, b.SeqStarts, n)
	}
	if g.MaxSeqs > 0 && seqs > g.MaxSeqs {
		return fmt.Errorf("%w: %d sequences exceed the limit of %d", ErrInvalidBatch, seqs, g.MaxSeqs)
	}
	if len(b.BlockTableStarts) != seqs+1 || b.BlockTableStarts[0] != 0 ||
		int(b.BlockTableStarts[seqs]) != len(b.BlockTables) {
		return fmt.Errorf("%w: block table starts %v do not cover %d block ids of %d sequences",
			ErrInvalidBatch, b.BlockTableStarts, len(b.BlockTables), seqs)
	}
	for i := 0; i < seqs; i++ {
		start, end := int(b.SeqStarts[i]), int(b.SeqStarts[i+1])
		if end <= start {
			return fmt.Errorf("%w: sequence %d has no tokens", ErrInvalidBatch, i)
		}
		if b.BlockTableStarts[i+1] < b.BlockTableStarts[i] {
			return fmt.Errorf("%w: sequence %d has a negative block table length", ErrInvalidBatch, i)
		}
		_, _, blocks := b.Seq(i)
		for j := start; j < end; j++ {
			tok, pos := b.Tokens[j], b.Positions[j]
			if tok < 0 || (g.VocabSize > 0 && int(tok) >= g.VocabSize) {
				return fmt.Errorf("%w: sequence %d: token id %d outside vocabulary of %d", ErrInvalidBatch, i, tok, g.VocabSize)
			}
			if pos < 0 || (g.MaxModelLen > 0 && int(pos) >= g.MaxModelLen) {
				return fmt.Errorf("%w: sequence %d: position %d outside [0, %d)", ErrInvalidBatch, i, pos, g.MaxModelLen)
			}
			if j > start && pos != b.Positions[j-1]+1 {
				return fmt.Errorf("%w: sequence %d: positions are not consecutive at token %d", ErrInvalidBatch, i, j-start)
			}
		}
		last := int(b.Positions[end-1])
		if need := last/g.BlockSize + 1; len(blocks) < need {
			return fmt.Errorf("%w: sequence %d: block table has %d blocks, position %d needs %d",
				ErrInvalidBatch, i, len(blocks), last, need)
		}
		for _, blk := range blocks {
			if blk < 0 || int(blk) >= g.NumBlocks {
				return fmt.Errorf("%w: sequence %d: block id %d outside [0, %d)", ErrInvalidBatch, i, blk, g.NumBlocks)
			}
		}
	}
	seen := make(map[int32]bool, len(b.Samples))
	for k, s := range b.Samples {
		if s.Seq < 0 || int(s.Seq) >= seqs {
			return fmt.Errorf("%w: sample %d names sequence %d of %d", ErrInvalidBatch, k, s.Seq, seqs)
		}
		if seen[s.Seq] {
			return fmt.Errorf("%w: sequence %d is sampled twice", ErrInvalidBatch, s.Seq)
		}
		seen[s.Seq] = true
		if err := s.Params.Validate(g.VocabSize); err != nil {
			return fmt.Errorf("%w: sample %d: %w", ErrInvalidBatch, k, err)
		}
		if s.Mask != nil && len(s.Mask) < sample.MaskWords(g.VocabSize) {
			return fmt.Errorf("%w: sample %d: mask of %d words for a vocabulary of %d", ErrInvalidBatch, k, len(s.Mask), g.VocabSize)
		}
	}
	return nil
}
