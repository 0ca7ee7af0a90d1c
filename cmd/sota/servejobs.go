package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/server/jobs"
	"github.com/sotasystems/sota/server/openai"
)

// jobsFlags are serve's async jobs flags.
type jobsFlags struct {
	JobsQueue           int            `name:"jobs-queue" help:"Unfinished async jobs (and batch requests) one tenant may have when its tier sets no jobs_queue; one more is a 429." default:"100" env:"SOTA_JOBS_QUEUE"`
	JobsQueueTier       map[string]int `name:"jobs-queue-tier" help:"A tier's job queue, TIER=N (repeatable), over --jobs-queue." env:"SOTA_JOBS_QUEUE_TIER" placeholder:"TIER=N"`
	JobTimeout          time.Duration  `name:"job-timeout" help:"Longest a job may take from submission to its end (then TIMEOUT)." default:"24h" env:"SOTA_JOB_TIMEOUT"`
	JobRetention        time.Duration  `name:"job-retention" help:"How long finished jobs (and their results) are kept." default:"168h" env:"SOTA_JOB_RETENTION"`
	JobsConcurrency     int            `name:"jobs-concurrency" help:"Jobs running at once in open mode (with API keys each tenant's stream cap bounds its jobs)." default:"64" env:"SOTA_JOBS_CONCURRENCY"`
	WebhookAllowPrivate bool           `name:"webhook-allow-private" help:"Let webhooks reach loopback, private and link-local addresses (refused by default)." env:"SOTA_WEBHOOK_ALLOW_PRIVATE"`
}

// jobsAPI is the running jobs service; nil when serve has no database.
type jobsAPI struct {
	svc  *jobs.Service
	once sync.Once
}

// setup starts the jobs service on the tenancy's database. Jobs need one:
// without (open mode with no database file, or --api-key) the jobs routes
// answer 404 saying so.
func (f *jobsFlags) setup(rc *runContext, ten *tenancySetup, srv *openai.Server) (*jobsAPI, error) {
	switch {
	case f.JobsQueue < 1 || f.JobsConcurrency < 1:
		return nil, errors.New("--jobs-queue and --jobs-concurrency must be >= 1")
	case f.JobTimeout <= 0 || f.JobRetention <= 0:
		return nil, errors.New("--job-timeout and --job-retention must be > 0")
	}
	for tier, n := range f.JobsQueueTier {
		if n < 1 {
			return nil, fmt.Errorf("--jobs-queue-tier %s=%d: must be >= 1", tier, n)
		}
	}
	if ten.db == nil {
		rc.logger.Info("async jobs off: they need a database (give --db FILE)")
		return nil, nil
	}
	svc, err := jobs.New(jobs.Config{DB: ten.db, Generator: generator{srv}, Auth: ten.auth, Admission: ten.admission,
		Queue: f.JobsQueue, TierQueue: f.JobsQueueTier, Concurrency: f.JobsConcurrency, Timeout: f.JobTimeout,
		Retention: f.JobRetention, Logger: rc.logger, WebhookClient: webhookClient(f.WebhookAllowPrivate)})
	if err != nil {
		return nil, err
	}
	rc.logger.Info("async jobs on", "db", ten.db.Path(), "queue", f.JobsQueue, "timeout", f.JobTimeout, "retention", f.JobRetention)
	return &jobsAPI{svc: svc}, nil
}

// handler routes the jobs, files and batches APIs, and the rest to next.
func (a *jobsAPI) handler(next http.Handler) http.Handler {
	mux := http.NewServeMux()
	if a == nil {
		off := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintln(w, `{"error":{"message":"the jobs API needs a database: serve with --db FILE (or with API keys)","type":"invalid_request_error","param":null,"code":"not_found"}}`)
		}
		// The same method-qualified patterns as the service's (a bare
		// "/v1/jobs/" would conflict with "POST /v1/{model}/generate").
		for _, p := range []string{"POST /v1/{model}/generate", "POST /v1/{org}/{model}/generate",
			"GET /v1/jobs", "GET /v1/jobs/{id}", "DELETE /v1/jobs/{id}", "GET /v1/jobs/{id}/stream",
			"POST /v1/files", "GET /v1/files", "GET /v1/files/{id}", "DELETE /v1/files/{id}", "GET /v1/files/{id}/content",
			"POST /v1/batches", "GET /v1/batches", "GET /v1/batches/{id}", "POST /v1/batches/{id}/cancel"} {
			mux.HandleFunc(p, off)
		}
	} else {
		a.svc.Mount(mux)
	}
	mux.Handle("/", next)
	return mux
}

// close stops the runner (running jobs stay unfinished in the store);
// safe on nil and more than once.
func (a *jobsAPI) close() {
	if a != nil {
		a.once.Do(a.svc.Close)
	}
}

// generator runs jobs through the OpenAI server's handlers.
type generator struct{ srv *openai.Server }

func (g generator) Generate(ctx context.Context, c jobs.Call) jobs.Reply {
	r := g.srv.Do(ctx, openai.Call{Principal: c.Principal, Endpoint: c.Endpoint, Body: c.Body, RequestID: c.RequestID,
		Class: c.Class, Check: c.Check, Admit: c.Admit, Progress: c.Progress})
	return jobs.Reply{Status: r.Status, Body: r.Body}
}

// tenantsWebhookSecretCmd prints a tenant's webhook signing secret.
type tenantsWebhookSecretCmd struct {
	ID      string `arg:"" name:"tenant" help:"Tenant id."`
	dbFlags `embed:""`
}

func (c *tenantsWebhookSecretCmd) Run(rc *runContext) error {
	if err := admission.CheckTenantID(c.ID); err != nil {
		return err
	}
	db, err := c.dbFlags.open()
	if err != nil {
		return err
	}
	defer db.Close()
	secret, err := db.WebhookSecret(rc.ctx, c.ID, jobs.NewWebhookSecret)
	if err != nil {
		return err
	}
	fmt.Fprintln(rc.stdout, secret)
	return nil
}
