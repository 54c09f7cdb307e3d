package queries

import (
	"context"
	"database/sql"
	_ "embed"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mcasload/mcasload/internal/humanize"
	"github.com/mcasload/mcasload/output"
)

// The comparison of the two sources, in steps: the records and their pairs by id and the
// fingerprint candidates (compareSQL), rounds of pairing by fingerprint (compareRoundSQL), then
// every record once with its status (compareRowsSQL). docs/sources.md explains the rules.
var (
	//go:embed compare.sql
	compareSQL string
	//go:embed compare_round.sql
	compareRoundSQL string
	//go:embed compare_rows.sql
	compareRowsSQL string
)

// CompareRows says what a comparison lists.
type CompareRows string

const (
	// CompareSummary is a row per tenant, day and app: counts and samples of each difference.
	CompareSummary CompareRows = "summary"
	// CompareDifferences is a row per record that differs: only in one source, or paired by
	// fingerprint alone.
	CompareDifferences CompareRows = "differences"
	// CompareAll is a row per record of the window, pairs by id included.
	CompareAll CompareRows = "all"
)

// ParseCompareRows reads a CompareRows name.
func ParseCompareRows(s string) (CompareRows, error) {
	switch r := CompareRows(s); r {
	case CompareSummary, CompareDifferences, CompareAll:
		return r, nil
	}
	return "", fmt.Errorf("rows %q: use summary, differences or all", s)
}

// DefaultPairWindow is how far apart the two sources' times of one event may be by default.
const DefaultPairWindow = 2 * time.Minute

// maxRounds bounds the rounds of pairing by fingerprint; each round pairs at least the nearest
// candidates left, so the rounds end long before on real data.
const maxRounds = 20

// CompareRequest says what CompareSources compares.
type CompareRequest struct {
	// Since and Until bound the window by the time of the activity; zero: the span both sources
	// cover (the later first record, the earlier last one).
	Since, Until time.Time
	// Window is how far apart the two times of one event may be for a pair by fingerprint
	// (0: DefaultPairWindow).
	Window time.Duration
	// Rows says what to list (default CompareSummary); Samples how many ids of each difference
	// a summary row shows (0: 3).
	Rows    CompareRows
	Samples int
}

// Comparison is the answer of CompareSources: the rows asked for and the totals.
type Comparison struct {
	*Result
	// Pairs found by id (ReportId is the _id, bare or with _<appId>) and by fingerprint alone.
	ByID, ByFingerprint int
	// OnlyAPI and OnlyStream count the records one source lacks; APIRecords and StreamRecords
	// the records of each source in the window.
	OnlyAPI, OnlyStream       int
	APIRecords, StreamRecords int
}

// Agree is whether every record of the window is in both sources.
func (c *Comparison) Agree() bool { return c.OnlyAPI == 0 && c.OnlyStream == 0 }

// ErrNothingToCompare is returned (wrapped) when neither source holds a record; ErrNoOverlap
// when no window was named and the two sources' spans do not overlap.
var (
	ErrNothingToCompare = errors.New("neither source holds a record")
	ErrNoOverlap        = errors.New("the sources' spans do not overlap")
)

