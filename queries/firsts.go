package queries

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/mcasload/mcasload/warehouse"
)

// First times. The investigations that judge what is new for a user (new-country,
// new-client-fingerprint, unusual-admin-activity) read the first time of each (user, country,
// user agent, ISP) over weeks of history from the view event_firsts (events.sql). The warehouse
// keeps those first times per tenant and day (warehouse.Writer.RefreshFirsts, built with the
// classification of events.sql and Firsts' condition); during a run event_firsts reads them for the
// whole days of the events' stretch that have them, current and built under this binary's rule,
// and reads the events for the other days (the edges of the stretch, days changed since the last
// refresh, the stream's rows), so the answer is the same as from the events alone.

// classificationEnd marks the end of the classification in events.sql: the macros before it are
// what a day's first times are built with.
const classificationEnd = "-- (end of the classification"

// firstsWhere is what makes an activity count as history for event_firsts: not a failed
// sign-in (the warehouse adds user_name IS NOT NULL); firstsColumns are the columns it reads.
const firstsWhere = `is_not_login_fail(event_type, event_type_value, action, success)`

var firstsColumns = []string{"event_type", "event_type_value", "action", "success"}

// liveFirsts is event_firsts read from the events alone (outside a run, and for the days
// without first times).
const liveFirsts = `SELECT user_name, country, user_agent, isp, ts AS first_ts FROM events
WHERE user_name IS NOT NULL AND ` + firstsWhere

// firstsSpec is computed once: the rule is a hash of the classification and the condition, so a
// binary whose classification differs does not take first times another built.
var firstsSpec = func() warehouse.FirstsSpec {
	i := strings.Index(eventsSQL, classificationEnd)
	if i < 0 {
		panic("queries: events.sql lost its end-of-classification marker")
	}
	cls := eventsSQL[:i]
	sum := sha256.Sum256([]byte(cls + "\x00" + firstsWhere))
	return warehouse.FirstsSpec{Rule: hex.EncodeToString(sum[:8]), Setup: []string{cls}, Where: firstsWhere, Columns: firstsColumns}
}()

// Firsts is how the warehouse builds its first times for these investigations (pass it to
// warehouse.Writer.RefreshFirsts).
func Firsts() warehouse.FirstsSpec { return firstsSpec }

// firstsTenant is the one tenant the session's activities hold during a run ("" when that is
// not known, and event_firsts then reads the events alone).
func (s *Session) firstsTenant() string {
	if s.current != "" {
		return s.current
	}
	if len(s.tenants) == 1 {
		return s.tenants[0]
	}
	return ""
}

// firstsView is the statement that points event_firsts at [from, until] for tenant label:
// the warehouse's first times for the whole days inside the stretch that have them, the events
// for the rest. With no tenant, no first times, or from zero it reads the events alone.
func (s *Session) firstsView(ctx context.Context, from, until time.Time, label string, activities bool) (string, error) {
	stmt := `CREATE OR REPLACE TEMP VIEW event_firsts AS `
	if !s.firsts || label == "" || from.IsZero() || !activities {
		return stmt + liveFirsts, nil
	}
	// Whole days only: the first day when the stretch starts at its midnight, never the last.
	lo := from.UTC().Truncate(24 * time.Hour)
	if !lo.Equal(from.UTC()) {
		lo = lo.Add(24 * time.Hour)
	}
	hi := until.UTC().Truncate(24 * time.Hour).Add(-24 * time.Hour)
	if hi.Before(lo) {
		return stmt + liveFirsts, nil
	}
	held, err := s.firstsDays(ctx, label, lo, hi)
	if err != nil {
		return "", err
	}
	if len(held) == 0 {
		return stmt + liveFirsts, nil
	}
	in := dayRanges(held)
	out := dayRanges(complement(held, from.UTC().Truncate(24*time.Hour), until.UTC().Truncate(24*time.Hour)))
	var b strings.Builder
	b.WriteString(stmt)
	fmt.Fprintf(&b, "SELECT user_name, country, user_agent, isp, first_ts FROM activity_firsts WHERE tenant = %s AND (%s)",
		sqlString(label), in)
	if out != "" {
		fmt.Fprintf(&b, "\nUNION ALL\n%s AND source = 'activities' AND (%s)", liveFirsts, out)
	}
	if s.stream {
		fmt.Fprintf(&b, "\nUNION ALL\n%s AND source <> 'activities'", liveFirsts)
	}
	return b.String(), nil
}

// firstsDays lists the days from lo to hi whose first times tenant label holds, current and
// built under this binary's rule.
func (s *Session) firstsDays(ctx context.Context, label string, lo, hi time.Time) ([]time.Time, error) {
	rows, err := s.conn.QueryContext(ctx, `SELECT day::TIMESTAMP FROM activity_firsts_days
		WHERE tenant = $1 AND rule = $2 AND day BETWEEN $3::DATE AND $4::DATE ORDER BY day`,
		label, firstsSpec.Rule, lo.Format(time.DateOnly), hi.Format(time.DateOnly))
	if err != nil {
		return nil, fmt.Errorf("read the first times' days: %w", err)
	}
	defer rows.Close()
	var out []time.Time
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("read the first times' days: %w", err)
		}
		out = append(out, d.UTC())
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the first times' days: %w", err)
	}
	return out, nil
}

func sqlString(v string) string { return "'" + strings.ReplaceAll(v, "'", "''") + "'" }

// complement is the days from first to last (inclusive) not in held (sorted).
func complement(held []time.Time, first, last time.Time) []time.Time {
	var out []time.Time
	i := 0
	for d := first; !d.After(last); d = d.Add(24 * time.Hour) {
		for i < len(held) && held[i].Before(d) {
			i++
		}
		if i < len(held) && held[i].Equal(d) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// dayRanges is a condition on day true for exactly the days of ds (sorted): one BETWEEN per run
// of consecutive days ("" for none).
func dayRanges(ds []time.Time) string {
	var parts []string
	for i := 0; i < len(ds); {
		j := i
		for j+1 < len(ds) && ds[j+1].Equal(ds[j].Add(24*time.Hour)) {
			j++
		}
		parts = append(parts, fmt.Sprintf("day BETWEEN DATE '%s' AND DATE '%s'", ds[i].Format(time.DateOnly), ds[j].Format(time.DateOnly)))
		i = j + 1
	}
	return strings.Join(parts, " OR ")
}
