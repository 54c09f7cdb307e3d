package loader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/progress"
	"github.com/mcasload/mcasload/mcas"
)

// The scan loop. It walks `created` (when the service stored an activity) ascending, because that
// is the only order in which "everything before this point is fetched" stays true as late
// arrivals land: an activity with an old `timestamp` gets a new `created` and is found by the
// next incremental run, then lands in its old day. Pages go through the shared Pipeline, each with
// the watermark it justifies, so rows and position commit in one transaction: a crash loses at
// most uncommitted pages, which the next run fetches again (deduplication makes that exact).

// Defaults of a scan.
const (
	DefaultOverlap       = 10 * time.Minute
	DefaultFirstLookback = 30 * 24 * time.Hour
)

// ErrMaxDuration is the cause of a run stopped by ScanOptions.MaxDuration.
var ErrMaxDuration = errors.New("scan: --max-duration reached")

// PageScanner fetches pages in scan mode; *mcas.Client is the production one.
type PageScanner interface {
	Scan(ctx context.Context, q mcas.Query, fn func(context.Context, *mcas.Page) error) error
	Stats() mcas.Stats
}

// ScanWarehouse is what a scan needs from the warehouse: commits and the committed state;
// *warehouse.Writer is the production one.
type ScanWarehouse interface {
	Committer
	State(ctx context.Context, key string) (string, bool, error)
}

// ScanOptions configure Scan.
type ScanOptions struct {
	// URL is the tenant URL; with Filters it names the watermark.
	URL string
	// Filters are the user's filters (--filter and the shortcuts), without `date` or `created`.
	Filters mcas.Filters
	// Since and Until bound the activity time (the API's `date` filter); zero means unbounded.
	// Without a watermark, Since is also where the incremental cursor starts. Until also caps
	// the window on `created` (an activity is stored after it happens), and so the watermark.
	Since, Until time.Time
	// Limit is the page size, 500–5000 (default 5000).
	Limit int
	// Full re-scans the window [Since (default 30 days ago), Until or now] and never moves the
	// watermark.
	Full bool
	// Overlap is how far before the watermark an incremental run starts again (default 10m).
	Overlap time.Duration
	// FirstLookback is how far back a first incremental run starts without Since (default 30 days).
	FirstLookback time.Duration
	// Parallel is the number of disjoint time slices scanned at once (default 1).
	Parallel int
	// MaxDuration stops the run after this long (measured on Clock), committing what is done.
	MaxDuration time.Duration
	// Pipeline configures the commit pipeline (Command defaults to "scan").
	Pipeline Options
	Clock    clock.Clock
	Logger   *slog.Logger
	// OnStart is called once the window is known, with a function returning live figures; the
	// CLI hangs its progress display on it. May be nil.
	OnStart func(plan ScanPlan, snapshot func() progress.Snapshot)
}

// ScanPlan is what a run is about to do; it is logged and shown by the CLI.
type ScanPlan struct {
	Key       string    // watermark key
	Mode      string    // "incremental", "first" (incremental without a watermark) or "full"
	Watermark time.Time // the stored watermark (zero when none)
	From, To  time.Time // the window on `created`, [From, To)
	Slices    []Slice
	DateFrom  time.Time // `date` bounds sent to the API (zero: none)
	DateTo    time.Time
}

// scanRun is the state one Scan shares between its slices.
type scanRun struct {
	opts     ScanOptions
	plan     ScanPlan
	pipe     *Pipeline
	frontier *Frontier
	log      *slog.Logger

	addMu  sync.Mutex // Advance+Add is one step, so a chunk's watermark covers exactly what was added before it
	stored int64      // the highest watermark handed to the pipeline (or the one found at start)
	moved  bool

	pages   atomic.Int64
	records atomic.Int64
	totals  []atomic.Int64 // per slice: the service's estimate of what is left, for the ETA
	seen    []atomic.Int64 // per slice: records received since that estimate
}

