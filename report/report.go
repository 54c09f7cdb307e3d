// Package report builds the self-contained HTML report of a window of activities: activity over
// time per app, top users and apps, sign-ins by country, failed sign-ins over time, and the
// findings of every canned investigation with its row count, top rows and a chart of the kind
// its header names. Charts are SVG drawn here, in Go; the page loads nothing from anywhere, so
// it opens offline and can be mailed as one file. With Redact, user names and IP addresses
// become stable pseudonyms everywhere in the page.
package report

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/queries"
)

// Source runs the report's queries: a locked-down queries.Session over the warehouse.
type Source interface {
	// SQL runs one read-only query over the views activities and events.
	SQL(ctx context.Context, query string) (array.RecordReader, error)
	// Run runs an investigation with its parameters bound.
	Run(ctx context.Context, inv *queries.Investigation, values map[string]string, now time.Time) (array.RecordReader, error)
}

// Options configure Build.
type Options struct {
	Since, Until time.Time // the window, [Since, Until)
	Generated    time.Time // when the report is made (default time.Now)
	// Covers names the tenant or source the warehouse was loaded from, for the header.
	Covers string
	// Coverage says what the warehouse holds for the window (first and last activity, days
	// with data, last run, rejects), for the header; CoverageWarning shows it as a banner, for
	// a window the warehouse covers only in part or not at all.
	Coverage        string
	CoverageWarning bool
	// Top is how many users, apps and rows of each finding to show (default 10).
	Top int
	// Redactor, when set, replaces user names and IPs with pseudonyms everywhere.
	Redactor *Redactor
	// Investigations to run (default queries.All()).
	Investigations []*queries.Investigation
	// Progress, when set, is called before each step.
	Progress func(Step)
	// Previous is the report to say what is new since (nil: none); LastScan is when the
	// warehouse was last scanned (zero: never, loaded from files), for the freshness line.
	Previous *Previous
	LastScan time.Time
}

// Step is one unit of work of Build, for a progress line.
type Step struct {
	Done, Total int
	Name        string
}

// Stat is one headline number.
type Stat struct {
	Label, Value string
}

// Report is everything the page shows, built by Build and written by Render.
type Report struct {
	Title     string
	Since     string
	Until     string
	Generated string
	Covers    string
	Coverage  string
	// CoverageWarning: the window is covered in part or not at all (a banner above the figures).
	CoverageWarning bool
	Redacted        bool
	// GeneratedAt is Generated in RFC 3339, for the next report's "new since".
	GeneratedAt string
	Summary     Summary
	Freshness   string
	// Keys name the detection rows (findingKey) for the next report; none when redacted.
	Keys     string
	Stats    []Stat
	Overview []Chart
	Findings []Finding
	// Detected are the findings mcasload detect stored with evidence in the window (the triage
	// section); DetectedNote says what the section holds.
	Detected     []Detected
	DetectedNote string
	Elapsed      string
}

// Finding is the result of one investigation.
type Finding struct {
	Name       string
	Title      string // the name in words
	Kind       string // detection or pivot
	Question   string
	About      string
	Params     string // the parameters chosen by the report, if any
	Severity   string // the highest severity of its rows (detections with rows)
	BySeverity map[string]int
	Techniques []Technique
	Rows       int
	New        int // rows not in the previous report
	Columns    []string
	Top        []Row // the first rows
	Rest       []Row // the rows after Top, folded, up to maxRows in all
	Hidden     int   // rows beyond maxRows, left to mcasload query
	Chart      *Chart
	Note       string // why no chart, or what was skipped
	Error      string
}

// Status is a CSS class for the finding's headline: rows found or not.
func (f Finding) Status() string {
	switch {
	case f.Error != "":
		return "err"
	case f.Rows > 0:
		return "hit"
	}
	return "none"
}