// CompareSources compares the activities API's records with the stream's per tenant, day and app
// (the tenants of the session's reader): which records are in both (and by which mapping they
// were paired), which only in one. It reads the tables, not the events view, so every record
// counts, whatever the investigations make of it.
func (s *Session) CompareSources(ctx context.Context, req CompareRequest) (*Comparison, error) {
	if req.Window <= 0 {
		req.Window = DefaultPairWindow
	}
	if req.Samples <= 0 {
		req.Samples = 3
	}
	if req.Rows == "" {
		req.Rows = CompareSummary
	}
	meta := output.Meta{Command: "compare-sources", Tenants: s.tenants}
	defaulted, err := s.compareWindow(ctx, &req)
	if err != nil {
		return nil, err
	}
	meta.Window = &output.Window{Since: req.Since, Until: req.Until}
	if defaulted {
		meta.Notes = append(meta.Notes, "window: the span both sources cover (the later first record to the earlier last one)")
	}
	secs := strconv.FormatFloat(req.Window.Seconds(), 'f', -1, 64)
	fill := strings.NewReplacer("${from}", sqlTime(req.Since.Add(-req.Window)), "${to}", sqlTime(req.Until.Add(req.Window)),
		"${since}", sqlTime(req.Since), "${until}", sqlTime(req.Until), "${window}", secs).Replace
	defer s.conn.ExecContext(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS cmp_api; DROP TABLE IF EXISTS cmp_stream;
		DROP TABLE IF EXISTS cmp_pairs; DROP TABLE IF EXISTS cmp_candidates; DROP TABLE IF EXISTS cmp_rows`)
	if _, err := s.conn.ExecContext(ctx, fill(compareSQL)); err != nil {
		return nil, fmt.Errorf("compare sources: %w", err)
	}
	for range maxRounds {
		res, err := s.conn.ExecContext(ctx, compareRoundSQL)
		if err != nil {
			return nil, fmt.Errorf("compare sources: pair by fingerprint: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			break
		}
	}
	if _, err := s.conn.ExecContext(ctx, fill(compareRowsSQL)); err != nil {
		return nil, fmt.Errorf("compare sources: %w", err)
	}
	c := &Comparison{Result: &Result{Meta: meta}}
	if err := s.compareTotals(ctx, c); err != nil {
		return nil, err
	}
	rdr, err := s.arrow.QueryContext(ctx, compareListing(req))
	if err != nil {
		return nil, fmt.Errorf("compare sources: list: %w", err)
	}
	if err := c.collect(rdr); err != nil {
		return nil, fmt.Errorf("compare sources: list: %w", err)
	}
	return c, nil
}

// compareWindow fills the window's bounds the request left zero with the span both sources
// cover (one source's when the other holds nothing) and says whether it did.
func (s *Session) compareWindow(ctx context.Context, req *CompareRequest) (bool, error) {
	if !req.Since.IsZero() && !req.Until.IsZero() {
		return false, nil
	}
	var aMin, aMax, sMin, sMax sql.NullTime
	q := `SELECT (SELECT min(ts) FROM activities), (SELECT max(ts) FROM activities),
		(SELECT min(ts) FROM cloud_app_events), (SELECT max(ts) FROM cloud_app_events)`
	if err := s.conn.QueryRowContext(ctx, q).Scan(&aMin, &aMax, &sMin, &sMax); err != nil {
		return false, fmt.Errorf("compare sources: read the sources' spans: %w", err)
	}
	from, until := spanOf(aMin, sMin, true), spanOf(aMax, sMax, false)
	if from.IsZero() {
		return false, fmt.Errorf("compare sources: %w (activities and cloud_app_events are empty for the tenants read)", ErrNothingToCompare)
	}
	if req.Since.IsZero() {
		req.Since = from
	}
	if req.Until.IsZero() {
		req.Until = until
	}
	if req.Until.Before(req.Since) {
		return false, fmt.Errorf("compare sources: %w (activities %s to %s, stream %s to %s): name the window's bounds", ErrNoOverlap,
			aMin.Time.UTC().Format(time.RFC3339), aMax.Time.UTC().Format(time.RFC3339), sMin.Time.UTC().Format(time.RFC3339), sMax.Time.UTC().Format(time.RFC3339))
	}
	return true, nil
}

// spanOf is the later (first) or earlier (last) of two sources' bounds, or the one there is.
func spanOf(a, b sql.NullTime, first bool) time.Time {
	switch {
	case !a.Valid && !b.Valid:
		return time.Time{}
	case !a.Valid:
		return b.Time.UTC()
	case !b.Valid:
		return a.Time.UTC()
	case first == a.Time.After(b.Time):
		return a.Time.UTC()
	}
	return b.Time.UTC()
}

// compareTotals counts the pairs and the records one source lacks, and says them in the meta.
func (s *Session) compareTotals(ctx context.Context, c *Comparison) error {
	q := `SELECT count(*) FILTER (WHERE mapping IN ('id', 'id_app')), count(*) FILTER (WHERE mapping LIKE 'fingerprint%'),
		count(*) FILTER (WHERE status = 'only_api'), count(*) FILTER (WHERE status = 'only_stream'),
		count(api_id), count(report_id) FROM cmp_rows`
	if err := s.conn.QueryRowContext(ctx, q).Scan(&c.ByID, &c.ByFingerprint, &c.OnlyAPI, &c.OnlyStream, &c.APIRecords, &c.StreamRecords); err != nil {
		return fmt.Errorf("compare sources: count: %w", err)
	}
	n := humanize.Count
	c.Meta.Notes = append(c.Meta.Notes,
		fmt.Sprintf("read %s activities and %s stream rows in the window", n(int64(c.APIRecords)), n(int64(c.StreamRecords))),
		fmt.Sprintf("in both: %s by id, %s by fingerprint; only in the activities API: %s; only in the stream: %s",
			n(int64(c.ByID)), n(int64(c.ByFingerprint)), n(int64(c.OnlyAPI)), n(int64(c.OnlyStream))))
	return nil
}

// compareListing is the query of the rows req asks for.
func compareListing(req CompareRequest) string {
	switch req.Rows {
	case CompareAll:
		return `SELECT * FROM cmp_rows ORDER BY tenant, day, app, coalesce(api_ts, stream_ts), api_id, report_id`
	case CompareDifferences:
		return `SELECT * FROM cmp_rows WHERE status <> 'both' OR mapping LIKE 'fingerprint%'
			ORDER BY tenant, day, app, coalesce(api_ts, stream_ts), api_id, report_id`
	}
	k := strconv.Itoa(req.Samples)
	return `SELECT tenant, day, app,
		count(*) FILTER (WHERE status = 'both') AS in_both,
		count(*) FILTER (WHERE mapping IN ('id', 'id_app')) AS by_id,
		count(*) FILTER (WHERE mapping LIKE 'fingerprint%') AS by_fingerprint,
		count(*) FILTER (WHERE status = 'only_api') AS only_api,
		count(*) FILTER (WHERE status = 'only_stream') AS only_stream,
		coalesce(list(api_id ORDER BY api_ts, api_id) FILTER (WHERE status = 'only_api'), [])[1:` + k + `] AS only_api_sample,
		coalesce(list(report_id ORDER BY stream_ts, report_id) FILTER (WHERE status = 'only_stream'), [])[1:` + k + `] AS only_stream_sample,
		coalesce(list(api_id || ' = ' || report_id ORDER BY api_ts, api_id) FILTER (WHERE mapping LIKE 'fingerprint%'), [])[1:` + k + `] AS fingerprint_sample
		FROM cmp_rows GROUP BY tenant, day, app ORDER BY tenant, day, app`
}
