package engine

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/sotasystems/sota/backend"
	"github.com/sotasystems/sota/backend/fake"
	"github.com/sotasystems/sota/sample"
	"github.com/sotasystems/sota/scheduler"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newFake starts an engine on a scripted backend that checks every block
// table against its shadow KV cache. Close and the leak checks run at cleanup.
func newFake(t *testing.T, g backend.Geometry, cfg Config, scripts ...fake.Script) (*Engine, *fake.Backend) {
	t.Helper()
	be := fake.New(g, scripts...)
	be.CheckKV = true
	if cfg.EOSTokenIDs == nil {
		cfg.EOSTokenIDs = []int32{2}
	}
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	e, err := New(be, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		synctest.Wait()
		assertIdle(t, e)
		e.Close()
	})
	return e, be
}

// assertIdle checks that no request is live and no KV block is in use.
func assertIdle(t *testing.T, e *Engine) {
	t.Helper()
	st := e.Stats()
	if st.Running != 0 || st.Waiting != 0 || st.KVBlocksUsed != 0 {
		t.Errorf("engine not idle: running %d waiting %d blocks in use %d", st.Running, st.Waiting, st.KVBlocksUsed)
	}
}

// collect reads a stream to its end: the tokens of each sequence, the
// finish reasons and the final error (nil on a clean end).
func collect(t testing.TB, s *Stream) ([][]int32, []FinishReason, error) {
	t.Helper()
	toks := make([][]int32, s.N())
	fin := make([]FinishReason, s.N())
	for {
		c, err := s.Recv(context.Background())
		if err == io.EOF {
			return toks, fin, nil
		}
		if err != nil {
			return toks, fin, err
		}
		if fin[c.Index] != "" {
			t.Fatalf("chunk after finish of sequence %d", c.Index)
		}
		toks[c.Index] = append(toks[c.Index], c.Token)
		fin[c.Index] = c.Finish
	}
}

var quiet = slog.New(slog.DiscardHandler)

var script = fake.Script{Prompt: []int32{10, 11}, Output: []int32{20, 21, 22}, EOS: 2}

func TestGenerate(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := newFake(t, backend.Geometry{}, Config{}, script)
		s, err := e.Generate(t.Context(), Request{Prompt: []int32{10, 11, 12}, N: 2})
		if err != nil {
			t.Fatal(err)
		}
		toks, fin, err := collect(t, s)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if !slices.Equal(toks[i], []int32{20, 21, 22, 2}) || fin[i] != "stop" {
				t.Fatalf("sequence %d: %v %q", i, toks[i], fin[i])
			}
		}
		if u := s.Usage(); u.PromptTokens != 3 || u.CompletionTokens != 8 {
			t.Fatalf("usage %+v", u)
		}
		tm := s.Timings()
		if tm.FirstToken.Before(tm.Arrival) || tm.Finished.Before(tm.FirstToken) {
			t.Fatalf("timings out of order: %+v", tm)
		}
	})
}

func TestGenerateRejectsBadRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := newFake(t, backend.Geometry{MaxModelLen: 64, VocabSize: 100}, Config{})
		tests := []struct {
			name string
			req  Request
			want error
		}{
			{"empty prompt", Request{}, scheduler.ErrInvalidRequest},
			{"prompt too long", Request{Prompt: make([]int32, 64)}, scheduler.ErrPromptTooLong},
			{"max tokens past the context", Request{Prompt: make([]int32, 60), MaxTokens: 10}, scheduler.ErrPromptTooLong},
			{"token outside the vocabulary", Request{Prompt: []int32{100}}, scheduler.ErrInvalidRequest},
			{"bad sampling parameters", Request{Prompt: []int32{1}, Params: sample.Params{TopP: 2}}, sample.ErrInvalidParams},
		}
		for _, tc := range tests {
			if _, err := e.Generate(t.Context(), tc.req); !errors.Is(err, tc.want) {
				t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if _, err := e.Generate(ctx, Request{Prompt: []int32{1}}); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled context: %v", err)
		}
	})
}

// Cancelling the request's context aborts it at the next step and frees its
// blocks, at every stage of its life.
func TestCancelAborts(t *testing.T) {
	for _, after := range []int{0, 1, 5} {
		synctest.Test(t, func(t *testing.T) {
			e, _ := newFake(t, backend.Geometry{MaxBatchTokens: 16}, Config{EnablePrefixCaching: true})
			ctx, cancel := context.WithCancel(t.Context())
			s, err := e.Generate(ctx, Request{Prompt: make([]int32, 40), N: 2, IgnoreEOS: true})
			if err != nil {
				t.Fatal(err)
			}
			for range after {
				if _, err := s.Recv(t.Context()); err != nil {
					t.Fatal(err)
				}
			}
			cancel()
			synctest.Wait()
			var rerr error
			for rerr == nil {
				_, rerr = s.Recv(t.Context())
			}
			if !errors.Is(rerr, ErrAborted) || !errors.Is(rerr, context.Canceled) {
				t.Fatalf("after %d chunks: error %v, want an abort", after, rerr)
			}
		})
	}
}