// Build runs the report's queries and investigations over src.
func Build(ctx context.Context, src Source, opts Options) (*Report, error) {
	start := time.Now()
	if opts.Top <= 0 {
		opts.Top = 10
	}
	if opts.Generated.IsZero() {
		opts.Generated = time.Now()
	}
	if opts.Investigations == nil {
		opts.Investigations = queries.All()
	}
	if !opts.Since.Before(opts.Until) {
		return nil, fmt.Errorf("build report: since %s is not before until %s", opts.Since.Format(time.RFC3339), opts.Until.Format(time.RFC3339))
	}
	b := &builder{src: src, opts: opts, red: opts.Redactor}
	b.total = len(overviewSteps) + len(opts.Investigations)
	if b.red != nil {
		b.total++
		if err := b.knownValues(ctx); err != nil {
			return nil, err
		}
	}
	r := &Report{
		Title:           "Defender for Cloud Apps activity report",
		Since:           opts.Since.UTC().Format("2006-01-02 15:04 MST"),
		Until:           opts.Until.UTC().Format("2006-01-02 15:04 MST"),
		Generated:       opts.Generated.UTC().Format("2006-01-02 15:04:05 MST"),
		GeneratedAt:     opts.Generated.UTC().Format(time.RFC3339),
		Covers:          opts.Covers,
		Coverage:        opts.Coverage,
		CoverageWarning: opts.CoverageWarning,
		Redacted:        b.red != nil,
	}
	for _, st := range overviewSteps {
		failpoint.Pause("report-step")
		b.step(st.name)
		if err := st.run(b, ctx, r); err != nil {
			return nil, fmt.Errorf("build report: %s: %w", st.name, err)
		}
	}
	findings, err := b.findings(ctx)
	if err != nil {
		return nil, err
	}
	r.Findings = findings
	if err := b.detected(ctx, r); err != nil {
		return nil, err
	}
	r.Summary = summarize(findings, opts.Previous)
	r.Freshness = freshness(b.newest, opts.LastScan, opts.Generated)
	if b.red == nil {
		slices.Sort(b.keys)
		r.Keys = strings.Join(slices.Compact(b.keys), " ")
	}
	r.Elapsed = time.Since(start).Round(time.Millisecond).String()
	return r, nil
}

type builder struct {
	src   Source
	opts  Options
	red   *Redactor
	done  int
	total int
	// newest is the newest activity of the warehouse; keys the detection rows' finding keys.
	newest time.Time
	keys   []string
}

func (b *builder) step(name string) {
	b.done++
	if b.opts.Progress != nil {
		b.opts.Progress(Step{Done: b.done, Total: b.total, Name: name})
	}
}

// show is how a value appears in the page: redacted when asked.
func (b *builder) show(s string) string {
	if b.red == nil {
		return s
	}
	return b.red.Text(s)
}

func (b *builder) query(ctx context.Context, q string) (*table, error) {
	rdr, err := b.src.SQL(ctx, q)
	if err != nil {
		return nil, err
	}
	return readTable(rdr)
}

// where is the window condition on ts; the times are ones this program holds, not user text.
func (b *builder) where() string {
	return fmt.Sprintf("ts >= %s AND ts < %s", sqlTime(b.opts.Since), sqlTime(b.opts.Until))
}

func sqlTime(t time.Time) string {
	return "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05.000000") + "+00'"
}

// knownValues registers every user name and IP of the warehouse with the redactor, so that a
// value the patterns would miss is still replaced.
func (b *builder) knownValues(ctx context.Context) error {
	b.step("collecting user names and IPs to redact")
	t, err := b.query(ctx, `SELECT DISTINCT 'user' AS kind, user_name AS v FROM activities WHERE user_name IS NOT NULL
		UNION SELECT DISTINCT 'ip', ip FROM activities WHERE ip IS NOT NULL`)
	if err != nil {
		return fmt.Errorf("build report: list values to redact: %w", err)
	}
	for _, row := range t.rows {
		if row[0].text == "user" {
			b.red.AddUser(row[1].text)
		} else {
			b.red.AddIP(row[1].text)
		}
	}
	return nil
}

