package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

// keyJSON is a stored key as listed: never the key or its hash.
type keyJSON struct {
	ID       string     `json:"id"`
	Tenant   string     `json:"tenant"`
	Tier     string     `json:"tier"`
	Prefix   string     `json:"prefix"`
	Priority string     `json:"priority"` // "" = the tier's default
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used"`
	Revoked  *time.Time `json:"revoked"`
}

// createdKeyJSON answers POST /admin/v1/keys: the only time the key is sent.
type createdKeyJSON struct {
	ID       string    `json:"id"`
	Tenant   string    `json:"tenant"`
	Tier     string    `json:"tier"`
	Prefix   string    `json:"prefix"`
	Priority string    `json:"priority"`
	Created  time.Time `json:"created"`
	Key      string    `json:"key"`
}

// createKeyRequest is POST /admin/v1/keys's body.
type createKeyRequest struct {
	Tenant   string `json:"tenant"`
	Tier     string `json:"tier"`     // required when the tenant is new; else must match
	Priority string `json:"priority"` // slow|medium|fast|ludicrous; "" = the tier's default
}

func keyOf(k store.Key, tier string) keyJSON {
	return keyJSON{ID: k.ID, Tenant: k.Tenant, Tier: tier, Prefix: k.Prefix, Priority: k.Priority,
		Created: k.Created.UTC(), LastUsed: optTime(k.LastUsed), Revoked: optTime(k.Revoked)}
}

// listKeys answers GET /admin/v1/keys[?tenant=T].
func (s *server) listKeys(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tenant := r.URL.Query().Get("tenant")
	if tenant != "" {
		if _, err := s.cfg.DB.Tenant(ctx, tenant); err != nil {
			writeError(w, s.storeError(r, "list keys", err))
			return
		}
	}
	keys, err := s.cfg.DB.Keys(ctx, tenant)
	if err != nil {
		writeError(w, s.storeError(r, "list keys", err))
		return
	}
	tenants, err := s.cfg.DB.Tenants(ctx)
	if err != nil {
		writeError(w, s.storeError(r, "list keys", err))
		return
	}
	tierOf := make(map[string]string, len(tenants))
	for _, t := range tenants {
		tierOf[t.ID] = t.Tier
	}
	out := make([]keyJSON, 0, len(keys))
	for _, k := range keys {
		out = append(out, keyOf(k, tierOf[k.Tenant]))
	}
	writeJSON(w, http.StatusOK, list[keyJSON]{Object: "list", Data: out})
}

// createKey answers POST /admin/v1/keys, with the CLI's rules: a new tenant
// is created with the given tier (which must exist); an existing tenant's
// tier must match when given (a change is a PUT on the tenant).
func (s *server) createKey(w http.ResponseWriter, r *http.Request) {
	var req createKeyRequest
	if e := decodeBody(w, r, &req); e != nil {
		writeError(w, e)
		return
	}
	if err := admission.CheckTenantID(req.Tenant); err != nil {
		writeError(w, invalid("tenant", "%v", err))
		return
	}
	priority := ""
	if req.Priority != "" {
		c, err := admission.ParseClass(req.Priority)
		if err != nil {
			writeError(w, invalid("priority", "priority: %v", err))
			return
		}
		priority = c.String()
	}
	if req.Tier != "" {
		if _, ok := s.cfg.Tiers[req.Tier]; !ok {
			writeError(w, s.unknownTier(req.Tier))
			return
		}
	}

	ctx := r.Context()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	ten, err := s.cfg.DB.Tenant(ctx, req.Tenant)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if req.Tier == "" {
			writeError(w, invalid("tier", "tenant %s is new: give its tier (%s)", req.Tenant, s.tierNames()))
			return
		}
		ten = store.Tenant{ID: req.Tenant, Tier: req.Tier}
		if err := s.cfg.DB.SetTenant(ctx, ten); err != nil {
			writeError(w, s.storeError(r, "create tenant", err))
			return
		}
		s.log.InfoContext(ctx, "admin: created tenant", "tenant", ten.ID, "tier", ten.Tier)
	case err != nil:
		writeError(w, s.storeError(r, "create key", err))
		return
	case req.Tier != "" && req.Tier != ten.Tier:
		writeError(w, conflict("tier", "tenant %s has tier %s, not %s: change it with PUT /admin/v1/tenants/%s {\"tier\":%q}",
			ten.ID, ten.Tier, req.Tier, ten.ID, req.Tier))
		return
	}
	if _, ok := s.cfg.Tiers[ten.Tier]; !ok {
		writeError(w, conflict("tier", "tenant %s has tier %s, which this server's tiers do not define (%s): change it with PUT /admin/v1/tenants/%s",
			ten.ID, ten.Tier, s.tierNames(), ten.ID))
		return
	}

	key, hash, display, err := admission.NewKey()
	if err != nil {
		writeError(w, s.storeError(r, "create key", err))
		return
	}
	k, err := s.cfg.DB.CreateKey(ctx, store.Key{Tenant: ten.ID, Prefix: display, Priority: priority, Hash: [32]byte(hash)})
	if err != nil {
		writeError(w, s.storeError(r, "create key", err))
		return
	}
	s.log.InfoContext(ctx, "admin: created key", "key_id", k.ID, "tenant", k.Tenant, "tier", ten.Tier)
	writeJSON(w, http.StatusCreated, createdKeyJSON{ID: k.ID, Tenant: k.Tenant, Tier: ten.Tier, Prefix: k.Prefix,
		Priority: k.Priority, Created: k.Created.UTC(), Key: key})
}

// revokeKey answers DELETE /admin/v1/keys/{id}.
func (s *server) revokeKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.cfg.DB.RevokeKey(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, notFound("no key %q", id))
			return
		}
		writeError(w, s.storeError(r, "revoke key", err))
		return
	}
	s.log.InfoContext(r.Context(), "admin: revoked key", "key_id", id)
	writeJSON(w, http.StatusOK, struct {
		ID      string `json:"id"`
		Revoked bool   `json:"revoked"`
	}{id, true})
}

func (s *server) unknownTier(name string) *apiErr {
	return invalid("tier", "unknown tier %q: the tiers are %s", name, s.tierNames())
}

func (s *server) tierNames() string { return admission.TierNames(s.cfg.Tiers) }

// list is the {"object":"list","data":[…]} envelope.
type list[T any] struct {
	Object string `json:"object"`
	Data   []T    `json:"data"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}