// Scan fetches the activities of opts' window from client, slice by slice, through a Pipeline
// into w, and returns the run's Summary. Cancelling ctx (a signal) or reaching MaxDuration stops
// fetching, commits every page already fetched with its watermark, and returns the summary with
// Stopped set and an error matching context.Canceled or ErrMaxDuration.
func Scan(ctx context.Context, client PageScanner, w ScanWarehouse, opts ScanOptions) (*Summary, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Overlap < 0 {
		return nil, fmt.Errorf("plan scan: negative overlap %s", opts.Overlap)
	}
	if opts.Overlap == 0 {
		opts.Overlap = DefaultOverlap
	}
	if opts.FirstLookback <= 0 {
		opts.FirstLookback = DefaultFirstLookback
	}
	if opts.Parallel <= 0 {
		opts.Parallel = 1
	}
	if opts.Limit == 0 {
		opts.Limit = mcas.DefaultScanLimit
	}
	if opts.Limit < mcas.MinScanLimit || opts.Limit > mcas.MaxScanLimit {
		return nil, fmt.Errorf("plan scan: page size %d is outside %d–%d", opts.Limit, mcas.MinScanLimit, mcas.MaxScanLimit)
	}
	if opts.Pipeline.Command == "" {
		opts.Pipeline.Command = "scan"
	}
	if opts.Pipeline.Clock == nil {
		opts.Pipeline.Clock = opts.Clock
	}
	plan, stored, err := PlanScan(ctx, w, opts)
	if err != nil {
		return nil, err
	}
	r := &scanRun{
		opts: opts, plan: plan, log: opts.Logger, frontier: NewFrontier(plan.Slices), stored: stored,
		totals: make([]atomic.Int64, len(plan.Slices)), seen: make([]atomic.Int64, len(plan.Slices)),
	}
	r.log.InfoContext(ctx, "scan planned", "mode", plan.Mode, "key", plan.Key,
		"watermark", timeAttr(plan.Watermark), "from", timeAttr(plan.From), "to", timeAttr(plan.To),
		"slices", len(plan.Slices), "date_from", timeAttr(plan.DateFrom), "date_to", timeAttr(plan.DateTo))

	if plan.Mode == "incremental" && !opts.Since.IsZero() {
		r.log.InfoContext(ctx, "--since applies only to the first run of these filters; this run resumes from the watermark (use --full to re-scan a window)")
	}

	if opts.MaxDuration > 0 {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		go func() {
			if opts.Clock.Sleep(ctx, opts.MaxDuration) == nil {
				cancel(ErrMaxDuration)
			}
		}()
	}

	r.pipe = Start(w, opts.Pipeline)
	if opts.OnStart != nil {
		opts.OnStart(plan, func() progress.Snapshot { return r.snapshot(client) })
	}

	scanErr := r.scanSlices(ctx, client)

	sum, closeErr := r.pipe.Close(ctx)
	st := client.Stats()
	sum.Source = CanonicalURL(opts.URL)
	sum.Counters = map[string]int64{
		"pages":                 r.pages.Load(),
		"requests":              st.Requests,
		"throttled_429":         st.Throttled,
		"retries":               st.Retries,
		"tie_groups":            st.Stalls,
		"throttle_wait_seconds": int64(st.ThrottleWait.Round(time.Second) / time.Second),
		"response_bytes":        st.Bytes,
		"slices":                int64(len(plan.Slices)),
	}
	if wm, ok := r.committedWatermark(); ok && !opts.Full {
		sum.Counters["watermark_ms"] = wm
	}
	stopped := ctx.Err() != nil
	switch {
	case closeErr != nil:
		return sum, closeErr
	case scanErr != nil && !(stopped && isStop(scanErr)):
		sum.Error = scanErr.Error()
		return sum, scanErr
	case stopped:
		sum.Stopped = true
		cause := context.Cause(ctx)
		r.log.InfoContext(ctx, "scan stopped early; what was fetched is committed", "cause", cause.Error(), "watermark", r.watermarkAttr())
		return sum, cause
	}
	r.log.InfoContext(ctx, "scan finished", "pages", r.pages.Load(), "records", r.records.Load(), "watermark", r.watermarkAttr())
	return sum, nil
}

