package admission

import "time"

// Limits are one tenant's admission limits at the time of a request.
type Limits struct {
	Streams    int           // concurrent streams (>= 1)
	Queue      int           // requests that may wait for a slot (>= 0)
	QueueWait  time.Duration // longest wait before ErrQueueTimeout (0: the queue never times out)
	RetryAfter time.Duration // advised back-off when the wait cannot be estimated
}