// bucketStep picks a column width so that the window has at most about 100 columns.
func bucketStep(span time.Duration) time.Duration {
	for _, s := range []time.Duration{time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour, 7 * 24 * time.Hour} {
		if span/s <= 100 {
			return s
		}
	}
	return 30 * 24 * time.Hour
}

// topKeys returns the keys of totals by descending total (ties by name), at most n.
func topKeys(totals map[string]float64, n int) []string {
	keys := make([]string, 0, len(totals))
	for k := range totals {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if totals[keys[i]] != totals[keys[j]] {
			return totals[keys[i]] > totals[keys[j]]
		}
		return keys[i] < keys[j]
	})
	if len(keys) > n {
		keys = keys[:n]
	}
	return keys
}

// overviewSteps are the report's own queries, in page order.
var overviewSteps = []struct {
	name string
	run  func(*builder, context.Context, *Report) error
}{
	{"headline numbers", (*builder).stats},
	{"activity over time per app", (*builder).activityByApp},
	{"top users and apps", (*builder).topUsersAndApps},
	{"sign-ins by country", (*builder).countries},
	{"failed sign-ins over time", (*builder).failedOverTime},
}

func (b *builder) stats(ctx context.Context, r *Report) error {
	t, err := b.query(ctx, `SELECT count(*), count(DISTINCT user_name), count(DISTINCT app_name), count(DISTINCT ip),
		count(DISTINCT country), count(*) FILTER (WHERE action_class = 'login'), count(*) FILTER (WHERE action_class = 'login_fail')
		FROM events WHERE `+b.where())
	if err != nil {
		return err
	}
	labels := []string{"activities", "users", "apps", "IP addresses", "countries", "sign-ins", "failed sign-ins"}
	for i, l := range labels {
		r.Stats = append(r.Stats, Stat{Label: l, Value: num(t.rows[0][i].num)})
	}
	newest, err := b.query(ctx, `SELECT max(ts) AS newest FROM activities`)
	if err != nil {
		return err
	}
	if len(newest.rows) == 1 && !newest.rows[0][0].isNull {
		b.newest = newest.rows[0][0].t
	}
	return nil
}

// timeSeries fills one series per key from rows of (bucket index, key, count).
func (b *builder) timeSeries(t *table, keys []string, other string, nb int) []series {
	idx := map[string]int{}
	ss := make([]series, len(keys))
	for i, k := range keys {
		idx[k] = i
		ss[i] = series{name: b.show(k), color: palette[i%len(palette)], values: make([]float64, nb)}
	}
	var rest *series
	for _, row := range t.rows {
		bucket := int(row[0].num)
		if bucket < 0 || bucket >= nb {
			continue
		}
		i, ok := idx[row[1].text]
		if !ok {
			if rest == nil {
				rest = &series{name: other, color: otherColor, values: make([]float64, nb)}
			}
			rest.values[bucket] += row[2].num
			continue
		}
		ss[i].values[bucket] += row[2].num
	}
	if rest != nil {
		ss = append(ss, *rest)
	}
	return ss
}

// buckets returns the column width, the first column's start (the window's start rounded
// down to whole hours, days or weeks in UTC, so columns read "Mar 2 03:00", not "03:17") and the
// number of columns.
func (b *builder) buckets() (time.Duration, time.Time, int) {
	step := bucketStep(b.opts.Until.Sub(b.opts.Since))
	origin := b.opts.Since.UTC().Truncate(step)
	nb := int((b.opts.Until.Sub(origin) + step - 1) / step)
	return step, origin, nb
}

func bucketExpr(origin time.Time, step time.Duration) string {
	return fmt.Sprintf("(epoch_ms(ts) - %d) // %d", origin.UnixMilli(), step.Milliseconds())
}