// A stream nobody reads does not hold up the others.
func TestSlowReaderDoesNotBlockTheLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := newFake(t, backend.Geometry{}, Config{})
		idle, err := e.Generate(t.Context(), Request{Prompt: []int32{5}, MaxTokens: 500, IgnoreEOS: true})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := e.Generate(t.Context(), Request{Prompt: []int32{6}, MaxTokens: 50, IgnoreEOS: true})
		toks, _, err := collect(t, s)
		if err != nil || len(toks[0]) != 50 {
			t.Fatalf("%d tokens, %v", len(toks[0]), err)
		}
		synctest.Wait()
		if !idle.Done() {
			t.Fatal("the unread stream did not finish")
		}
		toks, _, err = collect(t, idle)
		if err != nil || len(toks[0]) != 500 {
			t.Fatalf("unread stream: %d tokens, %v", len(toks[0]), err)
		}
	})
}

func TestBackendErrorFailsTheStepsRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, be := newFake(t, backend.Geometry{}, Config{})
		boom := errors.New("device lost")
		be.Fail = func(b *backend.Batch) error {
			if slices.Contains(b.Tokens, 99) {
				return boom
			}
			return nil
		}
		s, _ := e.Generate(t.Context(), Request{Prompt: []int32{99}})
		if _, _, err := collect(t, s); !errors.Is(err, ErrBackend) || !errors.Is(err, boom) {
			t.Fatalf("error %v, want the backend's", err)
		}
		ok, _ := e.Generate(t.Context(), Request{Prompt: []int32{7}, MaxTokens: 3})
		if _, _, err := collect(t, ok); err != nil {
			t.Fatalf("next request: %v", err)
		}
		if err := e.Health(); err != nil {
			t.Fatalf("health after a backend error: %v", err)
		}
		synctest.Wait()
		if e.Stats().Failed != 1 {
			t.Fatalf("failed %d", e.Stats().Failed)
		}
	})
}

func TestPanicFailsEverythingAndReportsUnhealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, be := newFake(t, backend.Geometry{}, Config{})
		be.Fail = func(b *backend.Batch) error {
			if slices.Contains(b.Tokens, 66) {
				panic("index out of range")
			}
			return nil
		}
		s, _ := e.Generate(t.Context(), Request{Prompt: []int32{66}})
		if _, _, err := collect(t, s); !errors.Is(err, ErrInternal) {
			t.Fatalf("error %v, want ErrInternal", err)
		}
		if err := e.Health(); !errors.Is(err, ErrUnhealthy) {
			t.Fatalf("health %v, want unhealthy", err)
		}
		again, _ := e.Generate(t.Context(), Request{Prompt: []int32{7}, MaxTokens: 3})
		if _, _, err := collect(t, again); err != nil {
			t.Fatalf("request after the panic: %v", err)
		}
	})
}

func TestCloseFailsPendingRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		be := fake.New(backend.Geometry{})
		e, err := New(be, Config{Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		// Steps wait for the gate, so the request cannot finish before Close.
		gate := make(chan struct{}, 1)
		be.Fail = func(*backend.Batch) error { <-gate; return nil }
		s, _ := e.Generate(t.Context(), Request{Prompt: []int32{5}, IgnoreEOS: true})
		gate <- struct{}{}
		if _, err := s.Recv(t.Context()); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the loop waits at the gate in its second step
		close(gate)
		e.Close()
		if _, _, err := collect(t, s); !errors.Is(err, ErrClosed) {
			t.Fatalf("error %v, want ErrClosed", err)
		}
		if _, err := e.Generate(t.Context(), Request{Prompt: []int32{5}}); !errors.Is(err, ErrClosed) {
			t.Fatalf("generate after close: %v", err)
		}
		if !errors.Is(e.Health(), ErrClosed) {
			t.Fatal("health after close")
		}
		e.Close() // twice is fine
	})
}

