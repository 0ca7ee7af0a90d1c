package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

// tenantJSON is a tenant with its keys and live streams.
type tenantJSON struct {
	ID              string    `json:"id"`
	Tier            string    `json:"tier"`
	Streams         *int      `json:"streams"`          // the cap in force; null when the tier is unknown and there is no override
	StreamsOverride int       `json:"streams_override"` // 0 = the tier's
	Created         time.Time `json:"created"`
	ActiveKeys      int       `json:"active_keys"`
	Live            liveJSON  `json:"live"`
}

type liveJSON struct {
	Running int `json:"running"`
	Queued  int `json:"queued"`
}

// setTenantRequest is PUT /admin/v1/tenants/{id}'s body; absent fields are
// unchanged.
type setTenantRequest struct {
	Tier    *string `json:"tier"`    // required when the tenant is new
	Streams *int    `json:"streams"` // >= 0; 0 clears the override
}

func (s *server) tenantOf(t store.Tenant, activeKeys int, live admission.TenantState) tenantJSON {
	out := tenantJSON{ID: t.ID, Tier: t.Tier, StreamsOverride: t.Streams, Created: t.Created.UTC(),
		ActiveKeys: activeKeys, Live: liveJSON{Running: live.Running, Queued: live.Queued}}
	if tier, ok := s.cfg.Tiers[t.Tier]; ok || t.Streams > 0 {
		n := tier.Limits(t.Streams).Streams
		out.Streams = &n
	}
	return out
}

// snapshot is the live state by tenant (empty without an Admitter).
func (s *server) snapshot() map[string]admission.TenantState {
	live := map[string]admission.TenantState{}
	if s.cfg.Admission != nil {
		for _, st := range s.cfg.Admission.Snapshot() {
			live[st.Tenant] = st
		}
	}
	return live
}

// activeKeys counts the unrevoked keys by tenant (of one tenant, or all
// when tenant is "").
func (s *server) activeKeys(r *http.Request, tenant string) (map[string]int, error) {
	keys, err := s.cfg.DB.Keys(r.Context(), tenant)
	if err != nil {
		return nil, err
	}
	n := map[string]int{}
	for _, k := range keys {
		if k.Revoked.IsZero() {
			n[k.Tenant]++
		}
	}
	return n, nil
}

// listTenants answers GET /admin/v1/tenants.
func (s *server) listTenants(w http.ResponseWriter, r *http.Request) {
	tenants, err := s.cfg.DB.Tenants(r.Context())
	if err != nil {
		writeError(w, s.storeError(r, "list tenants", err))
		return
	}
	active, err := s.activeKeys(r, "")
	if err != nil {
		writeError(w, s.storeError(r, "list tenants", err))
		return
	}
	live := s.snapshot()
	out := make([]tenantJSON, 0, len(tenants))
	for _, t := range tenants {
		out = append(out, s.tenantOf(t, active[t.ID], live[t.ID]))
	}
	writeJSON(w, http.StatusOK, list[tenantJSON]{Object: "list", Data: out})
}

// getTenant answers GET /admin/v1/tenants/{id}.
func (s *server) getTenant(w http.ResponseWriter, r *http.Request) {
	t, err := s.cfg.DB.Tenant(r.Context(), r.PathValue("id"))
	if err != nil {
		writeError(w, s.storeError(r, "get tenant", err))
		return
	}
	s.writeTenant(w, r, http.StatusOK, t)
}

func (s *server) writeTenant(w http.ResponseWriter, r *http.Request, status int, t store.Tenant) {
	active, err := s.activeKeys(r, t.ID)
	if err != nil {
		writeError(w, s.storeError(r, "get tenant", err))
		return
	}
	writeJSON(w, status, s.tenantOf(t, active[t.ID], s.snapshot()[t.ID]))
}

// setTenant answers PUT /admin/v1/tenants/{id}: 201 with the tenant when it
// was created, 200 when updated.
func (s *server) setTenant(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := admission.CheckTenantID(id); err != nil {
		writeError(w, invalid("id", "%v", err))
		return
	}
	var req setTenantRequest
	if e := decodeBody(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if req.Tier != nil {
		if _, ok := s.cfg.Tiers[*req.Tier]; !ok {
			writeError(w, s.unknownTier(*req.Tier))
			return
		}
	}
	if req.Streams != nil && *req.Streams < 0 {
		writeError(w, invalid("streams", "streams = %d: want >= 0 (0 = the tier's)", *req.Streams))
		return
	}

	ctx := r.Context()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	t, err := s.cfg.DB.Tenant(ctx, id)
	status := http.StatusOK
	switch {
	case errors.Is(err, store.ErrNotFound):
		if req.Tier == nil {
			writeError(w, invalid("tier", "tenant %s is new: give its tier (%s)", id, s.tierNames()))
			return
		}
		t, status = store.Tenant{ID: id}, http.StatusCreated
	case err != nil:
		writeError(w, s.storeError(r, "set tenant", err))
		return
	}
	if req.Tier != nil {
		t.Tier = *req.Tier
	}
	if _, ok := s.cfg.Tiers[t.Tier]; !ok {
		writeError(w, conflict("tier", "tenant %s has tier %s, which this server's tiers do not define (%s): give a tier",
			t.ID, t.Tier, s.tierNames()))
		return
	}
	if req.Streams != nil {
		t.Streams = *req.Streams
	}
	if err := s.cfg.DB.SetTenant(ctx, t); err != nil {
		writeError(w, s.storeError(r, "set tenant", err))
		return
	}
	if t, err = s.cfg.DB.Tenant(ctx, id); err != nil { // the stored Created
		writeError(w, s.storeError(r, "set tenant", err))
		return
	}
	verb := "admin: updated tenant"
	if status == http.StatusCreated {
		verb = "admin: created tenant"
	}
	s.log.InfoContext(ctx, verb, "tenant", t.ID, "tier", t.Tier, "streams", t.Streams)
	s.writeTenant(w, r, status, t)
}
