// Package detect turns what the detections find in new activities into findings: which
// activities are new (their created time is past the tenant's detect watermark), the span each
// detection runs over, the candidates whose evidence holds a new activity, their finding key
// (investigation, entities, time bucket), the merge with the stored findings (a finding seen
// again extends last_seen and is delivered again only when its severity rose or it was resolved
// and came back) and the outbox that marks a finding delivered only once every receiver accepted
// it (docs/detect.md).
package detect

import (
	"bytes"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mcasload/mcasload/delivery"
	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/warehouse"
)

// Span is what is new since the watermark: how many activities and stream rows, the times they
// cover, the days they fall on, the newest created time among the activities and the newest
// commit among the stream rows.
type Span struct {
	Count      int64     // new activities and stream rows
	Streamed   int64     // of which stream rows
	From, To   time.Time // time (ts) of the first and last new row
	MaxCreated time.Time
	MaxCommit  int64
	// Days are the UTC days (their midnights, in order) holding a new row: detect runs each
	// detection once per unit of time holding one (Units), never over a span that starts where
	// the new rows happen to start.
	Days []time.Time
}

// NewActivities reads the span of what is new past mark in conn's views: the activities whose
// created time is past mark.Created, and the stream rows (cloud_app_events) whose loading commit
// is past mark.Stream (the stream has no created time; the reader's cloud_app_event_loads view
// says which commit loaded each row).
func NewActivities(ctx context.Context, conn *sql.Conn, mark warehouse.DetectMark) (Span, error) {
	var sp Span
	where, args := newSince(mark.Created)
	swhere, sargs, err := newStreamSince(ctx, conn, mark.Stream)
	if err != nil {
		return sp, err
	}
	// a: the new activities; s: the new stream rows.
	with := `WITH a AS (SELECT ts, created FROM activities WHERE ` + where + `),
		s AS (SELECT ts, commit_seq FROM ` + warehouse.CloudAppEventLoadsView + ` WHERE ` + swhere + `) `
	args = slices.Concat(args, sargs)
	var from, to, created sql.NullTime
	var commit sql.NullInt64
	err = conn.QueryRowContext(ctx, with+`SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM s),
		least((SELECT min(ts) FROM a), (SELECT min(ts) FROM s)), greatest((SELECT max(ts) FROM a), (SELECT max(ts) FROM s)),
		(SELECT max(created) FROM a), (SELECT max(commit_seq) FROM s)`, args...).Scan(&sp.Count, &sp.Streamed, &from, &to, &created, &commit)
	if err != nil {
		return sp, fmt.Errorf("read new activities: %w", err)
	}
	sp.Count += sp.Streamed
	sp.From, sp.To, sp.MaxCreated, sp.MaxCommit = from.Time.UTC(), to.Time.UTC(), created.Time.UTC(), commit.Int64
	if sp.Count == 0 {
		return sp, nil
	}
	day := (24 * time.Hour).Milliseconds()
	rows, err := conn.QueryContext(ctx, fmt.Sprintf(`%sSELECT DISTINCT epoch_ms(ts) // %d AS d FROM (SELECT ts FROM a UNION ALL SELECT ts FROM s) ORDER BY d`, with, day), args...)
	if err != nil {
		return sp, fmt.Errorf("read the days of new activities: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var d int64
		if err := rows.Scan(&d); err != nil {
			return sp, fmt.Errorf("read the days of new activities: %w", err)
		}
		sp.Days = append(sp.Days, time.UnixMilli(d*day).UTC())
	}
	if err := rows.Err(); err != nil {
		return sp, fmt.Errorf("read the days of new activities: %w", err)
	}
	return sp, nil
}

// Candidate is one detection row whose evidence holds a new activity, with its finding key.
type Candidate struct {
	Key         delivery.Key
	Title       string
	Severity    delivery.Severity
	Techniques  []string
	FirstSeen   time.Time
	LastSeen    time.Time
	EvidenceIDs []string
	PortalURLs  []string
	PortalNote  string
	Row         json.RawMessage
}

// Options say what Find runs and how.
type Options struct {
	Tenant string
	// Investigations are the detections to run (pivots are refused).
	Investigations []*queries.Investigation
	// MinSeverity drops rows below it ("" keeps every row).
	MinSeverity delivery.Severity
	// Watermark says what is new: activities created past its Created, stream rows loaded by a
	// commit past its Stream.
	Watermark warehouse.DetectMark
	// Now anchors the investigations' relative defaults.
	Now time.Time
}

// wholeEvidence is the evidence cap Find asks for: every evidence id, so that a new activity
// late in a long finding still makes it a candidate; the stored finding keeps the first
// queries.DefaultEvidence.
const wholeEvidence = 1 << 20

// Unit is the stretch of activity time one run of inv covers: its bucket when that is whole
// days (a week for 7d), else a day (an hourly detection runs over a day and reports per hour).
func Unit(inv *queries.Investigation) time.Duration {
	if b := inv.Bucket; b > 0 && b%(24*time.Hour) == 0 {
		return b
	}
	return 24 * time.Hour
}

// Windows are the activity-time windows inv runs over for sp: each unit (Unit) holding a new
// activity, whole, from its start to its end. The windows depend only on which units hold new
// activities, never on where in them the new activities start, so a detection judges an
// activity against the same history (its declared history before the unit) and in the same
// company (the whole unit) whichever night first sees it, and one detect over everything finds
// what detect night by night found. A unit holding no new activity yields no candidate and is
// not run.
func Windows(inv *queries.Investigation, sp Span) [][2]time.Time {
	u := Unit(inv)
	var out [][2]time.Time
	for _, d := range sp.Days {
		since := d.Truncate(u)
		if u == 7*24*time.Hour {
			since = isoWeekStart(d)
		}
		if n := len(out); n > 0 && out[n-1][0].Equal(since) {
			continue
		}
		out = append(out, [2]time.Time{since, since.Add(u - time.Millisecond)})
	}
	return out
}

// isoWeekStart is the Monday 00:00 UTC of the ISO week holding t (the 7d bucket's week).
func isoWeekStart(t time.Time) time.Time {
	d := t.UTC().Truncate(24 * time.Hour)
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
}

// Find runs each investigation over its windows of sp (Windows) and returns its candidates:
// rows whose evidence includes an activity created after the watermark, one per finding key
// (rows sharing a key are merged). notes say what each run could not see (provisional history).
//
// The runs go window by window, and within a window by the history they read, in one batch of
// the session (queries.Session.Batch): the runs that read the same stretch of events share one
// narrowing of the events view and one history check. Each investigation still sees its windows
// in order, so the candidates and notes are those of running it window by window on its own.
func Find(ctx context.Context, s *queries.Session, conn *sql.Conn, sp Span, opts Options) (cands []Candidate, notes []string, err error) {
	if sp.Count == 0 {
		return nil, nil, nil
	}
	type run struct {
		inv int
		w   [2]time.Time
	}
	var runs []run
	invs := opts.Investigations
	for i, inv := range invs {
		if inv.Kind != queries.Detection {
			return nil, nil, fmt.Errorf("%s is a pivot: detect runs detections only", inv.Name)
		}
		for _, w := range Windows(inv, sp) {
			runs = append(runs, run{i, w})
		}
	}
	slices.SortStableFunc(runs, func(a, b run) int {
		x, y := invs[a.inv], invs[b.inv]
		return cmp.Or(a.w[0].Compare(b.w[0]), a.w[1].Compare(b.w[1]), cmp.Compare(x.HistoryParam, y.HistoryParam), cmp.Compare(x.History, y.History))
	})
	found := make([][]Candidate, len(invs))
	runNotes := make([][]string, len(invs))
	err = s.Batch(ctx, func() error {
		for _, r := range runs {
			fw, n, err := findIn(ctx, s, conn, invs[r.inv], r.w[0], r.w[1], opts)
			if err != nil {
				return err
			}
			for _, x := range n {
				if x = invs[r.inv].Name + ": " + x; !slices.Contains(runNotes[r.inv], x) {
					runNotes[r.inv] = append(runNotes[r.inv], x)
				}
			}
			found[r.inv] = mergeByKey(found[r.inv], fw)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for i := range invs {
		cands = append(cands, found[i]...)
		notes = append(notes, runNotes[i]...)
	}
	return cands, notes, nil
}

// findIn runs inv over [since, until] and returns its candidates and the run's notes.
func findIn(ctx context.Context, s *queries.Session, conn *sql.Conn, inv *queries.Investigation, since, until time.Time, opts Options) ([]Candidate, []string, error) {
	res, err := s.Investigate(ctx, inv, queries.Request{Now: opts.Now, Evidence: wholeEvidence,
		Values: map[string]string{"since": since.Format(time.RFC3339Nano), "until": until.Format(time.RFC3339Nano)}})
	if err != nil {
		return nil, nil, err
	}
	rows, err := resultRows(res)
	note := ""
	if res.Meta.Portal != nil {
		note = res.Meta.Portal.Note
	}
	notes := res.Meta.Notes
	res.Release()
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", inv.Name, err)
	}
	found, err := candidates(ctx, conn, inv, rows, since, opts)
	if err != nil {
		return nil, nil, err
	}
	for i := range found {
		if len(found[i].PortalURLs) == 0 {
			found[i].PortalNote = note
		}
	}
	return found, notes, nil
}

// mergeByKey appends to a the candidates of b, merging those whose key a already holds.
func mergeByKey(a, b []Candidate) []Candidate {
	for _, c := range b {
		if j := slices.IndexFunc(a, func(x Candidate) bool { return x.Key.ID() == c.Key.ID() }); j >= 0 {
			a[j].absorb(c)
			continue
		}
		a = append(a, c)
	}
	return a
}

// resultRows renders the result's rows as JSON objects, the form a finding keeps its row in.
func resultRows(res *queries.Result) ([]map[string]json.RawMessage, error) {
	rdr, err := res.Reader()
	if err != nil {
		return nil, err
	}
	defer rdr.Release()
	var buf bytes.Buffer
	if _, err := output.Write(&buf, rdr, output.Options{Format: output.NDJSON}); err != nil {
		return nil, err
	}
	var out []map[string]json.RawMessage
	for line := range bytes.Lines(buf.Bytes()) {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(line, &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// candidates keeps the rows whose evidence holds a new activity and builds their keys.
func candidates(ctx context.Context, conn *sql.Conn, inv *queries.Investigation, rows []map[string]json.RawMessage, since time.Time, opts Options) ([]Candidate, error) {
	var all []string
	evidence := make([][]string, len(rows))
	for i, r := range rows {
		if err := json.Unmarshal(r[queries.ColEvidenceIDs], &evidence[i]); err != nil {
			return nil, fmt.Errorf("read %s evidence_ids: %w", inv.Name, err)
		}
		all = append(all, evidence[i]...)
	}
	fresh, err := newIDs(ctx, conn, all, opts.Watermark)
	if err != nil {
		return nil, err
	}
	var out []Candidate
	byKey := map[string]int{}
	for i, r := range rows {
		if !slices.ContainsFunc(evidence[i], func(id string) bool { return fresh[id] }) {
			continue
		}
		c, err := candidate(inv, r, evidence[i], since, opts.Tenant)
		if err != nil {
			return nil, err
		}
		if opts.MinSeverity != "" && c.Severity.Rank() < opts.MinSeverity.Rank() {
			continue
		}
		if j, ok := byKey[c.Key.ID()]; ok {
			out[j].absorb(c)
			continue
		}
		byKey[c.Key.ID()] = len(out)
		out = append(out, c)
	}
	return out, nil
}

// newSince is the condition of an activity created after watermark: every activity when the
// watermark is zero (the first run), including those the service gave no created time.
func newSince(watermark time.Time) (string, []any) {
	if watermark.IsZero() {
		return "true", nil
	}
	return "created > ?", []any{watermark.UTC()}
}

// newStreamSince is the condition, over the cloud_app_event_loads view, of a stream row loaded
// by a commit after commit: every row when commit is 0 (detect never looked at the stream). A
// reader without the view (one of Parquet alone) cannot tell which stream rows are new: an error
// when the stream holds rows, none otherwise.
func newStreamSince(ctx context.Context, conn *sql.Conn, commit int64) (string, []any, error) {
	var views int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT table_name FROM duckdb_tables() UNION ALL SELECT view_name FROM duckdb_views())
		WHERE table_name = ?`, warehouse.CloudAppEventLoadsView).Scan(&views); err != nil {
		return "", nil, fmt.Errorf("look for the stream's commits: %w", err)
	}
	if views == 0 {
		var rows bool
		err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM cloud_app_events)`).Scan(&rows)
		if err == nil && rows {
			return "", nil, errors.New("read new stream rows: which commit loaded each row is in the DuckDB file, and this reader reads Parquet alone: run detect on the warehouse itself")
		}
		if _, err := conn.ExecContext(ctx, `CREATE OR REPLACE TEMP VIEW `+warehouse.CloudAppEventLoadsView+
			` AS SELECT NULL::VARCHAR AS tenant, NULL::VARCHAR AS report_id, NULL::TIMESTAMPTZ AS ts, NULL::DATE AS day, NULL::BIGINT AS commit_seq WHERE false`); err != nil {
			return "", nil, fmt.Errorf("look for the stream's commits: %w", err)
		}
	}
	if commit <= 0 {
		return "true", nil, nil
	}
	return "commit_seq > ?", []any{commit}, nil
}

// newIDs returns which of ids are new past mark: activities created after mark.Created (all that
// are held, for a zero one), and stream rows loaded after mark.Stream whose ReportId is not an
// activity's id (such a row is that activity in the events view, and the activity decides).
func newIDs(ctx context.Context, conn *sql.Conn, ids []string, mark warehouse.DetectMark) (map[string]bool, error) {
	out := map[string]bool{}
	where, args := newSince(mark.Created)
	swhere, sargs, err := newStreamSince(ctx, conn, mark.Stream)
	if err != nil {
		return nil, err
	}
	for chunk := range slices.Chunk(ids, 5000) {
		list := make([]string, len(chunk))
		for i, id := range chunk {
			list[i] = "'" + strings.ReplaceAll(id, "'", "''") + "'"
		}
		in := strings.Join(list, ", ")
		q := `SELECT id FROM activities WHERE ` + where + ` AND id IN (` + in + `)
			UNION SELECT report_id FROM ` + warehouse.CloudAppEventLoadsView + ` l WHERE ` + swhere + ` AND report_id IN (` + in + `)
			  AND NOT EXISTS (SELECT 1 FROM activities a WHERE a.id = regexp_replace(l.report_id, '_[0-9]+$', ''))`
		if err := readIDs(ctx, conn, q, slices.Concat(args, sargs), out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readIDs adds the ids query q returns to out.
func readIDs(ctx context.Context, conn *sql.Conn, q string, args []any, out map[string]bool) error {
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("read new evidence: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("read new evidence: %w", err)
		}
		out[id] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read new evidence: %w", err)
	}
	return nil
}

// candidate builds one row's candidate from a run whose window starts at since. The key's bucket
// holds the row's first_seen, or since when the row's evidence begins in the history before
// the window (a burst that began before midnight): the bucket of the window the row was found in,
// the same whichever night finds it.
func candidate(inv *queries.Investigation, r map[string]json.RawMessage, evidence []string, since time.Time, tenant string) (Candidate, error) {
	c := Candidate{Title: Title(inv.Name), Techniques: slices.Clone(inv.Techniques), EvidenceIDs: evidence}
	var sev, first, last string
	for _, f := range []struct {
		col string
		dst *string
	}{{queries.ColSeverity, &sev}, {queries.ColFirstSeen, &first}, {queries.ColLastSeen, &last}} {
		if err := json.Unmarshal(r[f.col], f.dst); err != nil {
			return c, fmt.Errorf("read %s %s: %w", inv.Name, f.col, err)
		}
	}
	var err error
	if c.Severity, err = delivery.ParseSeverity(sev); err != nil {
		return c, fmt.Errorf("read %s: %w", inv.Name, err)
	}
	if c.FirstSeen, err = time.Parse(time.RFC3339Nano, first); err != nil {
		return c, fmt.Errorf("read %s first_seen: %w", inv.Name, err)
	}
	if c.LastSeen, err = time.Parse(time.RFC3339Nano, last); err != nil {
		return c, fmt.Errorf("read %s last_seen: %w", inv.Name, err)
	}
	_ = json.Unmarshal(r[queries.ColPortalURL], &c.PortalURLs)
	c.Key = delivery.Key{Tenant: tenant, Investigation: inv.Name, Entities: entities(inv, r), Bucket: Bucket(latest(c.FirstSeen, since), inv.Bucket)}
	// The stored row keeps the capped evidence; the whole list would make a long finding's row
	// as long as its activities.
	row := map[string]json.RawMessage{}
	for k, v := range r {
		row[k] = v
	}
	n := min(len(evidence), queries.DefaultEvidence)
	row[queries.ColEvidenceIDs], _ = json.Marshal(evidence[:n])
	row[queries.ColPortalURL], _ = json.Marshal(c.PortalURLs[:min(n, len(c.PortalURLs))])
	c.Row, err = json.Marshal(row)
	return c, err
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// absorb merges another row of the same key: the wider span, the higher severity, the union of
// the evidence.
func (c *Candidate) absorb(o Candidate) {
	if o.Severity.Rank() > c.Severity.Rank() {
		c.Severity, c.Row = o.Severity, o.Row
	}
	if o.FirstSeen.Before(c.FirstSeen) {
		c.FirstSeen = o.FirstSeen
	}
	if o.LastSeen.After(c.LastSeen) {
		c.LastSeen = o.LastSeen
	}
	c.EvidenceIDs, c.PortalURLs = unionEvidence(c.EvidenceIDs, c.PortalURLs, o.EvidenceIDs, o.PortalURLs, wholeEvidence)
}

// unionEvidence appends to a's ids (and their links) those of b it lacks, up to n ids.
func unionEvidence(aIDs, aURLs, bIDs, bURLs []string, n int) ([]string, []string) {
	ids, urls := slices.Clone(aIDs), slices.Clone(aURLs)
	for i, id := range bIDs {
		if len(ids) >= n {
			break
		}
		if slices.Contains(ids, id) {
			continue
		}
		ids = append(ids, id)
		if i < len(bURLs) && len(urls) == len(ids)-1 {
			urls = append(urls, bURLs[i])
		}
	}
	return ids[:min(len(ids), n)], urls[:min(len(urls), n)]
}

// entities reads the key's entities from the row: for each entity kind the header declares, the
// values of its columns that hold one value (a column holding a list, such as every IP address of
// a burst, grows as evidence arrives and would split one finding into many), normalized and
// joined with ','. Domains and rules count as the object. The app is part of the key only when
// the row names no user: one user doing one thing in two apps on a day is one finding, not two.
func entities(inv *queries.Investigation, r map[string]json.RawMessage) delivery.Entities {
	var e delivery.Entities
	for _, kind := range []string{"user", "ip", "app", "object", "domain", "rule"} {
		var vals []string
		for _, col := range inv.Entities[kind] {
			var v any
			if err := json.Unmarshal(r[col], &v); err != nil {
				continue
			}
			if s := normalize(kind, v); s != "" {
				vals = append(vals, s)
			}
		}
		joined := strings.Join(vals, ",")
		switch kind {
		case "user":
			e.User = joined
		case "ip":
			e.IP = joined
		case "app":
			e.App = joined
		default:
			e.Object = strings.Trim(e.Object+","+joined, ",")
		}
	}
	if e.User != "" {
		e.App = ""
	}
	return e
}

// normalize is an entity value in the form its key uses: user names and domains lowercase, IP
// addresses in their canonical form; "" for a list or an empty value.
func normalize(kind string, v any) string {
	var s string
	switch x := v.(type) {
	case string:
		s = strings.TrimSpace(x)
	case float64, bool:
		s = fmt.Sprint(x)
	default:
		return ""
	}
	switch kind {
	case "user", "domain":
		return strings.ToLower(s)
	case "ip":
		if a, err := netip.ParseAddr(s); err == nil {
			return a.Unmap().String()
		}
	}
	return s
}

// Bucket names the time bucket of size b holding t: a day (2026-12-05) for buckets of whole
// days (the bucket's first day), an ISO week (2026-W49) for 7d, an hour (2026-12-05T08Z)
// otherwise. Buckets count from the Unix epoch, in UTC.
func Bucket(t time.Time, b time.Duration) string {
	t = t.UTC()
	switch {
	case b == 7*24*time.Hour:
		y, w := t.ISOWeek()
		return fmt.Sprintf("%d-W%02d", y, w)
	case b > 0 && b%(24*time.Hour) == 0:
		return t.Truncate(b).Format(time.DateOnly)
	case b > 0:
		return t.Truncate(b).Format("2006-01-02T15Z")
	}
	return t.Format(time.DateOnly)
}

// ErrPivot is returned (wrapped) by Select for a pivot named to run.
var ErrPivot = errors.New("pivots never run in detect")

// Select is the detections to run: those named (every detection when none is), less those
// excluded; an unknown name is an error listing the detections.
func Select(include, exclude []string) ([]*queries.Investigation, error) {
	check := func(names []string) error {
		for _, n := range names {
			inv, err := queries.Lookup(n)
			if err != nil {
				return fmt.Errorf("unknown investigation %q; the detections are: %s", n, strings.Join(detectionNames(), ", "))
			}
			if inv.Kind != queries.Detection {
				return fmt.Errorf("%s: %w (they answer a question about one user or address); the detections are: %s", n, ErrPivot, strings.Join(detectionNames(), ", "))
			}
		}
		return nil
	}
	if err := check(include); err != nil {
		return nil, err
	}
	if err := check(exclude); err != nil {
		return nil, err
	}
	var out []*queries.Investigation
	for _, inv := range queries.All() {
		if inv.Kind != queries.Detection || slices.Contains(exclude, inv.Name) {
			continue
		}
		if len(include) == 0 || slices.Contains(include, inv.Name) {
			out = append(out, inv)
		}
	}
	return out, nil
}

func detectionNames() []string {
	var out []string
	for _, inv := range queries.All() {
		if inv.Kind == queries.Detection {
			out = append(out, inv.Name)
		}
	}
	return out
}

// Title is an investigation's name for people: "impossible-travel" is "Impossible travel".
func Title(name string) string {
	t := strings.ReplaceAll(name, "-", " ")
	if t == "" {
		return t
	}
	return strings.ToUpper(t[:1]) + t[1:]
}
