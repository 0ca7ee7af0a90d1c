package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sotasystems/sota/admission"
	"github.com/sotasystems/sota/store"
)

type keysCmd struct {
	Create keysCreateCmd `cmd:"" help:"Create an API key for a tenant (creating the tenant if new); the key is printed once."`
	List   keysListCmd   `cmd:"" help:"List API keys (their ids and prefixes, never the keys)."`
	Revoke keysRevokeCmd `cmd:"" help:"Revoke an API key: requests with it get 401 from then on."`
}

type keysCreateCmd struct {
	Tenant     string `required:"" help:"Tenant the key belongs to." env:"SOTA_TENANT"`
	Tier       string `help:"Tier of the tenant; required when the tenant is new, and must match an existing one's."`
	Priority   string `help:"Default priority class of the key's requests: slow, medium, fast or ludicrous (clamped to the tier's ceiling). Default: medium."`
	dbFlags    `embed:""`
	tiersFlags `embed:""`
}

func (c *keysCreateCmd) Run(rc *runContext) error {
	if err := admission.CheckTenantID(c.Tenant); err != nil {
		return err
	}
	tiers, err := c.tiersFlags.load()
	if err != nil {
		return err
	}
	var class *admission.Class
	if c.Priority != "" {
		cl, err := admission.ParseClass(c.Priority)
		if err != nil {
			return fmt.Errorf("--priority: %w", err)
		}
		class = &cl
	}
	db, err := c.dbFlags.open()
	if err != nil {
		return err
	}
	defer db.Close()

	ten, err := db.Tenant(rc.ctx, c.Tenant)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if c.Tier == "" {
			return fmt.Errorf("tenant %s is new: give its --tier (%s)", c.Tenant, admission.TierNames(tiers))
		}
		if _, ok := tiers[c.Tier]; !ok {
			return unknownTier(c.Tier, tiers)
		}
		ten = store.Tenant{ID: c.Tenant, Tier: c.Tier}
		if err := db.SetTenant(rc.ctx, ten); err != nil {
			return err
		}
		fmt.Fprintf(rc.stderr, "created tenant %s (tier %s)\n", ten.ID, ten.Tier)
	case err != nil:
		return err
	case c.Tier != "" && c.Tier != ten.Tier:
		return fmt.Errorf("tenant %s has tier %s, not %s: change it with 'sota tenants set %s --tier %s'",
			ten.ID, ten.Tier, c.Tier, ten.ID, c.Tier)
	}
	tier, ok := tiers[ten.Tier]
	if !ok {
		return fmt.Errorf("tenant %s has tier %s, which the tiers do not define (%s): change it with 'sota tenants set %s --tier …' or pass the --tiers file that defines it",
			ten.ID, ten.Tier, admission.TierNames(tiers), ten.ID)
	}
	priority := ""
	if class != nil {
		priority = class.String()
		if tier.Clamp(*class) != *class {
			fmt.Fprintf(rc.stderr, "note: priority %v is above tier %s's ceiling %v; requests will run at %v\n",
				*class, tier.Name, tier.Ceiling(), tier.Ceiling())
		}
	}

	key, hash, display, err := admission.NewKey()
	if err != nil {
		return err
	}
	k, err := db.CreateKey(rc.ctx, store.Key{Tenant: ten.ID, Prefix: display, Priority: priority, Hash: hash})
	if err != nil {
		return err
	}
	fmt.Fprintln(rc.stdout, key)
	fmt.Fprintf(rc.stderr, "created key %s for tenant %s (tier %s); the key above will not be shown again\n",
		k.ID, k.Tenant, ten.Tier)
	return nil
}

type keysListCmd struct {
	Tenant  string `help:"Only this tenant's keys."`
	JSON    bool   `name:"json" help:"Print JSON instead of a table."`
	dbFlags `embed:""`
}

// keyJSON is a key as `keys list --json` prints it.
type keyJSON struct {
	ID       string     `json:"id"`
	Tenant   string     `json:"tenant"`
	Tier     string     `json:"tier"`
	Prefix   string     `json:"prefix"`
	Priority string     `json:"priority"`
	Created  time.Time  `json:"created"`
	LastUsed *time.Time `json:"last_used"`
	Revoked  *time.Time `json:"revoked"`
}

func (c *keysListCmd) Run(rc *runContext) error {
	db, err := c.dbFlags.open()
	if err != nil {
		return err
	}
	defer db.Close()
	if c.Tenant != "" {
		if _, err := db.Tenant(rc.ctx, c.Tenant); err != nil {
			return err
		}
	}
	keys, err := db.Keys(rc.ctx, c.Tenant)
	if err != nil {
		return err
	}
	tenants, err := db.Tenants(rc.ctx)
	if err != nil {
		return err
	}
	tierOf := make(map[string]string, len(tenants))
	for _, t := range tenants {
		tierOf[t.ID] = t.Tier
	}
	if c.JSON {
		out := make([]keyJSON, 0, len(keys))
		for _, k := range keys {
			out = append(out, keyJSON{ID: k.ID, Tenant: k.Tenant, Tier: tierOf[k.Tenant], Prefix: k.Prefix,
				Priority: k.Priority, Created: k.Created, LastUsed: optTime(k.LastUsed), Revoked: optTime(k.Revoked)})
		}
		return writeJSON(rc.stdout, out)
	}
	tw := newTable(rc.stdout, "ID", "TENANT", "TIER", "PREFIX", "PRIORITY", "CREATED", "LAST USED", "REVOKED")
	for _, k := range keys {
		tw.row(k.ID, k.Tenant, tierOf[k.Tenant], k.Prefix, orDash(k.Priority),
			fmtTime(k.Created, "-"), fmtTime(k.LastUsed, "never"), fmtTime(k.Revoked, "-"))
	}
	return tw.flush()
}

type keysRevokeCmd struct {
	ID      string `arg:"" name:"key-id" help:"Id of the key (key_…, from 'sota keys list')."`
	dbFlags `embed:""`
}

func (c *keysRevokeCmd) Run(rc *runContext) error {
	db, err := c.dbFlags.open()
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.RevokeKey(rc.ctx, c.ID); err != nil {
		return err
	}
	fmt.Fprintf(rc.stderr, "revoked key %s\n", c.ID)
	return nil
}

func unknownTier(name string, tiers map[string]admission.Tier) error {
	return fmt.Errorf("unknown tier %q: the tiers are %s", name, admission.TierNames(tiers))
}

// table writes aligned columns.
type table struct{ tw *tabwriter.Writer }

func newTable(w io.Writer, header ...string) *table {
	t := &table{tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)}
	t.row(header...)
	return t
}

func (t *table) row(cells ...string) { fmt.Fprintln(t.tw, strings.Join(cells, "\t")) }

func (t *table) flush() error { return t.tw.Flush() }

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// fmtTime shows a stored time in UTC to the second; zero shows as none.
func fmtTime(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
