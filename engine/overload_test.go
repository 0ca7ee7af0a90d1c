package engine

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sotasystems/sota/backend"
)

// With MaxWaiting sequences waiting, a new request is refused with
// ErrOverloaded; once the queue drains, requests are taken again.
func TestMaxWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		e, be := newFake(t, backend.Geometry{MaxSeqs: 1}, Config{MaxNumSeqs: 1, MaxWaiting: 2})
		be.StepDelay = 10 * time.Millisecond
		ctx := context.Background()
		var streams []*Stream
		for range 3 { // one runs, two wait
			s, err := e.Generate(ctx, Request{Prompt: []int32{5, 6}, MaxTokens: 3, IgnoreEOS: true})
			if err != nil {
				t.Fatal(err)
			}
			streams = append(streams, s)
		}
		time.Sleep(15 * time.Millisecond) // one step: the stats count the waiting
		synctest.Wait()
		if _, err := e.Generate(ctx, Request{Prompt: []int32{5}, MaxTokens: 1}); !errors.Is(err, ErrOverloaded) {
			t.Fatalf("a fourth request with two waiting: err = %v, want ErrOverloaded", err)
		}
		for _, s := range streams {
			if _, _, err := collect(t, s); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(15 * time.Millisecond)
		synctest.Wait()
		s, err := e.Generate(ctx, Request{Prompt: []int32{5}, MaxTokens: 1})
		if err != nil {
			t.Fatalf("after the queue drained: %v", err)
		}
		collect(t, s)
	})
}
