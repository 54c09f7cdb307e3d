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
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/mcas"
)

// The scan loop. It walks `created` (when the service stored an activity) ascending, because that
// is the only order in which "everything before this point is fetched" stays true as late
// arrivals land: an activity with an old `timestamp` gets a new `created` and is found by the
// next incremental run, then lands in its old day. Pages go through the shared Pipeline, each with
// the watermark it justifies, so rows and position commit in one transaction: a crash loses at
// most uncommitted pages, which the next run fetches again (deduplication makes that exact).
//
// Every time of a scan is the service's: the window ends at the service's time read at the
// start of the run (mcas.Client.ServiceNow), and relative times (--since 7d, the first run's
// lookback) count back from it. The local clock only measures durations (--max-duration), so a
// machine whose clock is hours or years off loses nothing.

// Defaults of a scan.
const (
	DefaultOverlap       = 10 * time.Minute
	DefaultFirstLookback = 30 * 24 * time.Hour
)

// ErrMaxDuration is the cause of a run stopped by ScanOptions.MaxDuration.
var ErrMaxDuration = errors.New("scan: the maximum duration is over")

// ErrEmptyWindow is returned by Scan and PlanScan when Since, resolved on the service's clock,
// is not before Until.
var ErrEmptyWindow = errors.New("the scan window is empty")

// WatermarkError is a stored watermark that cannot be read; Key names it so the caller can say
// how to reset it.
type WatermarkError struct {
	Key string
	Err error
}

func (e *WatermarkError) Error() string {
	return fmt.Sprintf("watermark %q is damaged: %v", e.Key, e.Err)
}
func (e *WatermarkError) Unwrap() error { return e.Err }

// PageScanner fetches pages in scan mode and tells the service's time; *mcas.Client is the
// production one.
type PageScanner interface {
	Scan(ctx context.Context, q mcas.Query, fn func(context.Context, *mcas.Page) error) error
	ServiceNow(ctx context.Context, filters mcas.Filters) (mcas.ServiceTime, error)
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
	// Relative values ("7d") count back from the service's time.
	Since, Until timearg.Time
	// Limit is the page size, 500–5000 (default 5000).
	Limit int
	// Full re-scans the window [Since (default 30 days ago), Until or now] and never moves the
	// watermark.
	Full bool
	// Overlap is how far before the watermark an incremental run starts again (default 10m).
	Overlap time.Duration
	// FirstLookback is how far back a first incremental run starts without Since (default 30 days).
	FirstLookback time.Duration
	// Parallel is the number of disjoint time slices scanned at once (default 1). A worker whose
	// slice is finished splits the busiest remaining one, so all of them stay busy wherever the
	// data sits in the window.
	Parallel int
	// MaxDuration stops the run after this long (measured on Clock), committing what is done.
	MaxDuration time.Duration
	// Clock is the local clock: it measures MaxDuration and stamps Watermark.Updated, never a
	// window bound.
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
	// Service is the service's time the window was planned on: its end and the origin of
	// relative times.
	Service mcas.ServiceTime
	// Rewound is set when the service's clock is behind where it was at the last run: the
	// window starts early enough to catch what it stored since at its new time, and the
	// watermark may move down.
	Rewound bool
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
	splits  atomic.Int64

	// What the scheduler knows of each slice, by slice index; guarded by addMu.
	progress map[int]*sliceProgress
	nextID   int
	// changed is closed and replaced whenever a page arrives or a slice ends, waking idle
	// workers that look for a slice to split.
	changedMu sync.Mutex
	changed   chan struct{}
}

