package fake

import (
	"context"
	"errors"
	"testing"

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
