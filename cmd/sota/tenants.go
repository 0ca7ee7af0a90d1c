package main

import (
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

type tenantsCmd struct {
	Set  tenantsSetCmd  `cmd:"" help:"Create a tenant or change its tier or stream cap."`
	List tenantsListCmd `cmd:"" help:"List tenants with their tiers, stream caps and active keys."`

	WebhookSecret tenantsWebhookSecretCmd `cmd:"" name:"webhook-secret" help:"Print the tenant's webhook signing secret (made on first use)."`
}

type tenantsSetCmd struct {
	ID         string `arg:"" name:"tenant" help:"Tenant id (letters, digits, '-', '_', '.', '@')."`
	Tier       string `help:"Tier of the tenant; required when the tenant is new."`
	Streams    *int   `help:"Concurrent-stream cap overriding the tier's; 0 clears the override. Default: unchanged."`
	dbFlags    `embed:""`
	tiersFlags `embed:""`
}

func (c *tenantsSetCmd) Run(rc *runContext) error {
	if err := admission.CheckTenantID(c.ID); err != nil {
		return err
	}
	if c.Streams != nil && *c.Streams < 0 {
		return fmt.Errorf("--streams %d: want >= 0 (0 = the tier's)", *c.Streams)
	}
	tiers, err := c.tiersFlags.load()
	if err != nil {
		return err
	}
	db, err := c.dbFlags.open()
	if err != nil {
		return err
	}
	defer db.Close()
	t, err := db.Tenant(rc.ctx, c.ID)
	verb := "updated"
	switch {
	case errors.Is(err, store.ErrNotFound):
		if c.Tier == "" {
			return fmt.Errorf("tenant %s is new: give its --tier (%s)", c.ID, admission.TierNames(tiers))
		}
		t, verb = store.Tenant{ID: c.ID}, "created"
	case err != nil:
		return err
	}
	if c.Tier != "" {
		t.Tier = c.Tier
	}
	tier, ok := tiers[t.Tier]
	if !ok {
		return unknownTier(t.Tier, tiers)
	}
	if c.Streams != nil {
		t.Streams = *c.Streams
	}
	if err := db.SetTenant(rc.ctx, t); err != nil {
		return err
	}
	fmt.Fprintf(rc.stderr, "%s tenant %s: tier %s, streams %s\n", verb, t.ID, t.Tier, streamsText(t.Streams, &tier.Streams))
	return nil
}

type tenantsListCmd struct {
	JSON       bool `name:"json" help:"Print JSON instead of a table."`
	dbFlags    `embed:""`
	tiersFlags `embed:""`
}

// tenantJSON is a tenant as `tenants list --json` prints it.
type tenantJSON struct {
	ID         string    `json:"id"`
	Tier       string    `json:"tier"`
	Streams    *int      `json:"streams"`          // the cap in force; null when the tier is unknown
	Override   int       `json:"streams_override"` // 0 = none
	ActiveKeys int       `json:"active_keys"`
	Created    time.Time `json:"created"`
}

func (c *tenantsListCmd) Run(rc *runContext) error {
	tiers, err := c.tiersFlags.load()
	if err != nil {
		return err
	}
	db, err := c.dbFlags.open()
	if err != nil {
		return err
	}
	defer db.Close()
	tenants, err := db.Tenants(rc.ctx)
	if err != nil {
		return err
	}
	keys, err := db.Keys(rc.ctx, "")
	if err != nil {
		return err
	}
	active := make(map[string]int)
	for _, k := range keys {
		if k.Revoked.IsZero() {
			active[k.Tenant]++
		}
	}
	// capOf is the tenant's stream cap in force, nil when its tier is unknown.
	capOf := func(t store.Tenant) (tierCap, inForce *int) {
		tier, ok := tiers[t.Tier]
		if ok {
			tierCap = &tier.Streams
		}
		switch {
		case t.Streams > 0:
			inForce = &t.Streams
		case ok:
			inForce = tierCap
		}
		return tierCap, inForce
	}
	if c.JSON {
		out := make([]tenantJSON, 0, len(tenants))
		for _, t := range tenants {
			_, inForce := capOf(t)
			out = append(out, tenantJSON{ID: t.ID, Tier: t.Tier, Streams: inForce, Override: t.Streams,
				ActiveKeys: active[t.ID], Created: t.Created})
		}
		return writeJSON(rc.stdout, out)
	}
	tw := newTable(rc.stdout, "TENANT", "TIER", "STREAMS", "ACTIVE KEYS", "CREATED")
	for _, t := range tenants {
		tierCap, _ := capOf(t)
		tw.row(t.ID, t.Tier, streamsText(t.Streams, tierCap), strconv.Itoa(active[t.ID]), fmtTime(t.Created, "-"))
	}
	return tw.flush()
}

// streamsText shows a stream cap and where it comes from.
func streamsText(override int, tierCap *int) string {
	switch {
	case override > 0:
		return fmt.Sprintf("%d (own)", override)
	case tierCap != nil:
		return fmt.Sprintf("%d (tier)", *tierCap)
	default:
		return "? (unknown tier)"
	}
}
