package tokenizer

import (
	"slices"
	"sync"
	"testing"
)

// TestConcurrentEncode encodes the golden cases from several goroutines at
// once (run with -race): the shared word cache and state pool must not
// change any result.
func TestConcurrentEncode(t *testing.T) {
	for _, name := range []string{"qwen3", "llama2"} {
		g := readGolden(t, name)
		tok := loadGolden(t, name, g)
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range g.Cases {
					c := g.Cases[(i*7+w*13)%len(g.Cases)]
					if got := tok.Encode(c.Text, true); !slices.Equal(got, c.IDsSpecial) {
						errs <- c.Text
						return
					}
					d := tok.NewDecoder(false)
					for _, id := range c.IDsSpecial {
						d.Add(id)
					}
					d.Flush()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for text := range errs {
			t.Errorf("%s: concurrent Encode(%q) differs from the golden ids", name, text)
		}
	}
}
