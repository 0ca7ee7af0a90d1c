package cpu

import "sync"

// workers splits loops across a fixed number of goroutines. Each run is
// fork-join: it returns only when every part is done, so no goroutine
// outlives the call (the backend starts nothing that runs in the background).
type workers struct {
	n int
}

// run calls fn over [0, total) split into at most w.n contiguous ranges of
// near-equal size; the calling goroutine does the first range itself.
func (w *workers) run(total int, fn func(lo, hi int)) {
	parts := min(w.n, total)
	if parts <= 1 {
		fn(0, total)
		return
	}
	var wg sync.WaitGroup
	wg.Add(parts - 1)
	for i := 1; i < parts; i++ {
		lo, hi := i*total/parts, (i+1)*total/parts
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	fn(0, total/parts)
	wg.Wait()
}
