package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/sotasystems/sota/server/openai"
	"github.com/sotasystems/sota/store"
)

// idempotencyStore keeps the server's replayable responses in SQLite for
// window.
type idempotencyStore struct {
	db     *store.DB
	window time.Duration
}

func (s idempotencyStore) Get(ctx context.Context, tenant, id string) (openai.StoredResponse, bool, error) {
	r, err := s.db.Idempotent(ctx, tenant, id)
	if errors.Is(err, store.ErrNotFound) {
		return openai.StoredResponse{}, false, nil
	}
	if err != nil {
		return openai.StoredResponse{}, false, err
	}
	if time.Since(r.Created) > s.window {
		return openai.StoredResponse{}, false, nil // expired; purged later
	}
	h := http.Header{}
	if len(r.Header) > 0 {
		if err := json.Unmarshal(r.Header, &h); err != nil {
			return openai.StoredResponse{}, false, fmt.Errorf("idempotent %s/%s: headers: %w", tenant, id, err)
		}
	}
	return openai.StoredResponse{Tenant: r.Tenant, RequestID: r.RequestID, BodyHash: r.BodyHash, Status: r.Status,
		Header: h, Body: r.Body, Created: r.Created}, true, nil
}

func (s idempotencyStore) Put(ctx context.Context, r openai.StoredResponse) error {
	h, err := json.Marshal(r.Header)
	if err != nil {
		return err
	}
	err = s.db.PutIdempotent(ctx, store.Idempotent{Tenant: r.Tenant, RequestID: r.RequestID, BodyHash: r.BodyHash,
		Status: r.Status, Header: h, Body: r.Body, Created: r.Created})
	if errors.Is(err, store.ErrExists) {
		// An expired record of the same id: replace it.
		if _, perr := s.db.PurgeIdempotent(ctx, time.Now().Add(-s.window)); perr != nil {
			return perr
		}
		err = s.db.PutIdempotent(ctx, store.Idempotent{Tenant: r.Tenant, RequestID: r.RequestID, BodyHash: r.BodyHash,
			Status: r.Status, Header: h, Body: r.Body, Created: r.Created})
	}
	return err
}

// purgeIdempotent deletes expired records every interval until ctx ends.
func purgeIdempotent(ctx context.Context, db *store.DB, window, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := db.PurgeIdempotent(ctx, time.Now().Add(-window)); err != nil && ctx.Err() == nil {
			log.Warn("purging idempotency records", "err", err)
		} else if n > 0 {
			log.Debug("purged idempotency records", "n", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
