package cpu

import (
	"errors"
	"strings"
	"testing"

	"github.com/sotasystems/sota/internal/testmodels"
	"github.com/sotasystems/sota/model"
)

func TestGeometry(t *testing.T) {
	m := loadModel(t, testmodels.Testdata(t, "llama-tiny")) // 2 layers, 2 KV heads × 16, max 256 positions
	perBlock := kvBytesPerBlock(2, 16, 2, 16)
	cases := []struct {
		name       string
		opts       Options
		wantBlocks int
		wantLen    int
		wantErr    string
	}{
		{"defaults cap at max seqs full contexts (+ the null block)", Options{}, 256*16 + 1, 256, ""},
		{"explicit blocks", Options{NumBlocks: 7}, 7, 256, ""},
		{"cache bytes", Options{KVCacheBytes: 10 * perBlock}, 10, 256, ""},
		{"max seqs shrinks default", Options{MaxSeqs: 2}, 2*16 + 1, 256, ""},
		{"shorter context", Options{MaxModelLen: 100, MaxSeqs: 1}, 7 + 1, 100, ""},
		{"block size 32", Options{BlockSize: 32, MaxSeqs: 1}, 8 + 1, 256, ""},
		{"context past the model", Options{MaxModelLen: 257}, 0, 0, "exceeds the model's max_position_embeddings"},
		{"cache too small", Options{KVCacheBytes: perBlock - 1}, 0, 0, "holds no block"},
		{"negative blocks", Options{NumBlocks: -1}, 0, 0, "must be positive"},
		{"not enough memory", Options{MemoryAvailable: 1000}, 0, 0, "not enough memory"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.opts.MemoryAvailable == 0 {
				c.opts.MemoryAvailable = -1
			}
			be, err := New(m, c.opts)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("error %v, want %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer be.Close()
			g := be.Geometry()
			if g.NumBlocks != c.wantBlocks || g.MaxModelLen != c.wantLen || g.VocabSize != 512 {
				t.Fatalf("geometry %+v, want %d blocks, max len %d", g, c.wantBlocks, c.wantLen)
			}
		})
	}
}

func TestOutOfMemoryIsTyped(t *testing.T) {
	m := loadModel(t, testmodels.Testdata(t, "qwen2-tiny"))
	_, err := New(m, Options{MemoryAvailable: 1 << 10})
	if !errors.Is(err, ErrOutOfMemory) {
		t.Fatalf("error %v, want ErrOutOfMemory", err)
	}
}

// TestRandomWeightsRun: a random-weights model (no files) runs, and its
// bytes per token count every matrix once.
func TestRandomWeightsRun(t *testing.T) {
	cfg := llama110M()
	cfg.NumLayers, cfg.VocabSize = 1, 1000
	m, err := model.Random(cfg, 3)
	if err != nil {
		t.Fatal(err)
	}
	be := newTestBackend(t, m, Options{NumBlocks: 4})
	want := int64(4 * ((768+2*768)*768 + 768*768 + 2*2048*768 + 768*2048 + 1008*768)) // vocab padded to 16
	if got := be.WeightBytesPerToken(); got != want {
		t.Fatalf("weight bytes per token %d, want %d", got, want)
	}
	if out := greedy(t, be, []int32{1, 2, 3}, 4); len(out) != 4 {
		t.Fatalf("generated %v", out)
	}
}

func TestProgressReachesTotal(t *testing.T) {
	m := loadModel(t, testmodels.Testdata(t, "mistral-tiny"))
	var calls int
	var last, total int64
	be := newTestBackend(t, m, Options{NumBlocks: 2, Progress: func(done, tot int64) {
		if done < last || tot <= 0 {
			t.Fatalf("progress went from %d to %d of %d", last, done, tot)
		}
		calls++
		last, total = done, tot
	}})
	_ = be
	if calls == 0 || last != total {
		t.Fatalf("%d progress calls, last %d of %d", calls, last, total)
	}
}
