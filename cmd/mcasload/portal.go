package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/queries"
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

// portalFor makes the links of the --portal choice for the warehouse r reads: the classic
// portal's host is the one tenant its scans name. Data without a known host (loaded from files,
// read from bare Parquet, or scans of several tenants) gets no links and a note saying why;
// only a template the user wrote with {portal} in it is refused then, since they asked for it.
func portalFor(ctx context.Context, c *cli.Context, r *warehouse.Reader) (output.Portal, error) {
	choice := strings.TrimSpace(c.String("portal"))
	template := choice
	switch choice {
	case portalNone:
		return output.Portal{Note: "--portal none"}, nil
	case portalDefender:
		template = queries.DefenderPortal
	case portalClassic, "":
		template = queries.ClassicPortal
	}
	host, why := scannedTenant(ctx, r)
	p, err := queries.NewPortal(template, host)
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, queries.ErrNoPortalHost) && template == queries.ClassicPortal:
		return output.Portal{Note: why + "; pass --portal with a link template (e.g. https://HOST/#/audits?activity.id=eq({id},)) or --portal defender"}, nil
	case errors.Is(err, queries.ErrNoPortalHost):
		return output.Portal{}, usageErrorf("--portal %s: %s; write the host into the template", choice, why)
	}
	return output.Portal{}, usageErrorf("--portal: %v (or classic, defender, none)", err)
}

// scannedTenant is the URL of the one tenant the warehouse's scan watermarks name, or "" and why
// no host is known.
func scannedTenant(ctx context.Context, r *warehouse.Reader) (tenantURL, why string) {
	if r.From != warehouse.FromDuckDB {
		return "", "the Parquet dataset does not say which tenant it was scanned from"
	}
	rows, err := r.Conn().QueryContext(ctx, `SELECT key FROM wh.state WHERE starts_with(key, ?) ORDER BY key`, loader.WatermarkPrefix)
	if err != nil {
		return "", fmt.Sprintf("the warehouse's scans cannot be read (%v)", err)
	}
	defer rows.Close()
	var urls []string
	for rows.Next() {
		var key string
		if err := rows.Scan(&key); err != nil {
			return "", fmt.Sprintf("the warehouse's scans cannot be read (%v)", err)
		}
		if u, _, ok := loader.ParseWatermarkKey(key); ok && !slices.Contains(urls, u) {
			urls = append(urls, u)
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Sprintf("the warehouse's scans cannot be read (%v)", err)
	}
	switch len(urls) {
	case 1:
		return urls[0], ""
	case 0:
		return "", "these activities were loaded from files (mcasload load), not scanned, so no portal host is known"
	}
	return "", "this warehouse holds scans of several tenants (" + strings.Join(urls, ", ") + "), so no one portal host is known"
}

// useTriage applies --evidence and --portal to the session.
func useTriage(ctx context.Context, c *cli.Context, r *warehouse.Reader, s *queries.Session) error {
	n, err := evidenceCap(c)
	if err != nil {
		return err
	}
	p, err := portalFor(ctx, c, r)
	if err != nil {
		return err
	}
	s.UseEvidence(n)
	s.UsePortal(p)
	return nil
}
