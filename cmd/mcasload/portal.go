package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/remote"
	"github.com/mcasload/mcasload/warehouse"
)

// The names --portal accepts besides a link template.
const (
	portalClassic  = "classic"
	portalDefender = "defender"
	portalNone     = "none"
)

// triageFlags set how many evidence ids a detection row keeps and where its links lead.
func triageFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "evidence", Value: queries.DefaultEvidence, Usage: "evidence activity ids a detection row keeps, the first by time (`N`; first_seen and last_seen span them all)"},
		&cli.StringFlag{Name: "portal", Value: portalClassic, Usage: "where portal_url links lead: classic (the tenant's portal, host from the scan's URL), defender (security.microsoft.com), none, or a `TEMPLATE` URL with {id} (and {portal} for the scanned host)"},
	}
}

// evidenceCap reads --evidence.
func evidenceCap(c *cli.Context) (int, error) {
	n := c.Int("evidence")
	if n < 1 || n > 1000 {
		return 0, usageErrorf("--evidence %d: give 1 to 1000 evidence ids per row", n)
	}
	return n, nil
}

// portalFor makes the links of the --portal choice for the warehouse r reads, per tenant: the
// classic portal's host is the one its scans name. Data without a known host (loaded from files,
// read from bare Parquet, or scanned from several URLs) gets no links and a note saying why;
// only a template the user wrote with {portal} in it is refused then, since they asked for it.
// The tenant "" stands for every tenant of a warehouse read as one.
func portalFor(ctx context.Context, c *cli.Context, r *warehouse.Reader) (map[string]output.Portal, error) {
	choice := strings.TrimSpace(c.String("portal"))
	template := choice
	switch choice {
	case portalNone:
		return map[string]output.Portal{"": {Note: "--portal none"}}, nil
	case portalDefender:
		template = queries.DefenderPortal
	case portalClassic, "":
		template = queries.ClassicPortal
	}
	hosts := scannedTenants(ctx, r)
	out := map[string]output.Portal{}
	for label, h := range hosts {
		p, err := queries.NewPortal(template, h.url)
		switch {
		case err == nil:
			out[label] = p
		case errors.Is(err, queries.ErrNoPortalHost) && template == queries.ClassicPortal:
			out[label] = output.Portal{Note: h.why + "; pass --portal with a link template (e.g. https://HOST/#/audits?activity.id=eq({id},)) or --portal defender"}
		case errors.Is(err, queries.ErrNoPortalHost):
			return nil, usageErrorf("--portal %s: %s; write the host into the template", choice, h.why)
		default:
			return nil, usageErrorf("--portal: %v (or classic, defender, none)", err)
		}
	}
	return out, nil
}

// tenantHost is the URL a tenant was scanned from, or "" and why none is known.
type tenantHost struct{ url, why string }

// scannedTenants is the URL each selected tenant of r was scanned from (its scan watermarks
// name exactly one), under "" as well when r reads one tenant or a warehouse without labels.
// A copy made by sync has no scan records: it reads the portals the warehouse published.
func scannedTenants(ctx context.Context, r *warehouse.Reader) map[string]tenantHost {
	labels := append([]string{""}, r.Tenants...)
	unknown := func(why string) map[string]tenantHost {
		out := map[string]tenantHost{}
		for _, l := range labels {
			out[l] = tenantHost{why: why}
		}
		return out
	}
	var urls map[string][]string
	if r.From != warehouse.FromDuckDB {
		p, ok, err := remote.LoadCopyPortals(r.Dir)
		switch {
		case err != nil:
			return unknown(fmt.Sprintf("the copy's portal hosts cannot be read (%v)", err))
		case !ok:
			return unknown("the Parquet dataset does not say which tenant it was scanned from")
		}
		urls = p.Tenants
	} else {
		keys := map[string][]string{}
		rows, err := r.Conn().QueryContext(ctx, `SELECT DISTINCT tenant, key FROM wh.state WHERE starts_with(key, ?) ORDER BY ALL`, loader.WatermarkPrefix)
		if err != nil {
			return unknown(fmt.Sprintf("the warehouse's scans cannot be read (%v)", err))
		}
		defer rows.Close()
		for rows.Next() {
			var label, key string
			if err := rows.Scan(&label, &key); err != nil {
				return unknown(fmt.Sprintf("the warehouse's scans cannot be read (%v)", err))
			}
			keys[label] = append(keys[label], key)
		}
		if err := rows.Err(); err != nil {
			return unknown(fmt.Sprintf("the warehouse's scans cannot be read (%v)", err))
		}
		urls = scannedURLs(keys)
	}
	// "" is every tenant of the warehouse, or the one tenant read.
	all := []string{}
	for _, l := range slices.Sorted(maps.Keys(urls)) {
		for _, u := range urls[l] {
			if !slices.Contains(all, u) {
				all = append(all, u)
			}
		}
	}
	byLabel := maps.Clone(urls)
	byLabel[""] = all
	if len(r.Tenants) == 1 {
		byLabel[""] = urls[r.Tenants[0]]
	}
	out := map[string]tenantHost{}
	for _, l := range labels {
		switch u := byLabel[l]; len(u) {
		case 1:
			out[l] = tenantHost{url: u[0]}
		case 0:
			out[l] = tenantHost{why: "these activities were loaded from files (mcasload load), not scanned, so no portal host is known"}
		default:
			out[l] = tenantHost{why: "these activities were scanned from several URLs (" + strings.Join(u, ", ") + "), so no one portal host is known"}
		}
	}
	return out
}

// scannedURLs turns scan watermark keys per tenant label (Writer.StateKeys, or the state
// table) into the URLs each tenant was scanned from, sorted and without repeats: what the
// portal links need, and what a publish sends along for synced copies.
func scannedURLs(keys map[string][]string) map[string][]string {
	out := map[string][]string{}
	for label, ks := range keys {
		for _, k := range ks {
			if u, _, ok := loader.ParseWatermarkKey(k); ok && !slices.Contains(out[label], u) {
				out[label] = append(out[label], u)
			}
		}
		slices.Sort(out[label])
	}
	return out
}

// useTriage applies --evidence and --portal to the session.
func useTriage(ctx context.Context, c *cli.Context, r *warehouse.Reader, s *queries.Session) error {
	n, err := evidenceCap(c)
	if err != nil {
		return err
	}
	portals, err := portalFor(ctx, c, r)
	if err != nil {
		return err
	}
	s.UseEvidence(n)
	s.UsePortal(portals[""])
	delete(portals, "")
	s.UseTenantPortals(portals)
	return nil
}