// sliceProgress is one slice's progress as the scheduler sees it.
type sliceProgress struct {
	running    bool
	done       bool
	positioned bool  // every page so far named its position, so the slice can be cut and resumed
	total      int64 // the service's estimate of what was left at the last page (0: none yet)
	seen       int64 // records received since that estimate
	start      int64 // where the slice's current scan started, and
	received   int64 // records received since, for the density of its data
} // Scan fetches the activities of opts' window from client, slice by slice, through a Pipeline
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
	opts.Logger.DebugContext(ctx, "reading the service's clock: the window ends at its time, not this machine's")
	svc, err := client.ServiceNow(ctx, opts.Filters)
	if err != nil {
		return nil, fmt.Errorf("plan scan: %w", err)
	}
	plan, stored, err := PlanScan(ctx, w, opts, svc)
	if err != nil {
		return nil, err
	}
	r := &scanRun{
		opts: opts, plan: plan, log: opts.Logger, frontier: NewFrontier(plan.Slices), stored: stored,
		progress: map[int]*sliceProgress{}, nextID: len(plan.Slices), changed: make(chan struct{}),
	}
	for _, sl := range plan.Slices {
		r.progress[sl.Index] = &sliceProgress{positioned: true, start: sl.From}
	}
	logServiceTime(ctx, r.log, svc)
	r.log.InfoContext(ctx, "scan planned", "mode", plan.Mode, "key", plan.Key,
		"watermark", timeAttr(plan.Watermark), "from", timeAttr(plan.From), "to", timeAttr(plan.To),
		"slices", len(plan.Slices), "date_from", timeAttr(plan.DateFrom), "date_to", timeAttr(plan.DateTo),
		"service_time", timeAttr(svc.At), "service_time_from", svc.Source)

	if plan.Rewound {
		r.log.WarnContext(ctx, "the service's clock is behind where it was at the last run; scanning again from early enough to catch what it stored at its new time, and letting the watermark move down",
			"service_time", timeAttr(svc.At), "watermark", timeAttr(plan.Watermark), "from", timeAttr(plan.From))
	}
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
		"empty_last_pages":      st.EmptyEnds,
		"slice_splits":          r.splits.Load(),
		"throttle_wait_seconds": int64(st.ThrottleWait.Round(time.Second) / time.Second),
		"throttle_wait_ms":      st.ThrottleWait.Milliseconds(),
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

// logServiceTime says where the run's times come from, and how far the local clock is off
// when that is more than a minute.
func logServiceTime(ctx context.Context, log *slog.Logger, svc mcas.ServiceTime) {
	switch skew := svc.Skew(); {
	case !svc.Known():
		log.WarnContext(ctx, "the service shows neither a Date header nor any record of this scope: nothing to scan, and the watermark stays where it is")
	case skew > mcas.SkewReported:
		log.WarnContext(ctx, "the local clock is behind the service's; the scan follows the service's clock", "behind", skew.Round(time.Minute).String(),
			"service_time", timeAttr(svc.At))
	case skew < -mcas.SkewReported:
		log.WarnContext(ctx, "the local clock is ahead of the service's; the scan follows the service's clock", "ahead", (-skew).Round(time.Minute).String(),
			"service_time", timeAttr(svc.At))
	}
}

