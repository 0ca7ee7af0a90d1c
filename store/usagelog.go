package store

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// UsageLog defaults.
const (
	usageLogBuffer   = 4096             // records waiting to be written
	usageLogBatch    = 256              // records per transaction
	usageLogInterval = time.Second      // longest a record waits in a partial batch
	usageLogTimeout  = 10 * time.Second // one batch's write
)

// UsageLog writes usage records in batches off the request path.
type UsageLog struct {
	db       *DB
	logger   *slog.Logger
	batch    int
	interval time.Duration

	mu     sync.RWMutex // Add holds it shared; Close exclusively, to stop Adds
	closed bool
	ch     chan Usage
	quit   chan struct{}
	done   chan struct{}

	dropped  atomic.Int64 // records dropped because the buffer was full or the log closed
	failed   atomic.Int64 // records lost to failed writes
	reported int64        // dropped count last logged (run goroutine only)
}

// NewUsageLog starts a usage log writing to db: batches of up to 256 records,
// at least once a second while records wait. Close it to flush.
func NewUsageLog(db *DB, logger *slog.Logger) *UsageLog {
	return newUsageLog(db, logger, usageLogBuffer, usageLogBatch, usageLogInterval)
}

func newUsageLog(db *DB, logger *slog.Logger, buffer, batch int, interval time.Duration) *UsageLog {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	l := &UsageLog{
		db: db, logger: logger, batch: batch, interval: interval,
		ch: make(chan Usage, buffer), quit: make(chan struct{}), done: make(chan struct{}),
	}
	go l.run()
	return l
}

// Add queues a record for writing. It never blocks: when the buffer is full,
// or the log is closed, the record is dropped and counted.
func (l *UsageLog) Add(u Usage) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		l.dropped.Add(1)
		return
	}
	select {
	case l.ch <- u:
	default:
		l.dropped.Add(1)
	}
}

// Dropped is how many records were dropped (full buffer or closed log).
func (l *UsageLog) Dropped() int64 { return l.dropped.Load() }

// Failed is how many records were lost to failed writes.
func (l *UsageLog) Failed() int64 { return l.failed.Load() }

// Close writes every record added before it and stops the writer. It is safe
// to call more than once.
func (l *UsageLog) Close() {
	l.mu.Lock()
	already := l.closed
	l.closed = true
	l.mu.Unlock()
	if !already {
		close(l.quit)
	}
	<-l.done
}

func (l *UsageLog) run() {
	defer close(l.done)
	tick := time.NewTicker(l.interval)
	defer tick.Stop()
	pending := make([]Usage, 0, l.batch)
	flush := func() {
		if len(pending) > 0 {
			l.write(pending)
			pending = pending[:0]
		}
	}
	for {
		select {
		case u := <-l.ch:
			pending = append(pending, u)
			if len(pending) >= l.batch {
				flush()
			}
		case <-tick.C:
			flush()
			l.reportDrops()
		case <-l.quit:
			// No Add runs after quit is closed (Close held the lock to set
			// closed), so what is in the channel now is all there is.
		drain:
			for {
				select {
				case u := <-l.ch:
					pending = append(pending, u)
					if len(pending) >= l.batch {
						flush()
					}
				default:
					break drain
				}
			}
			flush()
			l.reportDrops()
			return
		}
	}
}

func (l *UsageLog) write(us []Usage) {
	ctx, cancel := context.WithTimeout(context.Background(), usageLogTimeout)
	defer cancel()
	if err := l.db.RecordUsage(ctx, us); err != nil {
		l.failed.Add(int64(len(us)))
		l.logger.Error("usage records lost", "count", len(us), "err", err)
	}
}

// reportDrops logs, at most once per interval, the records dropped since the
// last report.
func (l *UsageLog) reportDrops() {
	d := l.dropped.Load()
	if d > l.reported {
		l.logger.Warn("usage records dropped (buffer full or log closed)", "count", d-l.reported, "total", d)
		l.reported = d
	}
}
