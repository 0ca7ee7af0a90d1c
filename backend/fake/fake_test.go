package fake

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sotasystems/sota/backend"
)

func batch(prompt []int32, out []int32) *backend.Batch {
	pos := make([]int32, len(prompt))
	for i := range pos {
		pos[i] = int32(i)
	}
	return &backend.Batch{
		Tokens: prompt, Positions: pos,
		SeqStarts:   []int32{0, int32(len(prompt))},
		BlockTables: []int32{0}, BlockTableStarts: []int32{0, 1},
		Samples: []backend.SampleRow{{Seq: 0, PromptTokens: prompt, OutputTokens: out}},
	}
}

func TestScriptedOutput(t *testing.T) {
	f := New(backend.Geometry{}, Script{Prompt: []int32{1, 5}, Output: []int32{7, 8}, EOS: 2})
	var got []int32
	for range 4 {
		out, err := f.Forward(context.Background(), batch([]int32{1, 5, 9}, got))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Samples[0].Token)
	}
	want := []int32{7, 8, 2, 2}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("tokens %v, want %v", got, want)
		}
	}
	if s := f.Stats(); s.Steps != 4 || s.Tokens != 12 || s.SampledTokens != 4 {
		t.Fatalf("stats %+v", s)
	}
}

func TestUnscriptedIsDeterministic(t *testing.T) {
	f := New(backend.Geometry{VocabSize: 100})
	a, _ := f.Forward(context.Background(), batch([]int32{4, 4}, nil))
	b, _ := f.Forward(context.Background(), batch([]int32{4, 4}, nil))
	if a.Samples[0].Token != b.Samples[0].Token || a.Samples[0].Token < 3 || a.Samples[0].Token >= 100 {
		t.Fatalf("tokens %d, %d", a.Samples[0].Token, b.Samples[0].Token)
	}
}

func TestErrors(t *testing.T) {
	f := New(backend.Geometry{})
	bad := batch([]int32{1}, nil)
	bad.Positions = nil
	if _, err := f.Forward(context.Background(), bad); !errors.Is(err, backend.ErrInvalidBatch) {
		t.Fatalf("invalid batch: %v", err)
	}
	boom := errors.New("boom")
	f.Fail = func(*backend.Batch) error { return boom }
	if _, err := f.Forward(context.Background(), batch([]int32{1}, nil)); !errors.Is(err, boom) {
		t.Fatalf("injected failure: %v", err)
	}
	f.Fail = nil
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Forward(ctx, batch([]int32{1}, nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	f.Close()
	if _, err := f.Forward(context.Background(), batch([]int32{1}, nil)); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
}

func TestCheckKV(t *testing.T) {
	f := New(backend.Geometry{BlockSize: 2, NumBlocks: 8})
	f.CheckKV = true
	ctx := context.Background()
	b := &backend.Batch{
		Tokens: []int32{5, 6, 7}, Positions: []int32{0, 1, 2},
		SeqStarts: []int32{0, 3}, BlockTables: []int32{3, 4}, BlockTableStarts: []int32{0, 2},
		Samples: []backend.SampleRow{{Seq: 0, PromptTokens: []int32{5, 6, 7}}},
	}
	out, err := f.Forward(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	tok := out.Samples[0].Token
	decode := func(table []int32, history []int32) *backend.Batch {
		return &backend.Batch{
			Tokens: []int32{tok}, Positions: []int32{3},
			SeqStarts: []int32{0, 1}, BlockTables: table, BlockTableStarts: []int32{0, int32(len(table))},
			Samples: []backend.SampleRow{{Seq: 0, PromptTokens: history, OutputTokens: []int32{tok}}},
		}
	}
	tests := []struct {
		name    string
		b       *backend.Batch
		wantErr bool
	}{
		{"wrong block for the prefix", decode([]int32{5, 4}, []int32{5, 6, 7}), true},
		{"history differs from the cache", decode([]int32{3, 4}, []int32{5, 9, 7}), true},
		{"null block", decode([]int32{3, 0}, []int32{5, 6, 7}), true},
		{"consistent", decode([]int32{3, 4}, []int32{5, 6, 7}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.Forward(ctx, tc.b)
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
		})
	}
	twice := &backend.Batch{
		Tokens: []int32{1, 2}, Positions: []int32{0, 0},
		SeqStarts: []int32{0, 1, 2}, BlockTables: []int32{6, 6}, BlockTableStarts: []int32{0, 1, 2},
	}
	if _, err := f.Forward(ctx, twice); err == nil {
		t.Fatal("two sequences writing one slot passed")
	}
}

func TestStepDelay(t *testing.T) {
	f := New(backend.Geometry{})
	var slept []time.Duration
	f.StepDelay = 20 * time.Millisecond
	f.Sleep = func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	if _, err := f.Forward(context.Background(), batch([]int32{1}, nil)); err != nil {
		t.Fatal(err)
	}
	if len(slept) != 1 || slept[0] != 20*time.Millisecond {
		t.Fatalf("slept %v", slept)
	}
	f.Sleep = nil
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := f.Forward(ctx, batch([]int32{1}, nil)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled during the delay: %v", err)
	}
}