func TestConfigAgainstGeometry(t *testing.T) {
	g := backend.Geometry{BlockSize: 16, NumBlocks: 9, MaxBatchTokens: 64, MaxSeqs: 8, MaxModelLen: 1024, VocabSize: 100}
	tests := []struct {
		name    string
		cfg     Config
		wantLen int
	}{
		{"context lowered to the cache", Config{}, 128},
		{"explicit context that fits", Config{MaxModelLen: 100}, 100},
		{"explicit context too long for the cache", Config{MaxModelLen: 200}, 0},
		{"context beyond the model", Config{MaxModelLen: 2048}, 0},
		{"budget beyond the backend", Config{MaxNumBatchedTokens: 128}, 0},
		{"sequences beyond the backend", Config{MaxNumSeqs: 16}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Logger = quiet
			e, err := New(fake.New(g), tc.cfg)
			if tc.wantLen == 0 {
				if err == nil {
					e.Close()
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			if e.MaxModelLen() != tc.wantLen {
				t.Fatalf("max model len %d, want %d", e.MaxModelLen(), tc.wantLen)
			}
		})
	}
}

// Many concurrent clients on a small cache: every request completes with its
// scripted-by-prompt tokens, preemptions happen, nothing leaks.
func TestManyClientsWithPreemption(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, be := newFake(t, backend.Geometry{BlockSize: 4, NumBlocks: 41, MaxBatchTokens: 32, MaxModelLen: 160},
			Config{EnablePrefixCaching: true, Policy: scheduler.FairShare})
		const clients = 40
		type result struct {
			toks [][]int32
			err  error
		}
		results := make(chan result, clients)
		// Hold the first step until every client has queued its request, so
		// they compete for the cache however the goroutines are scheduled.
		release := make(chan struct{})
		be.Fail = func(*backend.Batch) error { <-release; return nil }
		for i := range clients {
			go func() {
				prompt := make([]int32, 3+i%20)
				for j := range prompt {
					prompt[j] = int32(3 + (i+j)%7)
				}
				s, err := e.Generate(t.Context(), Request{Prompt: prompt, MaxTokens: 30, IgnoreEOS: true,
					N: 1 + i%2, Tenant: string(rune('a' + i%3))})
				if err != nil {
					results <- result{err: err}
					return
				}
				toks, _, err := collect(t, s)
				results <- result{toks, err}
			}()
		}
		synctest.Wait()
		close(release)
		for range clients {
			r := <-results
			if r.err != nil {
				t.Fatal(r.err)
			}
			for _, seq := range r.toks {
				if len(seq) != 30 {
					t.Fatalf("%d tokens, want 30", len(seq))
				}
			}
		}
		synctest.Wait()
		if e.Stats().Preemptions == 0 {
			t.Fatal("no preemption: the cache is not small enough to test it")
		}
	})
}

func TestStatsTrackTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		e, _ := newFake(t, backend.Geometry{}, Config{})
		time.Sleep(time.Second) // fake clock: advances at once
		s, _ := e.Generate(t.Context(), Request{Prompt: []int32{4}, MaxTokens: 2})
		collect(t, s)
		if got := s.Timings().Arrival.Sub(start); got != time.Second {
			t.Fatalf("arrival %v after start, want 1s by the injected clock", got)
		}
	})
}

// Stop ends one sequence of a request; the others run to their end.
func TestStopOneSequence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, be := newFake(t, backend.Geometry{}, Config{})
		gate := make(chan struct{})
		be.Fail = func(*backend.Batch) error { <-gate; return nil }
		s, err := e.Generate(t.Context(), Request{Prompt: []int32{5, 6}, N: 2, MaxTokens: 20, IgnoreEOS: true})
		if err != nil {
			t.Fatal(err)
		}
		got := [2]int{}
		now, cancel := context.WithCancel(t.Context())
		cancel() // Recv(now) returns what is buffered, without waiting
		for got[0] < 3 {
			gate <- struct{}{}
			synctest.Wait()
			for {
				c, err := s.Recv(now)
				if err != nil {
					break
				}
				got[c.Index]++
			}
		}
		s.Stop(0)
		s.Stop(0) // twice is harmless
		close(gate)
		for {
			c, err := s.Recv(t.Context())
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got[c.Index]++
		}
		if got[1] != 20 || got[0] > 4 {
			t.Fatalf("tokens per sequence %v: want the stopped one at 3 (or 4 in flight) and the other 20", got)
		}
		if u := s.Usage(); u.PromptTokens != 2 || u.CompletionTokens != got[0]+got[1] {
			t.Fatalf("usage %+v, tokens %v", u, got)
		}
	})
}

func TestCancelStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, _ := newFake(t, backend.Geometry{}, Config{})
		s, err := e.Generate(t.Context(), Request{Prompt: []int32{5}, IgnoreEOS: true})
		if err != nil {
			t.Fatal(err)
		}
		s.Cancel()
		if _, _, err := collect(t, s); !errors.Is(err, ErrAborted) {
			t.Fatalf("error %v, want ErrAborted", err)
		}
	})
}

// Stopping every sequence ends the stream and forgets it.
func TestStopEverySequence(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, be := newFake(t, backend.Geometry{}, Config{})
		gate := make(chan struct{})
		be.Fail = func(*backend.Batch) error { <-gate; return nil }
		s, err := e.Generate(t.Context(), Request{Prompt: []int32{5, 6}, N: 3, MaxTokens: 50, IgnoreEOS: true})
		if err != nil {
			t.Fatal(err)
		}
		gate <- struct{}{}
		synctest.Wait()
		for i := range 3 {
			s.Stop(i)
		}
		close(gate)
		for {
			if _, err := s.Recv(t.Context()); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if n := len(e.streams); n != 0 {
			t.Fatalf("%d streams still tracked", n)
		}
	})
}