// isStop reports whether err is how a cancelled scan ends.
func isStop(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrMaxDuration)
}

// PlanScan works out the window, slices and watermark key of a scan from opts and the stored
// watermark, without fetching anything. It returns the plan and the stored watermark in epoch ms
// (math.MinInt64 when none).
func PlanScan(ctx context.Context, w interface {
	State(ctx context.Context, key string) (string, bool, error)
}, opts ScanOptions) (ScanPlan, int64, error) {
	canon, err := CanonicalFilters(opts.Filters)
	if err != nil {
		return ScanPlan{}, 0, fmt.Errorf("plan scan: %w", err)
	}
	if !opts.Since.IsZero() && !opts.Until.IsZero() && !opts.Since.Before(opts.Until) {
		return ScanPlan{}, 0, fmt.Errorf("plan scan: --since %s is not before --until %s", opts.Since.UTC().Format(time.RFC3339), opts.Until.UTC().Format(time.RFC3339))
	}
	now := opts.Clock.Now().UTC().Truncate(time.Millisecond)
	plan := ScanPlan{Key: WatermarkKey(opts.URL, canon), DateFrom: opts.Since, DateTo: opts.Until}
	stored := int64(noWatermark)
	if v, ok, err := w.State(ctx, plan.Key); err != nil {
		return ScanPlan{}, 0, fmt.Errorf("plan scan: read watermark: %w", err)
	} else if ok && v != ResetWatermark {
		wm, err := DecodeWatermark(v)
		if err != nil {
			return ScanPlan{}, 0, fmt.Errorf("plan scan: watermark %q is damaged (reset it with `mcasload state reset --key ...`): %w", plan.Key, err)
		}
		plan.Watermark = wm.Created
		stored = wm.Created.UnixMilli()
	}

	lookback := now.Add(-opts.FirstLookback)
	switch {
	case opts.Full:
		plan.Mode = "full"
		plan.From = lookback
		if !opts.Since.IsZero() {
			plan.From = opts.Since
		}
	case stored != noWatermark:
		plan.Mode = "incremental"
		plan.From = plan.Watermark.Add(-opts.Overlap)
		// An incremental run resumes from its watermark: a relative --since (cron's "7d") must
		// not drop late arrivals older than it that the watermark has not yet passed.
		plan.DateFrom = time.Time{}
	default:
		plan.Mode = "first"
		plan.From = lookback
		if !opts.Since.IsZero() {
			plan.From = opts.Since
		}
	}
	// The window on created ends now: later activities are not stored yet. With --until it ends
	// just after until, since an activity is stored after it happens; so the watermark stops at
	// until and the next run still finds late arrivals with date <= until stored after it.
	plan.To = now.Add(time.Millisecond)
	if !opts.Until.IsZero() && opts.Until.Add(time.Millisecond).Before(plan.To) {
		plan.To = opts.Until.Add(time.Millisecond)
	}
	plan.Slices = SplitWindow(plan.From.UnixMilli(), plan.To.UnixMilli(), opts.Parallel)
	return plan, stored, nil
}

// noWatermark marks "no stored watermark" in epoch ms.
const noWatermark = -1 << 63

// scanSlices runs every slice, at most Parallel at once (one goroutine per slice), and returns
// the first error; the first error cancels the other slices.
func (r *scanRun) scanSlices(ctx context.Context, client PageScanner) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	for _, s := range r.plan.Slices {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.scanSlice(ctx, client, s); err != nil {
				errMu.Lock()
				if first == nil {
					first = err
				}
				errMu.Unlock()
				cancel(err)
			}
		}()
	}
	wg.Wait()
	return first
}

