package jobs

import "net/http"

// batches runs the OpenAI Batch API over the jobs.
type batches struct{ s *Service }

func newBatches(s *Service) *batches { return &batches{s: s} }

// track notes an unfinished job of a batch; under Service.mu.
func (b *batches) track(j *job) {}

// jobDone notes a batch job's end; under Service.mu.
func (b *batches) jobDone(j *job) {}

func (b *batches) mount(mux *http.ServeMux) {}