// PlanScan works out the window, slices and watermark key of a scan from opts, the stored
// watermark and the service's time svc (the window's end and the origin of relative times),
// without fetching anything. It returns the plan and the watermark in epoch ms below which the
// run's positions are not stored (math.MinInt64 when none).
func PlanScan(ctx context.Context, w interface {
	State(ctx context.Context, key string) (string, bool, error)
}, opts ScanOptions, svc mcas.ServiceTime) (ScanPlan, int64, error) {
	canon, err := CanonicalFilters(opts.Filters)
	if err != nil {
		return ScanPlan{}, 0, fmt.Errorf("plan scan: %w", err)
	}
	now := svc.At.UTC().Truncate(time.Millisecond)
	since, until := opts.Since.Resolve(now), opts.Until.Resolve(now)
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return ScanPlan{}, 0, fmt.Errorf("plan scan: %w: since %s is not before until %s (on the service's clock)", ErrEmptyWindow, since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	plan := ScanPlan{Key: WatermarkKey(opts.URL, canon), DateFrom: since, DateTo: until, Service: svc}
	stored := int64(noWatermark)
	var wm Watermark
	if v, ok, err := w.State(ctx, plan.Key); err != nil {
		return ScanPlan{}, 0, fmt.Errorf("plan scan: read watermark: %w", err)
	} else if ok && v != ResetWatermark {
		wm, err = DecodeWatermark(v)
		if err != nil {
			return ScanPlan{}, 0, fmt.Errorf("plan scan: %w", &WatermarkError{Key: plan.Key, Err: err})
		}
		plan.Watermark = wm.Created
		stored = wm.Created.UnixMilli()
	}

	lookback := now.Add(-opts.FirstLookback)
	switch {
	case opts.Full:
		plan.Mode = "full"
		plan.From = lookback
		if !since.IsZero() {
			plan.From = since
		}
	case stored != noWatermark:
		plan.Mode = "incremental"
		plan.From = plan.Watermark.Add(-opts.Overlap)
		// An incremental run resumes from its watermark: a relative --since (cron's "7d") must
		// not drop late arrivals older than it that the watermark has not yet passed.
		plan.DateFrom = time.Time{}
		if svc.Known() {
			if lowest, back := rewound(wm, svc); back {
				plan.Rewound = true
				plan.From = minTime(plan.From, lowest.Add(-opts.Overlap))
				stored = plan.From.UnixMilli() - 1
			}
		}
	default:
		plan.Mode = "first"
		plan.From = lookback
		if !since.IsZero() {
			plan.From = since
		}
	}
	// The window on created ends at the service's time: it has stored nothing later (the
	// overlap of the next run covers what it stored earlier but shows later). The Date header
	// counts whole seconds, so it is never after the service's true time. With --until it ends
	// just after until, since an activity is stored after it happens; so the watermark stops at
	// until and the next run still finds late arrivals with date <= until stored after it.
	plan.To = now
	if !until.IsZero() && until.Add(time.Millisecond).Before(plan.To) {
		plan.To = until.Add(time.Millisecond)
	}
	if !svc.Known() {
		// The service showed no time: scan nothing new, and never move the watermark past what
		// it has shown.
		plan.To = plan.From
		if plan.Mode == "incremental" {
			plan.To = maxTime(plan.From, plan.Watermark)
		}
	}
	if plan.To.Before(plan.From) {
		plan.To = plan.From
	}
	plan.Slices = SplitWindow(plan.From.UnixMilli(), plan.To.UnixMilli(), opts.Parallel)
	return plan, stored, nil
}

// rewound reports whether the service's clock svc is behind where the last run saw it, counting
// the time that passed since on the local clock (whose rate, not its setting, is trusted). It
// returns the lowest time the service can have stamped a record with since then.
func rewound(wm Watermark, svc mcas.ServiceTime) (lowest time.Time, back bool) {
	elapsed := time.Duration(0)
	if wm.Service.Known() && !wm.Service.Local.IsZero() {
		elapsed = max(svc.Local.Sub(wm.Service.Local), 0)
	}
	lowest = svc.At.Add(-elapsed)
	back = svc.At.Before(wm.Created)
	if wm.Service.Known() {
		expected := wm.Service.At.Add(elapsed)
		back = back || svc.At.Sub(expected) < -mcas.SkewReported
	}
	return lowest, back
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// noWatermark marks "no stored watermark" in epoch ms.
const noWatermark = -1 << 63

// errResume stops a slice's scan after a page when the slice was cut below where its requests
// reach: the worker resumes from its position with the new end.
var errResume = errors.New("slice was split; resume with its new end")

// scanSlices runs the slices on Parallel workers and returns the first error, which cancels the
// others. A worker whose slice is finished splits the busiest slice still running and takes its
// upper part, so the whole request budget stays in use wherever the data sits in the window.
func (r *scanRun) scanSlices(ctx context.Context, client PageScanner) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	for _, s := range r.plan.Slices {
		r.addMu.Lock()
		r.progress[s.Index].running = true
		r.addMu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := s.Index; ; {
				err := r.scanSlice(ctx, client, id)
				r.finished(id)
				if err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					cancel(err)
					return
				}
				var ok bool
				if id, ok = r.nextSlice(ctx); !ok {
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// finished marks slice id as no longer scanned and wakes idle workers.
func (r *scanRun) finished(id int) {
	r.addMu.Lock()
	p := r.progress[id]
	p.running = false
	p.done = r.frontier.Position(id) >= r.frontier.Slice(id).To
	r.addMu.Unlock()
	r.notify()
}

func (r *scanRun) notify() {
	r.changedMu.Lock()
	close(r.changed)
	r.changed = make(chan struct{})
	r.changedMu.Unlock()
}

func (r *scanRun) waitChange() <-chan struct{} {
	r.changedMu.Lock()
	defer r.changedMu.Unlock()
	return r.changed
}

// nextSlice waits until some running slice is worth splitting and returns the part this worker
// takes; ok is false when every other slice has ended (or the run is stopping).
func (r *scanRun) nextSlice(ctx context.Context) (int, bool) {
	for {
		changed := r.waitChange() // taken before looking, so no wake-up is missed
		id, ok, running := r.split(ctx)
		if ok {
			return id, true
		}
		if !running {
			return 0, false
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, false
		}
	}
}

// split cuts the running slice with the most records left (by the service's estimate) where
// about half of them lie, judged from how densely its data came so far, and returns the upper
// part, marked running. A slice is worth splitting when at least two pages are left; one whose
// pages name no position cannot be resumed at a cut and is left whole. running reports
// whether any slice is still being scanned.
func (r *scanRun) split(ctx context.Context) (id int, ok, running bool) {
	r.addMu.Lock()
	defer r.addMu.Unlock()
	best, bestLeft := -1, int64(0)
	for sid, p := range r.progress {
		if !p.running {
			continue
		}
		running = true
		left := p.total - p.seen
		if !p.positioned || p.total == 0 || left < 2*int64(r.opts.Limit) {
			continue
		}
		if left > bestLeft || left == bestLeft && sid < best {
			best, bestLeft = sid, left
		}
	}
	if best < 0 {
		return 0, false, running
	}
	p := r.progress[best]
	sl := r.frontier.Slice(best)
	pos := r.frontier.Position(best)
	at := pos + (sl.To-pos)/2
	if span := pos - p.start; span > 0 && p.received > 0 {
		// Records per millisecond so far in this slice: half of what is left lies about here.
		at = pos + int64(float64(bestLeft/2)/(float64(p.received)/float64(span)))
	}
	at = min(max(at, pos+1), sl.To-1)
	if at <= pos || at >= sl.To {
		return 0, false, running
	}
	newID := r.nextID
	part, err := r.frontier.Split(best, at, newID)
	if err != nil {
		return 0, false, running
	}
	r.nextID++
	r.splits.Add(1)
	half := bestLeft / 2
	p.total = p.seen + bestLeft - half
	r.progress[newID] = &sliceProgress{running: true, positioned: true, total: half, start: at}
	r.log.DebugContext(ctx, "slice split", "slice", best, "at", at, "new", part.String(), "records_left", bestLeft)
	return newID, true, true
}

// scanSlice fetches slice id in created order and hands each page to the pipeline with the
// watermark that page justifies. When the slice is cut while it runs, its scan stops after the
// page in hand and resumes from its position with the new end.
func (r *scanRun) scanSlice(ctx context.Context, client PageScanner, id int) error {
	for {
		s := r.frontier.Slice(id)
		start := r.frontier.Position(id)
		if start >= s.To {
			return nil
		}
		f := r.opts.Filters.Clone()
		f = f.DateRange(r.plan.DateFrom, r.plan.DateTo)
		f = f.Set("created", "gte", start).Set("created", "lt", s.To)
		q := mcas.Query{Filters: f, SortField: mcas.SortCreated, SortDirection: mcas.Asc, Limit: r.opts.Limit}
		r.log.DebugContext(ctx, "slice started", "slice", id, "from", start, "to", s.To)
		r.addMu.Lock()
		r.progress[id].start, r.progress[id].received = start, 0
		r.addMu.Unlock()
		err := client.Scan(ctx, q, func(ctx context.Context, p *mcas.Page) error {
			// A crash here has fetched a page and committed nothing of it: the rerun fetches it again.
			failpoint.Hit("fetch")
			var pos int64
			switch {
			case !p.HasNext:
				pos = s.To // the last page of this scan: everything below its end is delivered
			case p.HasPosition:
				pos = p.Position
			default:
				// More follows but the service named no bound: the page's rows commit, the
				// position stays where it was, so a crash can only make the rerun re-read them.
				pos = r.frontier.Position(id)
			}
			r.pages.Add(1)
			r.records.Add(int64(len(p.Records)))
			if p.Tie {
				r.log.InfoContext(ctx, "tie group fetched whole", "slice", id, "created_ms", pos-1, "records", len(p.Records))
			}
			if err := r.add(ctx, id, pos, p); err != nil {
				return err
			}
			r.notify()
			if p.HasNext && r.frontier.Slice(id).To != s.To {
				return errResume
			}
			return nil
		})
		switch {
		case errors.Is(err, errResume):
			continue
		case err != nil:
			return fmt.Errorf("scan %s: %w", s, err)
		}
		r.log.DebugContext(ctx, "slice finished", "slice", id)
		return nil
	}
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
			Updated: r.opts.Clock.Now().UTC(), Service: r.plan.Service,
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
	sp := r.progress[slice]
	n := int64(len(p.Records))
	sp.seen += n
	sp.received += n
	if p.HasNext && !p.HasPosition {
		sp.positioned = false
	}
	if p.Total > 0 && !p.Tie {
		// The estimate counts what matches the current filters, i.e. what is left from here.
		sp.total, sp.seen = int64(p.Total), n
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
	st := client.Stats()
	s.Throttled = st.Throttled
	s.Waiting, s.WaitLeft, s.Waited = st.RateWaiting, st.RateWait, st.ThrottleWait
	var left int64
	r.addMu.Lock()
	for _, p := range r.progress {
		if !p.done {
			left += max(p.total-p.seen, 0)
		}
	}
	r.addMu.Unlock()
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
