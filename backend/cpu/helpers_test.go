package cpu

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/model"
)

// seqSpec is one sequence of a test batch: new tokens from position pos,
// with the given block table.
type seqSpec struct {
	tokens []int32
	pos    int
	blocks []int32
	sample bool
}

func makeBatch(seqs ...seqSpec) *backend.Batch {
	b := &backend.Batch{SeqStarts: []int32{0}, BlockTableStarts: []int32{0}}
	for i, s := range seqs {
		b.Tokens = append(b.Tokens, s.tokens...)
		for j := range s.tokens {
			b.Positions = append(b.Positions, int32(s.pos+j))
		}
		b.SeqStarts = append(b.SeqStarts, int32(len(b.Tokens)))
		b.BlockTables = append(b.BlockTables, s.blocks...)
		b.BlockTableStarts = append(b.BlockTableStarts, int32(len(b.BlockTables)))
		if s.sample {
			b.Samples = append(b.Samples, backend.SampleRow{Seq: int32(i)})
		}
	}
	return b
}

// seqBlocks is a block table of n blocks starting at first, stepping by stride
// (a stride > 1 interleaves sequences in the pool, as a real allocator would).
func seqBlocks(first, stride, n int) []int32 {
	t := make([]int32, n)
	for i := range t {
		t[i] = int32(first + i*stride)
	}
	return t
}

type golden struct {
	InputIDs           []int32 `json:"input_ids"`
	VocabSize          int     `json:"vocab_size"`
	LogitsFile         string  `json:"logits_file"`
	Shape              []int   `json:"shape"`
	GreedyContinuation []int32 `json:"greedy_continuation"`
	logits             []float32
}

func loadGolden(t testing.TB, dir string) *golden {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("golden.json: %v", err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, g.LogitsFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != 4*g.Shape[0]*g.Shape[1] {
		t.Fatalf("%s: %d bytes for shape %v", g.LogitsFile, len(raw), g.Shape)
	}
	g.logits = make([]float32, len(raw)/4)
	for i := range g.logits {
		g.logits[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return &g
}

func newTestBackend(t testing.TB, m *model.Model, opts Options) *Backend {
	t.Helper()
	if opts.MemoryAvailable == 0 {
		opts.MemoryAvailable = -1
	}
	be, err := New(m, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { be.Close() })
	return be
}

func loadModel(t testing.TB, dir string) *model.Model {
	t.Helper()
	m, err := model.Load(dir)
	if err != nil {
		t.Fatalf("load %s: %v", dir, err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func logitsOf(t testing.TB, be *Backend, b *backend.Batch) []float32 {
	t.Helper()
	l, err := be.Logits(context.Background(), b)
	if err != nil {
		t.Fatalf("Logits: %v", err)
	}
	return l
}

func maxAbsDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

// greedy prefills prompt in one step and decodes n tokens with Forward at
// temperature 0, one token per step, in blocks 0, 1, 2, ...
func greedy(t testing.TB, be *Backend, prompt []int32, n int) []int32 {
	t.Helper()
	bs := be.Geometry().BlockSize
	blocks := seqBlocks(0, 1, (len(prompt)+n+bs-1)/bs)
	var out []int32
	tokens, pos := prompt, 0
	for len(out) < n {
		b := makeBatch(seqSpec{tokens: tokens, pos: pos, blocks: blocks, sample: true})
		b.Samples[0].PromptTokens, b.Samples[0].OutputTokens = prompt, out
		res, err := be.Forward(context.Background(), b)
		if err != nil {
			t.Fatalf("Forward at position %d: %v", pos, err)
		}
		pos += len(tokens)
		tok := res.Samples[0].Token
		out = append(out, tok)
		tokens = []int32{tok}
	}
	return out
}
