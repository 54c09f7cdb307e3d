// Package audit checks that a scanned warehouse holds every activity the service has, and
// repairs it when it does not. The scan's exactly-once promise rests on assumptions about the
// service (its clock, its indexing delay, its paging) that a collector cannot verify page by
// page; the audit verifies the result instead: first cheaply, by comparing the warehouse's count
// with the service's (approximate) total day by day, then exactly, by listing the ids of every
// window that looks short and diffing them with the warehouse. A repair loads exactly the
// missing records through the same commit pipeline as a scan, without moving its watermark.
package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/tenant"
	"github.com/mcasload/mcasload/warehouse"
)

// Errors a caller branches on.
var (
	// ErrNotScanned: the warehouse has no scan watermark (filled by `load`, or never scanned).
	ErrNotScanned = errors.New("audit: the warehouse was not filled by a scan")
	// ErrOtherTenant: the warehouse was scanned from another API URL, or with other filters.
	ErrOtherTenant = errors.New("audit: the warehouse holds no scan of this tenant and filters")
	// ErrUncountableScope: the scope has a filter the warehouse cannot count; only eq lists of
	// service, user and event type have a column to count by.
	ErrUncountableScope = errors.New("the audit counts only scopes filtered by service, user or event type")
)

// Defaults.
const (
	DefaultLookback = 30 * timearg.Day
	// DefaultTolerancePercent is how far below the service's total a window's count may be
	// before it is judged by id: the service documents total as approximate, and a complete
	// window has been seen to differ by up to 5 %.
	DefaultTolerancePercent = 5.0
	// DefaultFineRecords: a suspect day whose total is larger is checked hour by hour, so only
	// the hours that are short get listed.
	DefaultFineRecords = 20_000
)

// Client is what the audit asks the service; *mcas.Client is the production one.
type Client interface {
	ServiceNow(ctx context.Context, filters mcas.Filters) (mcas.ServiceTime, error)
	List(ctx context.Context, q mcas.Query, skip int) (*mcas.Page, error)
	Scan(ctx context.Context, q mcas.Query, fn func(context.Context, *mcas.Page) error) error
	Stats() mcas.Stats
}

// Tolerance is how many records a window may lack against the service's total before it is
// listed: the larger of Records and Percent of the total.
type Tolerance struct {
	Percent float64
	Records int
}

// ParseTolerance reads "5%" or a number of records ("20").
func ParseTolerance(s string) (Tolerance, error) {
	s = strings.TrimSpace(s)
	if p, ok := strings.CutSuffix(s, "%"); ok {
		var f float64
		if _, err := fmt.Sscanf(p, "%g", &f); err != nil || f < 0 || f > 100 {
			return Tolerance{}, fmt.Errorf("tolerance %q: want a percentage from 0%% to 100%%, e.g. 5%%", s)
		}
		return Tolerance{Percent: f}, nil
	}
	var n int
	if _, err := fmt.Sscanf(s, "%d", &n); err != nil || n < 0 || fmt.Sprint(n) != s {
		return Tolerance{}, fmt.Errorf("tolerance %q: want a percentage (5%%) or a number of records (20)", s)
	}
	return Tolerance{Records: n}, nil
}

func (t Tolerance) allowed(total int) int {
	return max(t.Records, int(t.Percent/100*float64(total)))
}

// Options say what to audit.
type Options struct {
	// Dir is the warehouse; URL and Filters name the scan scope whose watermark bounds the
	// audit (activities stored before it are the ones the warehouse promises).
	Dir     string
	URL     string
	Filters mcas.Filters
	// Since is where the audited activity time starts (default 30 days before the service's now).
	Since timearg.Time
	// ExactSince: windows from here on are diffed by id without looking at counts (for recent
	// days, where an indexing delay longer than the overlap leaves too few missing records for
	// a count to notice).
	ExactSince  timearg.Time
	Tolerance   Tolerance
	FineRecords int
	// Repair loads the missing records; Writer opens the warehouse for it.
	Repair bool
	Writer warehouse.Options
	// Pipeline configures the repair's commit pipeline.
	Pipeline loader.Options
	Logger   *slog.Logger
}

// Window statuses.
const (
	StatusOK         = "ok"         // the count is within tolerance of the service's total
	StatusComplete   = "complete"   // diffed by id: nothing missing
	StatusIncomplete = "incomplete" // diffed by id: records missing
	StatusRepaired   = "repaired"   // the missing records were loaded
)

// Window is one audited span of activity time.
type Window struct {
	From      time.Time `json:"from"`
	To        time.Time `json:"to"`            // exclusive
	Service   int       `json:"service_total"` // the service's estimate; -1 when not asked
	Warehouse int       `json:"warehouse"`
	Exact     bool      `json:"diffed_by_id"`
	Status    string    `json:"status"`
	Missing   []string  `json:"missing_ids"`
	Extra     int       `json:"extra"` // in the warehouse but no longer listed by the service

	records map[string][]byte // the missing records, for the repair
}