// scanSlice fetches one slice in created order and hands each page to the pipeline with the
// watermark that page justifies.
func (r *scanRun) scanSlice(ctx context.Context, client PageScanner, s Slice) error {
	f := r.opts.Filters.Clone()
	f = f.DateRange(r.plan.DateFrom, r.plan.DateTo)
	f = f.Set("created", "gte", s.From).Set("created", "lt", s.To)
	q := mcas.Query{Filters: f, SortField: mcas.SortCreated, SortDirection: mcas.Asc, Limit: r.opts.Limit}
	r.log.DebugContext(ctx, "slice started", "slice", s.Index, "from", s.From, "to", s.To)
	err := client.Scan(ctx, q, func(ctx context.Context, p *mcas.Page) error {
		// A crash here has fetched a page and committed nothing of it: the rerun fetches it again.
		failpoint.Hit("fetch")
		var pos int64
		switch {
		case !p.HasNext:
			pos = s.To // the last page of a slice: everything in it is delivered
		case p.HasPosition:
			pos = p.Position
		default:
			// More follows but the service named no bound: the page's rows commit, the
			// position stays where it was, so a crash can only make the rerun re-read them.
			pos = r.frontier.Position(s.Index)
		}
		r.pages.Add(1)
		r.records.Add(int64(len(p.Records)))
		r.seen[s.Index].Add(int64(len(p.Records)))
		if p.Total > 0 && !p.Tie {
			// The estimate counts what matches the current filters, i.e. what is left from here.
			r.totals[s.Index].Store(int64(p.Total))
			r.seen[s.Index].Store(int64(len(p.Records)))
		}
		if p.Tie {
			r.log.InfoContext(ctx, "tie group fetched whole", "slice", s.Index, "created_ms", pos-1, "records", len(p.Records))
		}
		return r.add(ctx, s.Index, pos, p)
	})
	if err != nil {
		return fmt.Errorf("scan %s: %w", s, err)
	}
	r.log.DebugContext(ctx, "slice finished", "slice", s.Index)
	return nil
}

// add queues a page's records with the watermark that becomes true once they are committed.
func (r *scanRun) add(ctx context.Context, slice int, pos int64, p *mcas.Page) error {
	r.addMu.Lock()
	defer r.addMu.Unlock()
	var state map[string]string
	wm := r.frontier.WatermarkIf(slice, pos)
	if !r.opts.Full && wm > r.stored {
		state = map[string]string{r.plan.Key: encodeWatermark(Watermark{
			Created: time.UnixMilli(wm).UTC(), URL: CanonicalURL(r.opts.URL), Filters: r.canonicalFilters(),
			Updated: r.opts.Clock.Now().UTC(),
		})}
	}
	// A fetched page is worth committing even when the run is being stopped: Add gets a context
	// that a signal does not cancel (the pipeline still refuses it after a failure).
	if err := r.pipe.Add(context.WithoutCancel(ctx), Chunk{Records: p.Records, State: state}); err != nil {
		return err
	}
	r.frontier.Advance(slice, pos)
	if state != nil {
		r.stored, r.moved = wm, true
	}
	return nil
}

func (r *scanRun) canonicalFilters() mcas.Filters {
	c, _ := CanonicalFilters(r.opts.Filters) // checked by PlanScan
	return c
}

// committedWatermark is the watermark the last commit carried, when this run moved it.
func (r *scanRun) committedWatermark() (int64, bool) {
	r.addMu.Lock()
	defer r.addMu.Unlock()
	return r.stored, r.moved && r.pipe.Err() == nil
}

func (r *scanRun) watermarkAttr() string {
	wm, ok := r.committedWatermark()
	if r.opts.Full {
		return "unchanged (full scan)"
	}
	if !ok {
		return "unchanged"
	}
	return time.UnixMilli(wm).UTC().Format(time.RFC3339Nano)
}

// snapshot is the live progress of the run.
func (r *scanRun) snapshot(client PageScanner) progress.Snapshot {
	s := r.pipe.Snapshot()
	s.Pages = r.pages.Load()
	s.Throttled = client.Stats().Throttled
	var left int64
	for i := range r.totals {
		left += max(r.totals[i].Load()-r.seen[i].Load(), 0)
	}
	if left > 0 {
		s.Total = s.Records + left
	}
	return s
}

func timeAttr(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}
