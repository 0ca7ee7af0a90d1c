package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// Finished batches and files past the cutoff go; a file an unfinished
// batch still reads stays.
func TestPurgeBatches(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	old, recent := time.Now().Add(-10*24*time.Hour), time.Now()
	for _, f := range []File{
		{ID: "file-in-use", Tenant: "a", Purpose: "batch", Filename: "in.jsonl", Created: old, Data: []byte("x")},
		{ID: "file-old", Tenant: "a", Purpose: "batch", Filename: "old.jsonl", Created: old, Data: []byte("x")},
		{ID: "file-new", Tenant: "a", Purpose: "batch", Filename: "new.jsonl", Created: recent, Data: []byte("x")},
	} {
		if err := db.PutFile(ctx, f); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []Batch{
		{ID: "batch-done", Tenant: "a", Status: "completed", Created: old, Object: []byte(`{"input_file_id":"file-old"}`)},
		{ID: "batch-running", Tenant: "a", Status: "in_progress", Created: old, Object: []byte(`{"input_file_id":"file-in-use"}`)},
		{ID: "batch-new", Tenant: "a", Status: "completed", Created: recent, Object: []byte(`{"input_file_id":"file-new"}`)},
	} {
		if err := db.PutBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	nb, nf, err := db.PurgeBatches(ctx, time.Now().Add(-7*24*time.Hour))
	if err != nil || nb != 1 || nf != 1 {
		t.Fatalf("purged %d batches, %d files, %v; want 1, 1", nb, nf, err)
	}
	if _, err := db.File(ctx, "a", "file-old", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("file-old: %v, want gone", err)
	}
	for _, id := range []string{"file-in-use", "file-new"} {
		if _, err := db.File(ctx, "a", id, false); err != nil {
			t.Errorf("%s: %v, want kept", id, err)
		}
	}
	if _, err := db.Batch(ctx, "a", "batch-done"); !errors.Is(err, ErrNotFound) {
		t.Errorf("batch-done: %v, want gone", err)
	}
	if _, err := db.Batch(ctx, "a", "batch-running"); err != nil {
		t.Errorf("batch-running: %v, want kept", err)
	}
}