// Report is what the audit found.
type Report struct {
	URL       string           `json:"url"`
	Filters   mcas.Filters     `json:"filters"`
	Watermark time.Time        `json:"watermark"`
	Service   mcas.ServiceTime `json:"service_time"`
	From      time.Time        `json:"from"`
	To        time.Time        `json:"to"`
	Tolerance Tolerance        `json:"tolerance"`
	Windows   []Window         `json:"windows"`
	Requests  int64            `json:"requests"`
	Repaired  int              `json:"repaired_records"`
	// Incomplete counts the windows that still lack records.
	Incomplete int `json:"incomplete_windows"`
}

// auditedTenant settles opts.Writer.Tenant, whose counts and watermark the audit checks: the
// label given, else the one the URL names, or the tenant the warehouse recorded from this source
// (warehouse.Options.TenantDerived).
func auditedTenant(ctx context.Context, r *warehouse.Reader, opts *Options) error {
	var err error
	if opts.Writer.Tenant == "" {
		if opts.Writer.Tenant, err = tenant.FromURL(opts.URL); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
		opts.Writer.TenantDerived = true
	}
	if opts.Writer.TenantDerived {
		if opts.Writer.Tenant, err = r.TenantOfSource(ctx, opts.Writer.Source, opts.Writer.Tenant); err != nil {
			return fmt.Errorf("audit: %w", err)
		}
	}
	if opts.Writer.Tenant, err = tenant.Parse(opts.Writer.Tenant); err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// Run audits the warehouse against the service.
func Run(ctx context.Context, client Client, opts Options) (*Report, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.FineRecords <= 0 {
		opts.FineRecords = DefaultFineRecords
	}
	if opts.Since.IsZero() {
		opts.Since = timearg.Ago(DefaultLookback)
	}
	canon, err := loader.CanonicalFilters(opts.Filters)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	scope, args, err := scopeSQL(canon)
	if err != nil {
		return nil, err
	}
	r, err := warehouse.OpenReader(ctx, warehouse.ReaderOptions{Dir: opts.Dir, Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("audit: open warehouse: %w", err)
	}
	defer r.Close()
	if err := auditedTenant(ctx, r, &opts); err != nil {
		return nil, err
	}
	label := opts.Writer.Tenant
	scope += " AND tenant = '" + label + "'" // a checked label: letters, digits, '-', '_', '.'
	tenantCol, err := stateTenantColumn(ctx, r, label)
	if err != nil {
		return nil, err
	}
	wm, err := scanWatermark(ctx, r, tenantCol, label, opts.URL, canon)
	if err != nil {
		return nil, err
	}
	svc, err := client.ServiceNow(ctx, opts.Filters)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if !svc.Known() {
		return nil, errors.New("audit: the service shows neither a Date header nor any record: nothing to compare with")
	}
	now := svc.At
	rep := &Report{URL: loader.CanonicalURL(opts.URL), Filters: canon, Watermark: wm, Service: svc, Tolerance: opts.Tolerance,
		From: opts.Since.Resolve(now), To: wm}
	exactSince := opts.ExactSince.Resolve(now)
	a := &auditor{client: client, r: r, opts: opts, wm: wm, scope: scope, args: args, rep: rep}
	for day := rep.From.UTC().Truncate(timearg.Day); day.Before(rep.To); day = day.Add(timearg.Day) {
		w := Window{From: day, To: day.Add(timearg.Day)}
		if w.From.Before(rep.From) {
			w.From = rep.From
		}
		if w.To.After(rep.To) {
			w.To = rep.To
		}
		exact := !exactSince.IsZero() && w.To.After(exactSince)
		if err := a.check(ctx, w, exact, true); err != nil {
			return nil, err
		}
	}
	r.Close()
	if opts.Repair {
		if err := a.repair(ctx); err != nil {
			return rep, err
		}
	}
	for _, w := range rep.Windows {
		if w.Status == StatusIncomplete {
			rep.Incomplete++
		}
	}
	rep.Requests = client.Stats().Requests
	return rep, nil
}

type auditor struct {
	client Client
	r      *warehouse.Reader
	opts   Options
	wm     time.Time
	scope  string
	args   []any
	rep    *Report
}

// check judges one window: by count against the service's total, then by id when it looks
// short (or at once when exact); a large short day is judged hour by hour first.
func (a *auditor) check(ctx context.Context, w Window, exact, refine bool) error {
	n, err := a.count(ctx, w)
	if err != nil {
		return err
	}
	w.Warehouse, w.Service = n, -1
	if !exact {
		p, err := a.client.List(ctx, mcas.Query{Filters: a.filters(w), SortField: mcas.SortDate, SortDirection: mcas.Desc, Limit: 1}, 0)
		if err != nil {
			return fmt.Errorf("audit: count %s: %w", w.span(), err)
		}
		w.Service = p.Total
		if w.Service-w.Warehouse <= a.opts.Tolerance.allowed(w.Service) {
			w.Status = StatusOK
			a.rep.Windows = append(a.rep.Windows, w)
			return nil
		}
		if refine && w.Service > a.opts.FineRecords {
			a.opts.Logger.InfoContext(ctx, "a large day looks short; checking it hour by hour", "day", w.span(), "service_total", w.Service, "warehouse", w.Warehouse)
			for h := w.From; h.Before(w.To); h = h.Add(time.Hour) {
				hour := Window{From: h, To: h.Add(time.Hour)}
				if hour.To.After(w.To) {
					hour.To = w.To
				}
				if err := a.check(ctx, hour, false, false); err != nil {
					return err
				}
			}
			return nil
		}
	}
	if err := a.diff(ctx, &w); err != nil {
		return err
	}
	a.rep.Windows = append(a.rep.Windows, w)
	return nil
}

// filters is the scope's filters on window w, restricted to what the watermark covers.
func (a *auditor) filters(w Window) mcas.Filters {
	f := a.opts.Filters.Clone().DateRange(w.From, w.To.Add(-time.Millisecond))
	return f.Set("created", "lt", a.wm.UnixMilli())
}

// count is the warehouse's count of the scope's activities in w stored before the watermark.
func (a *auditor) count(ctx context.Context, w Window) (int, error) {
	var n int
	q := `SELECT count(*) FROM activities WHERE ts >= ? AND ts < ? AND created < ?` + a.scope
	args := append([]any{w.From, w.To, a.wm}, a.args...)
	if err := a.r.Conn().QueryRowContext(ctx, q, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("audit: count %s in the warehouse: %w", w.span(), err)
	}
	return n, nil
}

// diff lists w's records from the service and compares their ids with the warehouse's.
func (a *auditor) diff(ctx context.Context, w *Window) error {
	have := map[string]bool{}
	rows, err := a.r.Conn().QueryContext(ctx, `SELECT id FROM activities WHERE ts >= ? AND ts < ? AND created < ?`+a.scope,
		append([]any{w.From, w.To, a.wm}, a.args...)...)
	if err != nil {
		return fmt.Errorf("audit: list %s in the warehouse: %w", w.span(), err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("audit: list %s in the warehouse: %w", w.span(), err)
		}
		have[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: list %s in the warehouse: %w", w.span(), err)
	}
	w.Exact, w.records = true, map[string][]byte{}
	listed := map[string]bool{}
	q := mcas.Query{Filters: a.filters(*w), SortField: mcas.SortCreated, SortDirection: mcas.Asc, Limit: mcas.MaxScanLimit}
	err = a.client.Scan(ctx, q, func(_ context.Context, p *mcas.Page) error {
		for _, rec := range p.Records {
			id, err := recordID(rec)
			if err != nil {
				return err
			}
			listed[id] = true
			if !have[id] && w.records[id] == nil {
				w.records[id] = rec
				w.Missing = append(w.Missing, id)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("audit: list %s from the service: %w", w.span(), err)
	}
	for id := range have {
		if !listed[id] {
			w.Extra++
		}
	}
	w.Status = StatusComplete
	if len(w.Missing) > 0 {
		w.Status = StatusIncomplete
		a.opts.Logger.InfoContext(ctx, "window lacks records", "window", w.span(), "missing", len(w.Missing))
	}
	return nil
}

// repair loads every missing record in one run of the commit pipeline; deduplication makes it
// idempotent, and it carries no state, so no watermark moves.
func (a *auditor) repair(ctx context.Context) error {
	var records [][]byte
	for _, w := range a.rep.Windows {
		for _, id := range w.Missing {
			records = append(records, w.records[id])
		}
	}
	if len(records) == 0 {
		return nil
	}
	wr, err := warehouse.Open(ctx, a.opts.Writer)
	if err != nil {
		return fmt.Errorf("audit: open the warehouse to repair it: %w", err)
	}
	pipe := loader.Start(wr, a.opts.Pipeline)
	addErr := pipe.Add(ctx, loader.Chunk{Records: toRaw(records)})
	sum, closeErr := pipe.Close(ctx)
	var logErr error
	if sum != nil && closeErr == nil && addErr == nil {
		logErr = wr.FinishRun(context.WithoutCancel(ctx), warehouse.RunInfo{}, sum)
	}
	if err := errors.Join(addErr, closeErr, logErr, wr.Close(context.WithoutCancel(ctx))); err != nil {
		return fmt.Errorf("audit: repair: %w", err)
	}
	a.rep.Repaired = int(sum.New)
	for i := range a.rep.Windows {
		if a.rep.Windows[i].Status == StatusIncomplete {
			a.rep.Windows[i].Status = StatusRepaired
		}
	}
	return nil
}

func (w Window) span() string {
	return w.From.UTC().Format(time.RFC3339) + "/" + w.To.UTC().Format(time.RFC3339)
}
