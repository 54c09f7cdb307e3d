package queries

import (
	"context"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/mcasload/mcasload/output"
)

// Domains lists the sign-in domains of the 30 days up to the warehouse's last activity, with how
// many users signed in with each, and which count as the tenant's own (at least the
// allow-list's min_users users, or added by it; not removed by it). The caller releases the
// reader. Over several tenants (UseTenants) each tenant's own domains are its own, listed under
// its name.
func (s *Session) Domains(ctx context.Context) (array.RecordReader, *output.Meta, error) {
	res, err := s.perTenant(ctx, s.domains)
	if err != nil {
		return nil, nil, err
	}
	defer res.Release()
	out, err := res.Reader()
	return out, &res.Meta, err
}

// domains is Domains over the session's activities as they are.
func (s *Session) domains(ctx context.Context) (*Result, error) {
	meta := &output.Meta{Command: "domains"}
	var last *time.Time
	if err := s.conn.QueryRowContext(ctx, "SELECT max(ts) FROM all_events").Scan(&last); err != nil {
		return nil, fmt.Errorf("read the last activity: %w", err)
	}
	if last != nil {
		from := last.Add(-domainDays * 24 * time.Hour)
		if err := s.narrowEvents(ctx, from, *last, ""); err != nil {
			return nil, err
		}
		defer s.narrowEvents(context.WithoutCancel(ctx), time.Time{}, time.Time{}, "")
		meta.Read = &output.Window{Since: from, Until: *last}
	}
	note := fmt.Sprintf("own domains: those of at least %d users' successful sign-ins in the 30 days up to the last activity", s.allow.MinUsers)
	if s.allow.Path != "" {
		note += ", edited by " + s.allow.Path
	}
	meta.Notes = append(meta.Notes, note)
	rdr, err := s.arrow.QueryContext(ctx, fmt.Sprintf(`
		WITH t AS (SELECT * FROM tenant_domains WHERE users > 0), o AS (SELECT DISTINCT domain FROM own_domains)
		SELECT coalesce(t.domain, o.domain) AS domain, coalesce(t.users, 0) AS users, o.domain IS NOT NULL AS own,
		       CASE WHEN o.domain IS NOT NULL AND coalesce(t.users, 0) >= %[1]d THEN 'sign-ins of %[1]d users or more'
		            WHEN o.domain IS NOT NULL THEN 'added by the allow-list'
		            WHEN t.users >= %[1]d THEN 'removed by the allow-list'
		            ELSE 'fewer than %[1]d users' END AS why,
		       t.first_seen, t.last_seen
		FROM t FULL JOIN o ON o.domain = t.domain
		ORDER BY own DESC, users DESC, domain`, s.allow.MinUsers))
	if err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	// read whole before the views are widened again
	res := &Result{Meta: *meta}
	if err := res.collect(rdr); err != nil {
		return nil, fmt.Errorf("list domains: %w", err)
	}
	return res, nil
}
