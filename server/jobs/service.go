package jobs

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

// Job states.
const (
	Pending    = "PENDING"
	Queued     = "QUEUED"
	Processing = "PROCESSING"
	Streaming  = "STREAMING"
	Finished   = "FINISHED"
	Failed     = "FAILED"
	Timeout    = "TIMEOUT"
	Cancelled  = "CANCELLED"
)

func final(status string) bool {
	switch status {
	case Finished, Failed, Timeout, Cancelled:
		return true
	}
	return false
}

// Endpoints a job may run (the OpenAI paths).
const (
	EndpointChat        = "/v1/chat/completions"
	EndpointCompletions = "/v1/completions"
)

// Generator runs one request of an endpoint as a principal, through the
// same path as an interactive request, answering into memory.
type Generator interface {
	Generate(ctx context.Context, c Call) Reply
}

// Call is one request for a Generator.
type Call struct {
	Principal admission.Principal
	Endpoint  string
	Body      []byte
	RequestID string
	Class     admission.Class
	// Check only validates (no slot, no engine): 204 or the error.
	Check bool
	// Admit takes the request's stream slot (the jobs' queueing policy).
	Admit func(context.Context, admission.Request) (*admission.Ticket, error)
	// Progress receives each choice's generated text as it comes.
	Progress func(choice int, text string)
}

// Reply is the endpoint's answer: the completion object or its error.
type Reply struct {
	Status int
	Body   []byte
}

// Config sets up a Service.
type Config struct {
	DB        *store.DB
	Generator Generator
	// Auth resolves API keys; nil is open mode (every request is
	// OpenPrincipal, whose zero Tier is admission.OpenTier()).
	Auth          admission.Authenticator
	OpenPrincipal admission.Principal
	// Admission holds the tenants' stream slots; nil: jobs are bounded by
	// Concurrency alone (open mode).
	Admission admission.Admitter
	// Queue is how many unfinished jobs a tenant may have (default 100);
	// TierQueue overrides it per tier name.
	Queue     int
	TierQueue map[string]int
	// Concurrency bounds running jobs when Admission is nil (default 64).
	Concurrency int
	// Timeout bounds a job from submission to its end (default 24h).
	Timeout time.Duration
	// Retention is how long finished jobs are kept (default 7 days);
	// PurgeInterval how often they are purged (default 1h).
	Retention     time.Duration
	PurgeInterval time.Duration
	// FlushInterval batches partial output writes (default 100ms).
	FlushInterval time.Duration
	MaxBodyBytes  int64 // default 32 MiB
	// Webhook delivery: the HTTP client (default: 10s timeout), attempts
	// before giving up (default 8) and the first retry's delay (doubling;
	// default 1s).
	WebhookClient   *http.Client
	WebhookAttempts int
	WebhookBackoff  time.Duration
	// Files bounds an uploaded file (default 100 MiB); BatchLines a batch's
	// requests (default 50,000).
	MaxFileBytes int64
	BatchLines   int
	Now          func() time.Time // default time.Now
	Logger       *slog.Logger
	// Seed draws a request's seed when it gives none (default: random).
	Seed func() int64
}