func (b *builder) activityByApp(ctx context.Context, r *Report) error {
	step, origin, nb := b.buckets()
	t, err := b.query(ctx, fmt.Sprintf(`SELECT %s AS bucket, coalesce(app_name, '(no app)') AS app, count(*) AS n
		FROM activities WHERE %s GROUP BY ALL`, bucketExpr(origin, step), b.where()))
	if err != nil {
		return err
	}
	totals := map[string]float64{}
	for _, row := range t.rows {
		totals[row[1].text] += row[2].num
	}
	keys := topKeys(totals, 6)
	ss := b.timeSeries(t, keys, "other apps", nb)
	r.Overview = append(r.Overview, columns("activity", fmt.Sprintf("Activities per %s, by app", stepName(step)), origin, step, ss))
	return nil
}

func stepName(d time.Duration) string {
	switch d {
	case time.Hour:
		return "hour"
	case 24 * time.Hour:
		return "day"
	case 7 * 24 * time.Hour:
		return "week"
	}
	return fmt.Sprintf("%d hours", int(d.Hours()))
}

func (b *builder) topUsersAndApps(ctx context.Context, r *Report) error {
	for _, c := range []struct{ col, id, title string }{
		{"user_name", "top-users", "Most active users"},
		{"app_name", "top-apps", "Most used apps"},
	} {
		t, err := b.query(ctx, fmt.Sprintf(`SELECT %s, count(*) AS n FROM activities WHERE %s AND %s IS NOT NULL
			GROUP BY 1 ORDER BY n DESC, 1 LIMIT %d`, c.col, b.where(), c.col, b.opts.Top))
		if err != nil {
			return err
		}
		labels := make([]string, len(t.rows))
		s := series{name: "activities", color: palette[0], values: make([]float64, len(t.rows))}
		for i, row := range t.rows {
			labels[i], s.values[i] = b.show(row[0].text), row[1].num
		}
		r.Overview = append(r.Overview, hbars(c.id, fmt.Sprintf("%s (top %d by activities)", c.title, b.opts.Top), labels, []series{s}))
	}
	return nil
}

// maxCountries is how many countries get their own bar; the rest share one.
const maxCountries = 25

func (b *builder) countries(ctx context.Context, r *Report) error {
	t, err := b.query(ctx, `SELECT coalesce(country, '??') AS country, count(*) FILTER (WHERE action_class = 'login') AS ok,
		count(*) FILTER (WHERE action_class = 'login_fail') AS failed
		FROM events WHERE action_class IN ('login', 'login_fail') AND `+b.where()+`
		GROUP BY 1 ORDER BY ok + failed DESC, 1`)
	if err != nil {
		return err
	}
	var labels []string
	ok := series{name: "successful", color: palette[0]}
	failed := series{name: "failed", color: palette[4]}
	for i, row := range t.rows {
		if i >= maxCountries {
			if i == maxCountries {
				labels = append(labels, fmt.Sprintf("%d other countries", len(t.rows)-maxCountries))
				ok.values, failed.values = append(ok.values, 0), append(failed.values, 0)
			}
			ok.values[maxCountries] += row[1].num
			failed.values[maxCountries] += row[2].num
			continue
		}
		labels = append(labels, countryLabel(row[0].text))
		ok.values, failed.values = append(ok.values, row[1].num), append(failed.values, row[2].num)
	}
	r.Overview = append(r.Overview, hbars("countries", "Sign-ins by country", labels, []series{ok, failed}))
	return nil
}

func (b *builder) failedOverTime(ctx context.Context, r *Report) error {
	step, origin, nb := b.buckets()
	t, err := b.query(ctx, fmt.Sprintf(`SELECT %s AS bucket, 'failed sign-ins' AS k, count(*) AS n
		FROM events WHERE action_class = 'login_fail' AND %s GROUP BY ALL`, bucketExpr(origin, step), b.where()))
	if err != nil {
		return err
	}
	ss := b.timeSeries(t, []string{"failed sign-ins"}, "", nb)
	ss[0].color = palette[4]
	r.Overview = append(r.Overview, columns("failed", fmt.Sprintf("Failed sign-ins per %s", stepName(step)), origin, step, ss))
	return nil
}

// sortedKeys returns m's keys sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
