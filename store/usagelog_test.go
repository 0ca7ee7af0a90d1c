package store

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func usageCount(t *testing.T, db *DB) int {
	t.Helper()
	var n int
	if err := db.r.QueryRow(`SELECT count(*) FROM usage`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestUsageLogClose: Close writes everything added before it, from many
// goroutines, and Add after Close drops.
func TestUsageLogClose(t *testing.T) {
	db := openTest(t)
	l := NewUsageLog(db, nil)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 300 {
				l.Add(Usage{Tenant: fmt.Sprint("t", w), RequestID: fmt.Sprint(i), Status: 200})
			}
		})
	}
	wg.Wait()
	l.Close()
	l.Close()
	if n := usageCount(t, db); n != 1200 {
		t.Fatalf("%d records written, want 1200", n)
	}
	l.Add(Usage{Tenant: "late"})
	if l.Dropped() != 1 || l.Failed() != 0 {
		t.Fatalf("dropped %d, failed %d; want 1, 0", l.Dropped(), l.Failed())
	}
}

// TestUsageLogFlushes: a full batch is written at once, a partial one on
// the interval, both before Close.
func TestUsageLogFlushes(t *testing.T) {
	tests := []struct {
		name     string
		add      int
		batch    int
		interval time.Duration
		want     int
	}{
		{"full batch", 10, 10, time.Hour, 10},
		{"interval", 3, 100, 10 * time.Millisecond, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTest(t)
			l := newUsageLog(db, nil, 100, tt.batch, tt.interval)
			defer l.Close()
			for range tt.add {
				l.Add(Usage{Tenant: "a"})
			}
			deadline := time.Now().Add(10 * time.Second)
			for usageCount(t, db) != tt.want {
				if time.Now().After(deadline) {
					t.Fatalf("%d records written before Close, want %d", usageCount(t, db), tt.want)
				}
				time.Sleep(5 * time.Millisecond)
			}
		})
	}
}

// TestUsageLogDrops: a full buffer drops (without blocking) and the drops
// are logged at Warn with their count.
func TestUsageLogDrops(t *testing.T) {
	db := openTest(t)
	var buf syncBuffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	// Hold the writer connection so the log's first batch cannot be written.
	conn, err := db.w.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l := newUsageLog(db, logger, 4, 1, time.Hour)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			l.Add(Usage{Tenant: "a"})
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Add blocked")
	}
	dropped := l.Dropped()
	// At most the buffer plus the batch the writer holds got through.
	if dropped < 100-4-1 {
		t.Fatalf("dropped %d of 100 with a buffer of 4", dropped)
	}
	conn.Close()
	l.Close()
	if n := usageCount(t, db); int64(n) != 100-dropped {
		t.Fatalf("%d written, %d dropped, of 100", n, dropped)
	}
	if !strings.Contains(buf.String(), "level=WARN") || !strings.Contains(buf.String(), fmt.Sprint("count=", dropped)) {
		t.Fatalf("no drop warning in the log: %q", buf.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
