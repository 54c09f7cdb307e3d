package loader

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/progress"
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/warehouse"
)

// These tests drive Scan against a small scripted API and an in-memory store, so the slicing,
// watermark and resume logic is checked fast and on many random cases. The simulator and DuckDB
// tests (scan_sim_test.go) check the same promises end to end.

// fakeActivity is what the fake API filters on.
type fakeActivity struct {
	id        string
	timestamp int64
	created   int64
	app       int
}

func (a fakeActivity) json() json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"_id":%q,"timestamp":%d,"created":%d,"appId":%d,"description":"fake"}`, a.id, a.timestamp, a.created, a.app))
}

// fakeAPI serves scan pages the way the service does (ascending on created, the boundary tie
// group dropped, the bound moved to gte), over activities visible at the clock's time.
type fakeAPI struct {
	mu    sync.Mutex
	all   []fakeActivity
	clk   clock.Clock
	pages int
	// failAfter makes the call after that many pages fail (0: never); failErr is returned.
	failAfter int
	failErr   error
	queries   []mcas.Query
	// hidePosition leaves Position unset on pages that say hasNext (a service whose
	// nextQueryFilters lacks the bound).
	hidePosition bool
	// skew is how far the service's clock is ahead of clk (negative: behind).
	skew time.Duration
	// noTime: the service shows no Date header and ServiceNow finds no record.
	noTime bool
}

// ServiceNow answers with the service's clock as a Date header would: whole seconds.
func (f *fakeAPI) ServiceNow(_ context.Context, _ mcas.Filters) (mcas.ServiceTime, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	local := f.clk.Now()
	if f.noTime {
		return mcas.ServiceTime{Local: local}, nil
	}
	return mcas.ServiceTime{At: local.Add(f.skew).Truncate(time.Second).UTC(), Local: local, Source: mcas.TimeFromDate}, nil
}

func (f *fakeAPI) Stats() mcas.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return mcas.Stats{Requests: int64(f.pages)}
}

func num(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int:
		return int64(x)
	case json.Number:
		n, _ := x.Int64()
		return n
	}
	panic(fmt.Sprintf("not a number: %T", v))
}

func (f *fakeAPI) match(q mcas.Query, a fakeActivity, now int64) bool {
	if a.created > now {
		return false
	}
	for op, v := range q.Filters["created"] {
		n := num(v)
		switch op {
		case "gte":
			if a.created < n {
				return false
			}
		case "lt":
			if a.created >= n {
				return false
			}
		default:
			panic("fake API: created op " + op)
		}
	}
	for op, v := range q.Filters["date"] {
		n := num(v)
		switch op {
		case "gte":
			if a.timestamp < n {
				return false
			}
		case "lte":
			if a.timestamp > n {
				return false
			}
		default:
			panic("fake API: date op " + op)
		}
	}
	if eq, ok := q.Filters["service"]["eq"]; ok {
		found := false
		b, _ := json.Marshal(eq)
		var ids []int
		if err := json.Unmarshal(b, &ids); err != nil {
			panic("fake API: service eq " + string(b))
		}
		for _, s := range ids {
			found = found || s == a.app
		}
		if !found {
			return false
		}
	}
	return true
}

func (f *fakeAPI) Scan(ctx context.Context, q mcas.Query, fn func(context.Context, *mcas.Page) error) error {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.mu.Unlock()
	q.Filters = q.Filters.Clone()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		f.mu.Lock()
		if f.failAfter > 0 && f.pages >= f.failAfter {
			f.mu.Unlock()
			return f.failErr
		}
		f.pages++
		now := f.clk.Now().Add(f.skew).UnixMilli()
		var rs []fakeActivity
		for _, a := range f.all {
			if f.match(q, a, now) {
				rs = append(rs, a)
			}
		}
		f.mu.Unlock()
		sort.Slice(rs, func(i, j int) bool {
			if rs[i].created != rs[j].created {
				return rs[i].created < rs[j].created
			}
			return rs[i].id < rs[j].id
		})
		page := &mcas.Page{Total: len(rs)}
		if len(rs) <= q.Limit {
			for _, a := range rs {
				page.Records = append(page.Records, a.json())
			}
			return fn(ctx, page)
		}
		b := rs[q.Limit-1].created
		for _, a := range rs[:q.Limit] {
			if a.created != b {
				page.Records = append(page.Records, a.json())
			}
		}
		if len(page.Records) == 0 {
			return errors.New("fake API: tie group of a whole page (not modelled here)")
		}
		q.Filters.Set("created", "gte", b)
		page.HasNext, page.Position, page.HasPosition, page.Next = true, b, !f.hidePosition, q.Filters.Clone()
		if err := fn(ctx, page); err != nil {
			return err
		}
	}
}

// memStore is an in-memory ScanWarehouse: first id wins, state commits with the rows, and a
// commit can be made to fail.
type memStore struct {
	mu      sync.Mutex
	ids     map[string]bool
	state   map[string]string
	commits int
	failAt  int // the commit with this number (1-based) fails; 0: never
}

func newMemStore() *memStore { return &memStore{ids: map[string]bool{}, state: map[string]string{}} }

var errCommitFailed = errors.New("disk full (test)")

func (m *memStore) Commit(_ context.Context, c warehouse.Commit) (warehouse.CommitResult, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.commits++
	if m.failAt > 0 && m.commits == m.failAt {
		return warehouse.CommitResult{}, errCommitFailed
	}
	var res warehouse.CommitResult
	for _, r := range c.Records {
		col := r.Column(0).(*array.String)
		for i := range col.Len() {
			if id := col.Value(i); !m.ids[id] {
				m.ids[id] = true
				res.Inserted++
			} else {
				res.Duplicates++
			}
		}
	}
	maps.Copy(m.state, c.State)
	return res, nil
}

func (m *memStore) State(_ context.Context, key string) (string, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.state[key]
	return v, ok, nil
}

// watermarkOf returns the stored watermark of key in ms.
func (m *memStore) watermarkOf(t *testing.T, key string) (int64, bool) {
	t.Helper()
	v, ok, _ := m.State(t.Context(), key)
	if !ok {
		return 0, false
	}
	w, err := DecodeWatermark(v)
	if err != nil {
		t.Fatal(err)
	}
	return w.Created.UnixMilli(), true
}

var fakeNow = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

// fakeService is the service's time at fakeNow, read from a Date header.
var fakeService = mcas.ServiceTime{At: fakeNow, Local: fakeNow, Source: mcas.TimeFromDate}

// fakeTenant makes n activities over the 10 days before fakeNow, with whole-second timestamps
// (ties), created 1–300 s after the event, and a share of late arrivals created hours later.
func fakeTenant(seed uint64, n int) []fakeActivity {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]fakeActivity, n)
	start := fakeNow.Add(-10 * 24 * time.Hour).UnixMilli()
	for i := range out {
		ts := start + rng.Int64N(10*24*3600)*1000
		created := ts + 1000 + rng.Int64N(300_000)
		if rng.IntN(20) == 0 {
			created = ts + rng.Int64N(48*3600_000)
		}
		out[i] = fakeActivity{id: fmt.Sprintf("%064x", i+1), timestamp: ts, created: created, app: []int{11161, 20893, 15600}[rng.IntN(3)]}
	}
	return out
}

// visibleIDs is the expected set, by brute force over the generated activities.
func visibleIDs(all []fakeActivity, keep func(fakeActivity) bool) map[string]bool {
	out := map[string]bool{}
	for _, a := range all {
		if keep(a) {
			out[a.id] = true
		}
	}
	return out
}

func sameSet(t *testing.T, got, want map[string]bool) {
	t.Helper()
	var missing, extra []string
	for id := range want {
		if !got[id] {
			missing = append(missing, id)
		}
	}
	for id := range got {
		if !want[id] {
			extra = append(extra, id)
		}
	}
	if len(missing)+len(extra) > 0 {
		slices.Sort(missing)
		slices.Sort(extra)
		t.Fatalf("store holds %d ids, want %d: %d missing (e.g. %.3v), %d unexpected (e.g. %.3v)",
			len(got), len(want), len(missing), missing, len(extra), extra)
	}
}

func fakeScanOptions(clk clock.Clock, mem memory.Allocator) ScanOptions {
	return ScanOptions{
		URL:      "https://contoso.eu2.portal.cloudappsecurity.com",
		Limit:    500,
		Clock:    clk,
		Pipeline: Options{Workers: 2, BatchRows: 1200, Allocator: mem},
	}
}

func TestScanFirstRunThenLateArrivals(t *testing.T) {
	for _, parallel := range []int{1, 4} {
		t.Run(fmt.Sprintf("parallel %d", parallel), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			clk := clock.NewVirtual(fakeNow, true)
			all := fakeTenant(1, 6000)
			api := &fakeAPI{all: all, clk: clk}
			store := newMemStore()
			opts := fakeScanOptions(clk, mem)
			opts.Parallel = parallel
			var snap func() progress.Snapshot
			opts.OnStart = func(_ ScanPlan, s func() progress.Snapshot) { snap = s }

			sum, err := Scan(t.Context(), api, store, opts)
			if err != nil {
				t.Fatal(err)
			}
			if s := snap(); s.Pages != sum.Counters["pages"] || s.Records != sum.Records || s.New != sum.New {
				t.Errorf("progress snapshot %+v disagrees with the summary (pages %d, records %d, new %d)", s, sum.Counters["pages"], sum.Records, sum.New)
			}
			now := fakeNow.UnixMilli()
			lookback := fakeNow.Add(-DefaultFirstLookback).UnixMilli()
			sameSet(t, store.ids, visibleIDs(all, func(a fakeActivity) bool { return a.created < now && a.created >= lookback }))
			if sum.New != int64(len(store.ids)) || sum.Counters["pages"] < 12 {
				t.Errorf("summary new=%d pages=%d, store %d", sum.New, sum.Counters["pages"], len(store.ids))
			}
			key := WatermarkKey(opts.URL, mcas.Filters{})
			wm, ok := store.watermarkOf(t, key)
			if !ok || wm != now {
				t.Fatalf("watermark = %d, %v; want %d (the service's time)", wm, ok, now)
			}

			// A day later, late arrivals with old timestamps and new activities are visible.
			clk.Advance(24 * time.Hour)
			late := fakeTenant(2, 500)
			for i := range late {
				late[i].id = fmt.Sprintf("late-%04d", i)
				late[i].created = now + int64(i)*60_000 // stored after the first run
			}
			api.mu.Lock()
			api.all = append(api.all, late...)
			api.mu.Unlock()
			all = append(all, late...)
			before := len(store.ids)
			sum, err = Scan(t.Context(), api, store, opts)
			if err != nil {
				t.Fatal(err)
			}
			now2 := clk.Now().UnixMilli()
			want := visibleIDs(all, func(a fakeActivity) bool { return a.created < now2 && a.created >= lookback })
			sameSet(t, store.ids, want)
			for _, a := range late {
				if !store.ids[a.id] {
					t.Fatalf("late arrival %s not loaded", a.id)
				}
			}
			if sum.New != int64(len(want)-before) || sum.New < int64(len(late)) {
				t.Errorf("second run new = %d, want %d (the %d late arrivals and what else was stored since)", sum.New, len(want)-before, len(late))
			}
			// The second run started from the watermark minus the overlap, not from scratch.
			api.mu.Lock()
			second := api.queries[len(api.queries)-parallel:]
			api.mu.Unlock()
			from := int64(1<<63 - 1)
			for _, q := range second {
				from = min(from, num(q.Filters["created"]["gte"]))
				if _, ok := q.Filters["date"]; ok {
					t.Errorf("incremental run sent a date filter: %v", q.Filters)
				}
			}
			if from != wm-DefaultOverlap.Milliseconds() {
				t.Errorf("second run started at created %d, want watermark-overlap %d", from, wm-DefaultOverlap.Milliseconds())
			}
		})
	}
}

// TestScanResumesExactlyAfterFailures fails scans and commits at random points, with random
// parallelism, and checks after every failure that the watermark never passes an activity
// that is not stored, and that reruns end with exactly the visible activities.
func TestScanResumesExactlyAfterFailures(t *testing.T) {
	rounds := 30
	if testing.Short() {
		rounds = 8
	}
	rng := rand.New(rand.NewPCG(3, 4))
	all := fakeTenant(5, 3000)
	now := fakeNow.UnixMilli()
	lookback := fakeNow.Add(-DefaultFirstLookback).UnixMilli()
	want := visibleIDs(all, func(a fakeActivity) bool { return a.created < now && a.created >= lookback })
	for round := range rounds {
		t.Run(fmt.Sprint(round), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			clk := clock.NewVirtual(fakeNow, true)
			store := newMemStore()
			key := WatermarkKey("https://contoso.eu2.portal.cloudappsecurity.com", mcas.Filters{})
			for attempt := 0; ; attempt++ {
				if attempt > 40 {
					t.Fatal("no progress after 40 attempts")
				}
				api := &fakeAPI{all: all, clk: clk}
				opts := fakeScanOptions(clk, mem)
				opts.Parallel = 1 + rng.IntN(5)
				failing := attempt < 3
				if failing {
					if rng.IntN(2) == 0 {
						api.failAfter, api.failErr = 1+rng.IntN(8), errors.New("connection reset (test)")
					} else {
						store.failAt = store.commits + 1 + rng.IntN(3)
					}
				} else {
					store.failAt = 0
				}
				_, err := Scan(t.Context(), api, store, opts)
				if wm, ok := store.watermarkOf(t, key); ok {
					for _, a := range all {
						if a.created < wm && a.created >= lookback && !store.ids[a.id] {
							t.Fatalf("attempt %d: watermark %d passes activity %s created %d that is not stored", attempt, wm, a.id, a.created)
						}
					}
				}
				if err == nil {
					break
				}
				if !failing {
					t.Fatalf("attempt %d failed: %v", attempt, err)
				}
			}
			sameSet(t, store.ids, want)
		})
	}
}

func TestScanParallelEqualsSequential(t *testing.T) {
	all := fakeTenant(9, 5000)
	results := map[int]map[string]bool{}
	marks := map[int]string{}
	for _, parallel := range []int{1, 2, 4, 7} {
		clk := clock.NewVirtual(fakeNow, true)
		store := newMemStore()
		opts := fakeScanOptions(clk, memory.NewGoAllocator())
		opts.Parallel = parallel
		if _, err := Scan(t.Context(), &fakeAPI{all: all, clk: clk}, store, opts); err != nil {
			t.Fatal(err)
		}
		results[parallel] = store.ids
		w, _ := DecodeWatermark(store.state[WatermarkKey(opts.URL, nil)])
		marks[parallel] = w.Created.String()
	}
	for _, p := range []int{2, 4, 7} {
		sameSet(t, results[p], results[1])
		if marks[p] != marks[1] {
			t.Errorf("parallel %d watermark %s, parallel 1 %s", p, marks[p], marks[1])
		}
	}
}

func TestScanFullNeverMovesWatermark(t *testing.T) {
	clk := clock.NewVirtual(fakeNow, true)
	all := fakeTenant(11, 2000)
	store := newMemStore()
	opts := fakeScanOptions(clk, memory.NewGoAllocator())
	opts.Full = true
	opts.Since = timearg.At(fakeNow.Add(-3 * 24 * time.Hour))
	api := &fakeAPI{all: all, clk: clk}
	sum, err := Scan(t.Context(), api, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(store.state) != 0 {
		t.Fatalf("full scan wrote state %v", store.state)
	}
	since, now := opts.Since.Resolve(fakeNow).UnixMilli(), fakeNow.UnixMilli()
	sameSet(t, store.ids, visibleIDs(all, func(a fakeActivity) bool { return a.timestamp >= since && a.created < now }))
	if _, ok := sum.Counters["watermark_ms"]; ok {
		t.Error("full scan summary reports a watermark")
	}
}

func TestScanFilteredScopeKeepsItsOwnWatermark(t *testing.T) {
	clk := clock.NewVirtual(fakeNow, true)
	all := fakeTenant(12, 2000)
	store := newMemStore()
	api := &fakeAPI{all: all, clk: clk}
	opts := fakeScanOptions(clk, memory.NewGoAllocator())
	opts.Filters = mcas.Filters{}.Service(11161)
	if _, err := Scan(t.Context(), api, store, opts); err != nil {
		t.Fatal(err)
	}
	now := fakeNow.UnixMilli()
	lookback := fakeNow.Add(-DefaultFirstLookback).UnixMilli()
	sameSet(t, store.ids, visibleIDs(all, func(a fakeActivity) bool { return a.app == 11161 && a.created < now && a.created >= lookback }))
	canon, _ := CanonicalFilters(opts.Filters)
	if _, ok := store.watermarkOf(t, WatermarkKey(opts.URL, canon)); !ok {
		t.Fatal("filtered scan stored no watermark under its own key")
	}
	if _, ok := store.watermarkOf(t, WatermarkKey(opts.URL, nil)); ok {
		t.Fatal("filtered scan moved the unfiltered watermark")
	}
	// The unfiltered scan that follows is a first run and fetches the other apps too.
	opts.Filters = nil
	if _, err := Scan(t.Context(), api, store, opts); err != nil {
		t.Fatal(err)
	}
	sameSet(t, store.ids, visibleIDs(all, func(a fakeActivity) bool { return a.created < now && a.created >= lookback }))
}

func TestScanUntilCapsWatermark(t *testing.T) {
	clk := clock.NewVirtual(fakeNow, true)
	all := fakeTenant(13, 2000)
	store := newMemStore()
	api := &fakeAPI{all: all, clk: clk}
	opts := fakeScanOptions(clk, memory.NewGoAllocator())
	opts.Since = timearg.Ago(8 * 24 * time.Hour)
	opts.Until = timearg.Ago(2 * 24 * time.Hour)
	if _, err := Scan(t.Context(), api, store, opts); err != nil {
		t.Fatal(err)
	}
	since, until := opts.Since.Resolve(fakeNow).UnixMilli(), opts.Until.Resolve(fakeNow).UnixMilli()
	sameSet(t, store.ids, visibleIDs(all, func(a fakeActivity) bool {
		return a.timestamp >= since && a.timestamp <= until && a.created <= until && a.created >= since
	}))
	wm, _ := store.watermarkOf(t, WatermarkKey(opts.URL, nil))
	if wm != until+1 {
		t.Fatalf("watermark %d, want until+1 = %d", wm, until+1)
	}
	// Without --until, the next run picks up what was stored after until, late arrivals with an
	// old date included, and nothing is lost.
	opts.Since, opts.Until = timearg.Time{}, timearg.Time{}
	if _, err := Scan(t.Context(), api, store, opts); err != nil {
		t.Fatal(err)
	}
	now := fakeNow.UnixMilli()
	sameSet(t, store.ids, visibleIDs(all, func(a fakeActivity) bool {
		firstRun := a.timestamp >= since && a.timestamp <= until && a.created >= since && a.created <= until
		secondRun := a.created >= until+1-DefaultOverlap.Milliseconds() && a.created < now
		return firstRun || secondRun
	}))
}

func TestScanStopsCleanlyOnCancel(t *testing.T) {
	clk := clock.NewVirtual(fakeNow, true)
	all := fakeTenant(14, 4000)
	store := newMemStore()
	ctx, cancel := context.WithCancel(t.Context())
	api := &fakeAPI{all: all, clk: clk}
	opts := fakeScanOptions(clk, memory.NewGoAllocator())
	pages := 0
	opts.OnStart = func(_ ScanPlan, snap func() progress.Snapshot) {}
	scanner := &cancelAfter{PageScanner: api, n: 3, cancel: cancel, pages: &pages}
	sum, err := Scan(ctx, scanner, store, opts)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !sum.Stopped || sum.New == 0 {
		t.Fatalf("summary stopped=%v new=%d; want stopped with the fetched pages committed", sum.Stopped, sum.New)
	}
	wm, ok := store.watermarkOf(t, WatermarkKey(opts.URL, nil))
	if !ok {
		t.Fatal("no watermark after a stopped run that committed pages")
	}
	for _, a := range all {
		if a.created < wm && !store.ids[a.id] && a.created >= fakeNow.Add(-DefaultFirstLookback).UnixMilli() {
			t.Fatalf("watermark passes unstored %s", a.id)
		}
	}
	if int64(len(store.ids)) != sum.New {
		t.Fatalf("store %d rows, summary new %d", len(store.ids), sum.New)
	}
}

// cancelAfter cancels the run's context after n pages have been handed on.
type cancelAfter struct {
	PageScanner
	n      int
	cancel context.CancelFunc
	pages  *int
}

func (c *cancelAfter) Scan(ctx context.Context, q mcas.Query, fn func(context.Context, *mcas.Page) error) error {
	return c.PageScanner.Scan(ctx, q, func(ctx context.Context, p *mcas.Page) error {
		*c.pages++
		if *c.pages == c.n {
			c.cancel()
		}
		return fn(ctx, p)
	})
}

func TestScanMaxDuration(t *testing.T) {
	// A clock that does not advance by itself: the deadline passes when the test moves it.
	clk := clock.NewVirtual(fakeNow, false)
	store := newMemStore()
	opts := fakeScanOptions(clk, memory.NewGoAllocator())
	opts.MaxDuration = time.Hour
	block := make(chan struct{})
	api := &blockingAPI{started: block}
	done := make(chan error, 1)
	go func() {
		_, err := Scan(t.Context(), api, store, opts)
		done <- err
	}()
	<-block
	// The deadline's sleeper may register just after the scan starts; keep moving the clock
	// until the run ends.
	for {
		clk.Advance(10 * time.Minute)
		select {
		case err := <-done:
			if !errors.Is(err, ErrMaxDuration) {
				t.Fatalf("err = %v, want ErrMaxDuration", err)
			}
			if clk.Now().Sub(fakeNow) < time.Hour {
				t.Fatalf("stopped after %s, before --max-duration", clk.Now().Sub(fakeNow))
			}
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// blockingAPI waits in Scan until the context ends.
type blockingAPI struct{ started chan struct{} }

func (b *blockingAPI) Stats() mcas.Stats { return mcas.Stats{} }
func (b *blockingAPI) ServiceNow(context.Context, mcas.Filters) (mcas.ServiceTime, error) {
	return mcas.ServiceTime{At: fakeNow, Local: fakeNow, Source: mcas.TimeFromDate}, nil
}
func (b *blockingAPI) Scan(ctx context.Context, _ mcas.Query, _ func(context.Context, *mcas.Page) error) error {
	close(b.started)
	<-ctx.Done()
	return ctx.Err()
}

func TestPlanScan(t *testing.T) {
	clk := clock.NewVirtual(fakeNow, true)
	store := newMemStore()
	url := "https://contoso.eu2.portal.cloudappsecurity.com"
	key := WatermarkKey(url, nil)
	wm := fakeNow.Add(-6 * time.Hour)
	store.state[key] = encodeWatermark(Watermark{Created: wm, URL: url})
	ms := func(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }
	tests := []struct {
		name     string
		opts     ScanOptions
		mode     string
		from, to time.Time
		dateFrom time.Time
	}{
		{"incremental", ScanOptions{URL: url}, "incremental", wm.Add(-DefaultOverlap), fakeNow, time.Time{}},
		{"incremental ignores --since", ScanOptions{URL: url, Since: timearg.Ago(time.Hour)}, "incremental", wm.Add(-DefaultOverlap), fakeNow, time.Time{}},
		{"first run", ScanOptions{URL: url, Filters: mcas.Filters{}.Service(20893)}, "first", fakeNow.Add(-DefaultFirstLookback), fakeNow, time.Time{}},
		{"first run since", ScanOptions{URL: url, Filters: mcas.Filters{}.Service(20893), Since: timearg.Ago(36 * time.Hour)}, "first", fakeNow.Add(-36 * time.Hour), fakeNow, fakeNow.Add(-36 * time.Hour)},
		{"full", ScanOptions{URL: url, Full: true, Since: timearg.At(fakeNow.Add(-7 * 24 * time.Hour)), Until: timearg.Ago(time.Hour)}, "full", fakeNow.Add(-7 * 24 * time.Hour), fakeNow.Add(-time.Hour + time.Millisecond), fakeNow.Add(-7 * 24 * time.Hour)},
		{"custom overlap", ScanOptions{URL: url, Overlap: time.Hour}, "incremental", wm.Add(-time.Hour), fakeNow, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Clock = clk
			if tt.opts.Overlap == 0 {
				tt.opts.Overlap = DefaultOverlap
			}
			tt.opts.FirstLookback = DefaultFirstLookback
			tt.opts.Parallel = 3
			plan, _, err := PlanScan(t.Context(), store, tt.opts, fakeService)
			if err != nil {
				t.Fatal(err)
			}
			if plan.Mode != tt.mode || !plan.From.Equal(tt.from) || !plan.To.Equal(tt.to) || !plan.DateFrom.Equal(tt.dateFrom) {
				t.Fatalf("plan %s [%s, %s) date from %s; want %s [%s, %s) date from %s",
					plan.Mode, ms(plan.From), ms(plan.To), ms(plan.DateFrom), tt.mode, ms(tt.from), ms(tt.to), ms(tt.dateFrom))
			}
			if len(plan.Slices) != 3 || plan.Slices[0].From != tt.from.UnixMilli() || plan.Slices[2].To != tt.to.UnixMilli() {
				t.Fatalf("slices %v do not cover the window", plan.Slices)
			}
		})
	}
	for _, bad := range []struct {
		opts ScanOptions
		kind error
	}{
		{ScanOptions{URL: url, Filters: mcas.Filters{}.Set("date", "gte", 1)}, ErrTimeFilter},
		{ScanOptions{URL: url, Since: timearg.Ago(0), Until: timearg.Ago(time.Hour)}, ErrEmptyWindow},
		// One relative, one absolute: only the service's clock orders them.
		{ScanOptions{URL: url, Since: timearg.Ago(time.Hour), Until: timearg.At(fakeNow.Add(-2 * time.Hour))}, ErrEmptyWindow},
	} {
		bad.opts.Clock = clk
		if _, _, err := PlanScan(t.Context(), store, bad.opts, fakeService); !errors.Is(err, bad.kind) {
			t.Errorf("PlanScan(%+v) = %v, want %v", bad.opts, err, bad.kind)
		}
	}
	store.state[key] = "garbage"
	_, _, err := PlanScan(t.Context(), store, ScanOptions{URL: url, Clock: clk}, fakeService)
	var wmErr *WatermarkError
	if !errors.As(err, &wmErr) || wmErr.Key != key {
		t.Errorf("a damaged watermark: %v, want a WatermarkError naming key %q", err, key)
	}
}

// TestScanPageWithoutPositionKeepsWatermark: a page that says more follows but names no bound
// commits its rows without moving the watermark, so a failure after it loses nothing.
func TestScanPageWithoutPositionKeepsWatermark(t *testing.T) {
	clk := clock.NewVirtual(fakeNow, true)
	all := fakeTenant(15, 3000)
	store := newMemStore()
	opts := fakeScanOptions(clk, memory.NewGoAllocator())
	api := &fakeAPI{all: all, clk: clk, hidePosition: true, failAfter: 3, failErr: errors.New("connection reset (test)")}
	if _, err := Scan(t.Context(), api, store, opts); err == nil {
		t.Fatal("scan did not fail")
	}
	if len(store.ids) == 0 {
		t.Fatal("the pages before the failure were not committed")
	}
	// The watermark may pin the window's start (so a rerun resumes the same first run), but
	// must not move past it.
	start := fakeNow.Add(-DefaultFirstLookback).UnixMilli()
	if wm, ok := store.watermarkOf(t, WatermarkKey(opts.URL, nil)); ok && wm != start {
		t.Fatalf("the watermark moved to %d on pages that named no position; want at most the window start %d", wm, start)
	}
	api.failAfter = 0
	if _, err := Scan(t.Context(), api, store, opts); err != nil {
		t.Fatal(err)
	}
	now := fakeNow.UnixMilli()
	lookback := fakeNow.Add(-DefaultFirstLookback).UnixMilli()
	sameSet(t, store.ids, visibleIDs(all, func(a fakeActivity) bool { return a.created < now && a.created >= lookback }))
	if wm, ok := store.watermarkOf(t, WatermarkKey(opts.URL, nil)); !ok || wm != now {
		t.Fatalf("after a complete scan the watermark is %d, %v; want %d", wm, ok, now)
	}
}