// Validate fills defaults and checks the config.
func (c *Config) Validate() error {
	switch {
	case c.DB == nil:
		return errors.New("jobs: no database")
	case c.Generator == nil:
		return errors.New("jobs: no generator")
	case c.Queue < 0 || c.Concurrency < 0 || c.Timeout < 0 || c.Retention < 0:
		return errors.New("jobs: queue, concurrency, timeout and retention must be >= 0")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.Queue == 0 {
		c.Queue = 100
	}
	if c.Concurrency == 0 {
		c.Concurrency = 64
	}
	def(&c.Timeout, 24*time.Hour)
	def(&c.Retention, 7*24*time.Hour)
	def(&c.PurgeInterval, time.Hour)
	def(&c.FlushInterval, 100*time.Millisecond)
	def(&c.WebhookBackoff, time.Second)
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 32 << 20
	}
	if c.MaxFileBytes == 0 {
		c.MaxFileBytes = 100 << 20
	}
	if c.BatchLines == 0 {
		c.BatchLines = 50000
	}
	if c.WebhookAttempts == 0 {
		c.WebhookAttempts = 8
	}
	if c.WebhookClient == nil {
		c.WebhookClient = &http.Client{Timeout: 10 * time.Second}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Seed == nil {
		c.Seed = randomSeed
	}
	if c.OpenPrincipal.Tier.Name == "" {
		c.OpenPrincipal.Tier = admission.OpenTier()
	}
	if c.OpenPrincipal.Tenant == "" {
		c.OpenPrincipal.Tenant = "default"
	}
	return nil
}

// job is an unfinished job in memory.
type job struct {
	rec       store.Job
	principal admission.Principal
	partial   []*strings.Builder // generated text per choice
	cancel    context.CancelCauseFunc
	dirty     bool          // partial changed since the last flush
	ending    bool          // its final state is being written
	changed   chan struct{} // closed (and replaced) on every change
	done      chan struct{} // closed once the final state is committed
}

// notify wakes the job's watchers; under Service.mu.
func (j *job) notify() {
	close(j.changed)
	j.changed = make(chan struct{})
}

// lane starts one tenant's jobs in order.
type lane struct {
	pending []*job
}

// Service is the jobs API and its runner.
type Service struct {
	cfg      Config
	db       *store.DB
	log      *slog.Logger
	admitter admission.Admitter
	w        *writer

	ctx    context.Context // the runner's life; cancelled by Close
	stop   context.CancelFunc
	wg     sync.WaitGroup
	kickWH chan struct{} // wakes the webhook loop

	mu         sync.Mutex
	jobs       map[string]*job  // unfinished jobs by id
	lanes      map[string]*lane // tenants with jobs to start
	unfinished map[string]int   // unfinished jobs per tenant
	draining   bool
	batches    *batches
}

// New loads the unfinished jobs (a previous process's, to run again) and
// starts the runner, the flusher, the webhook and retention loops.
func New(cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &Service{cfg: cfg, db: cfg.DB, log: cfg.Logger, admitter: cfg.Admission, ctx: ctx, stop: stop,
		kickWH: make(chan struct{}, 1), jobs: map[string]*job{}, lanes: map[string]*lane{}, unfinished: map[string]int{}}
	if s.admitter == nil {
		s.admitter = newSemaphore(cfg.Concurrency)
	}
	s.batches = newBatches(s)
	s.w = newWriter(cfg.DB, cfg.Logger)
	if err := s.batches.load(ctx); err != nil {
		stop()
		s.w.close()
		return nil, err
	}
	if err := s.recover(); err != nil {
		stop()
		s.w.close()
		return nil, err
	}
	s.goLoop(s.flushLoop)
	s.goLoop(s.purgeLoop)
	s.goLoop(s.webhookLoop)
	s.mu.Lock()
	for tenant := range s.lanes {
		s.startLane(tenant)
	}
	s.mu.Unlock()
	s.batches.finalizeIdle()
	return s, nil
}

func (s *Service) goLoop(fn func()) {
	s.wg.Add(1)
	go func() { defer s.wg.Done(); fn() }()
}

// Drain refuses new jobs (503); running ones go on until Close.
func (s *Service) Drain() {
	s.mu.Lock()
	s.draining = true
	s.mu.Unlock()
}

// Close stops the runner: running jobs are interrupted and stay unfinished
// in the store (the next start runs them again); partial output is flushed.
func (s *Service) Close() {
	s.Drain()
	s.stop()
	s.wg.Wait()
	s.flush()
	s.w.close()
}

// recover loads the store's unfinished jobs as pending, in submission order.
func (s *Service) recover() error {
	rows, err := s.db.UnfinishedJobs(s.ctx)
	if err != nil {
		return err
	}
	var w store.JobWrite
	for _, rec := range rows {
		var p admission.Principal
		if err := json.Unmarshal(rec.Principal, &p); err != nil {
			s.log.Error("job has an unreadable principal: failing it", "job", rec.ID, "err", err)
			rec.Status, rec.Finished, rec.ResultStatus = Failed, s.cfg.Now(), http.StatusInternalServerError
			rec.Result = errorJSON("internal_error", "the job's principal could not be read")
			w.Updates = append(w.Updates, update(&rec))
			continue
		}
		j := &job{rec: rec, principal: p, changed: make(chan struct{}), done: make(chan struct{})}
		j.rec.Status = Pending
		j.restorePartial()
		w.Updates = append(w.Updates, update(&j.rec))
		s.jobs[rec.ID] = j
		s.unfinished[rec.Tenant]++
		s.batches.track(j)
		l := s.lanes[rec.Tenant]
		if l == nil {
			l = &lane{}
			s.lanes[rec.Tenant] = l
		}
		l.pending = append(l.pending, j)
	}
	if len(rows) > 0 {
		s.log.Info("jobs: running again what a previous process left unfinished", "jobs", len(rows))
	}
	return s.w.do(s.ctx, &w)
}

// update is the store update of a job's state.
func update(rec *store.Job) store.JobUpdate {
	return store.JobUpdate{ID: rec.ID, Status: rec.Status, Attempts: rec.Attempts, Started: rec.Started,
		Finished: rec.Finished, Partial: rec.Partial, ResultStatus: rec.ResultStatus, Result: rec.Result}
}

// snapshotPartial stores the partial output in rec; under mu.
func (j *job) snapshotPartial() {
	texts := make([]string, len(j.partial))
	for i, b := range j.partial {
		texts[i] = b.String()
	}
	j.rec.Partial, _ = json.Marshal(texts)
	j.dirty = false
}

func (j *job) restorePartial() {
	var texts []string
	_ = json.Unmarshal(j.rec.Partial, &texts)
	j.partial = nil
	for _, t := range texts {
		b := &strings.Builder{}
		b.WriteString(t)
		j.partial = append(j.partial, b)
	}
}

// texts are the partial output; under mu.
func (j *job) texts() []string {
	out := make([]string, len(j.partial))
	for i, b := range j.partial {
		out[i] = b.String()
	}
	return out
}

// newJobID is "job_" and 128 random bits in hex.
func newJobID(prefix string) string {
	var b [16]byte
	_, _ = crand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

func randomSeed() int64 {
	var b [8]byte
	_, _ = crand.Read(b[:])
	var v int64
	for _, x := range b {
		v = v<<8 | int64(x)
	}
	return v & (1<<63 - 1)
}

// queueFor is the job queue of p's tenant: the server's per-tier override
// (--jobs-queue-tier), else the tier's own jobs_queue, else the default.
func (s *Service) queueFor(p admission.Principal) int {
	if n, ok := s.cfg.TierQueue[p.Tier.Name]; ok && n > 0 {
		return n
	}
	if p.Tier.JobsQueue > 0 {
		return p.Tier.JobsQueue
	}
	return s.cfg.Queue
}

// errQueueFull: the tenant has its job queue of unfinished jobs.
var errQueueFull = errors.New("job queue full")

// errDraining: the server is shutting down.
var errDraining = errors.New("server is shutting down")

// submit stores new jobs (durable on return) and queues them to run. All
// are refused if they would take the tenant over its job queue.
func (s *Service) submit(ctx context.Context, p admission.Principal, recs []store.Job) ([]*job, error) {
	s.mu.Lock()
	if s.draining {
		s.mu.Unlock()
		return nil, errDraining
	}
	if q := s.queueFor(p); s.unfinished[p.Tenant]+len(recs) > q {
		s.mu.Unlock()
		return nil, fmt.Errorf("%w: tenant %s has %d unfinished jobs, its queue holds %d", errQueueFull, p.Tenant, s.unfinished[p.Tenant], q)
	}
	s.unfinished[p.Tenant] += len(recs) // held while the insert commits
	s.mu.Unlock()
	pj, _ := json.Marshal(p)
	now := s.cfg.Now()
	w := &store.JobWrite{}
	for _, rec := range recs {
		rec.Tenant, rec.KeyID, rec.Principal, rec.Status = p.Tenant, p.KeyID, pj, Pending
		rec.Created, rec.Deadline = now, now.Add(s.cfg.Timeout)
		w.Inserts = append(w.Inserts, rec)
	}
	if err := s.w.do(ctx, w); err != nil {
		s.mu.Lock()
		s.unfinished[p.Tenant] -= len(recs)
		s.mu.Unlock()
		return nil, err
	}
	out := make([]*job, len(w.Inserts))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, rec := range w.Inserts {
		j := &job{rec: rec, principal: p, changed: make(chan struct{}), done: make(chan struct{})}
		out[i] = j
		s.jobs[rec.ID] = j
		s.batches.track(j)
	}
	l := s.lanes[p.Tenant]
	if l == nil {
		l = &lane{}
		s.lanes[p.Tenant] = l
		defer s.startLane(p.Tenant)
	}
	l.pending = append(l.pending, out...)
	return out, nil
}
