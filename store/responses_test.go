package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestResponses(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	old := Response{ID: "resp_old", Tenant: "acme", Created: time.Unix(100, 0), Object: []byte(`{"id":"resp_old"}`), Conversation: []byte(`[]`)}
	r := Response{ID: "resp_1", Tenant: "acme", Object: []byte(`{"id":"resp_1"}`), Conversation: []byte(`[{"role":"user"}]`)}
	for _, x := range []Response{old, r} {
		if err := db.PutResponse(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Response(ctx, "acme", "resp_1")
	if err != nil || string(got.Object) != string(r.Object) || string(got.Conversation) != string(r.Conversation) || got.Created.IsZero() {
		t.Fatalf("got %+v, %v", got, err)
	}
	for _, tc := range []struct{ tenant, id string }{{"beta", "resp_1"}, {"acme", "resp_none"}} {
		if _, err := db.Response(ctx, tc.tenant, tc.id); !errors.Is(err, ErrNotFound) {
			t.Errorf("%s/%s: %v, want ErrNotFound", tc.tenant, tc.id, err)
		}
	}
	if err := db.DeleteResponse(ctx, "beta", "resp_1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("another tenant's delete: %v", err)
	}
	if n, err := db.PurgeResponses(ctx, time.Unix(200, 0)); err != nil || n != 1 {
		t.Errorf("purge: %d, %v", n, err)
	}
	if err := db.DeleteResponse(ctx, "acme", "resp_1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Response(ctx, "acme", "resp_1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}
