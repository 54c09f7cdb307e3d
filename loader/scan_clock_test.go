package loader

import (
	"fmt"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/progress"
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/mcas"
)

// shifted moves a fake tenant by d, so its data sits around a service clock d from fakeNow.
func shifted(all []fakeActivity, d time.Duration) []fakeActivity {
	out := make([]fakeActivity, len(all))
	for i, a := range all {
		a.timestamp += d.Milliseconds()
		a.created += d.Milliseconds()
		out[i] = a
	}
	return out
}

// TestScanFollowsServiceClock: whatever the local clock says, the window ends at the service's
// time, the watermark is the service's time, and late arrivals stored after it are found next.
func TestScanFollowsServiceClock(t *testing.T) {
	for _, skew := range []time.Duration{-timearg.Year, -2 * time.Hour, 2 * time.Hour, timearg.Year} {
		t.Run(skew.String(), func(t *testing.T) {
			clk := clock.NewVirtual(fakeNow, true)
			all := shifted(fakeTenant(21, 3000), skew)
			api := &fakeAPI{all: all, clk: clk, skew: skew}
			store := newMemStore()
			opts := fakeScanOptions(clk, memory.NewGoAllocator())
			opts.Parallel = 3
			if _, err := Scan(t.Context(), api, store, opts); err != nil {
				t.Fatal(err)
			}
			svc := fakeNow.Add(skew).UnixMilli()
			lookback := svc - DefaultFirstLookback.Milliseconds()
			sameSet(t, store.ids, visibleIDs(all, func(a fakeActivity) bool { return a.created < svc && a.created >= lookback }))
			key := WatermarkKey(opts.URL, nil)
			if wm, _ := store.watermarkOf(t, key); wm != svc {
				t.Fatalf("watermark %d, want the service's time %d (local %d)", wm, svc, fakeNow.UnixMilli())
			}
			w, _ := DecodeWatermark(store.state[key])
			if w.Service.Source != mcas.TimeFromDate || w.Service.At.UnixMilli() != svc {
				t.Errorf("the watermark does not say which service time it came from: %+v", w.Service)
			}
			// Late arrivals stored just after the first run, with old activity times.
			for i := range 300 {
				all = append(all, fakeActivity{id: fmt.Sprintf("late-%03d", i), timestamp: svc - 40*3_600_000, created: svc + int64(i)*1000, app: 11161})
			}
			api.mu.Lock()
			api.all = all
			api.mu.Unlock()
			clk.Advance(time.Hour)
			if _, err := Scan(t.Context(), api, store, opts); err != nil {
				t.Fatal(err)
			}
			svc2 := fakeNow.Add(skew + time.Hour).UnixMilli()
			sameSet(t, store.ids, visibleIDs(all, func(a fakeActivity) bool { return a.created < svc2 && a.created >= lookback }))
		})
	}
}

// TestScanServiceClockGoesBack: the service's clock jumps back three hours after a run; what it
// stores at its new time lies below the watermark, and must still be found.
func TestScanServiceClockGoesBack(t *testing.T) {
	clk := clock.NewVirtual(fakeNow, true)
	all := fakeTenant(22, 2000)
	api := &fakeAPI{all: all, clk: clk}
	store := newMemStore()
	opts := fakeScanOptions(clk, memory.NewGoAllocator())
	if _, err := Scan(t.Context(), api, store, opts); err != nil {
		t.Fatal(err)
	}
	key := WatermarkKey(opts.URL, nil)
	wm1, _ := store.watermarkOf(t, key)

	// Right after the run the service's clock goes back 3 h; an hour passes; meanwhile it
	// stores records at its new time, all below the watermark.
	api.mu.Lock()
	api.skew = -3 * time.Hour
	back := fakeNow.Add(-3 * time.Hour).UnixMilli()
	for i := range 200 {
		api.all = append(api.all, fakeActivity{id: fmt.Sprintf("after-jump-%03d", i), timestamp: back + int64(i)*1000, created: back + int64(i)*17_000, app: 20893})
	}
	all = api.all
	api.mu.Unlock()
	clk.Advance(time.Hour)
	var plan ScanPlan
	opts.OnStart = func(p ScanPlan, _ func() progress.Snapshot) { plan = p }
	if _, err := Scan(t.Context(), api, store, opts); err != nil {
		t.Fatal(err)
	}
	if !plan.Rewound || plan.From.UnixMilli() > back-DefaultOverlap.Milliseconds() {
		t.Fatalf("plan %+v: want a rewound window from at least %d", plan, back)
	}
	for i := range 200 {
		if id := fmt.Sprintf("after-jump-%03d", i); !store.ids[id] {
			t.Fatalf("%s, stored after the clock went back, was lost", id)
		}
	}
	wm2, _ := store.watermarkOf(t, key)
	if svc := fakeNow.Add(-2 * time.Hour).UnixMilli(); wm2 != svc || wm2 >= wm1 {
		t.Fatalf("watermark %d after the jump, want the service's time %d, below the old %d", wm2, svc, wm1)
	}
	sameSet(t, store.ids, visibleIDs(all, func(a fakeActivity) bool {
		return a.created >= fakeNow.Add(-DefaultFirstLookback).UnixMilli() && (a.created < wm1 || a.created < wm2)
	}))
}

// TestScanWithoutServiceTime: a service that shows no time moves nothing.
func TestScanWithoutServiceTime(t *testing.T) {
	clk := clock.NewVirtual(fakeNow, true)
	api := &fakeAPI{all: fakeTenant(23, 500), clk: clk, noTime: true}
	store := newMemStore()
	opts := fakeScanOptions(clk, memory.NewGoAllocator())
	if _, err := Scan(t.Context(), api, store, opts); err != nil {
		t.Fatal(err)
	}
	if len(store.ids) != 0 || len(store.state) != 0 {
		t.Fatalf("a first run without the service's time stored %d rows and state %v", len(store.ids), store.state)
	}
	api.noTime = false
	if _, err := Scan(t.Context(), api, store, opts); err != nil {
		t.Fatal(err)
	}
	key := WatermarkKey(opts.URL, nil)
	wm, _ := store.watermarkOf(t, key)
	api.noTime = true
	clk.Advance(time.Hour)
	if _, err := Scan(t.Context(), api, store, opts); err != nil {
		t.Fatal(err)
	}
	if again, _ := store.watermarkOf(t, key); again != wm {
		t.Fatalf("watermark moved from %d to %d on a run that saw no service time", wm, again)
	}
}

// TestScanParallelSplitsSkewedWindow: all the data sits in the first tenth of the window, so
// with even slices one would do all the work; finished slices split it, and the result is the
// same as a sequential scan's.
func TestScanParallelSplitsSkewedWindow(t *testing.T) {
	var all []fakeActivity
	for _, a := range fakeTenant(24, 6000) {
		// squeeze the 10 days of data into the first 3 of a 30-day window
		a.created = fakeNow.Add(-30*24*time.Hour).UnixMilli() + (a.created-fakeNow.Add(-10*24*time.Hour).UnixMilli())*3/10
		a.timestamp = a.created - 1000
		all = append(all, a)
	}
	results := map[int]map[string]bool{}
	marks := map[int]int64{}
	for _, parallel := range []int{1, 4} {
		clk := clock.NewVirtual(fakeNow, true)
		store := newMemStore()
		opts := fakeScanOptions(clk, memory.NewGoAllocator())
		opts.Parallel = parallel
		sum, err := Scan(t.Context(), &fakeAPI{all: all, clk: clk}, store, opts)
		if err != nil {
			t.Fatal(err)
		}
		if parallel > 1 && sum.Counters["slice_splits"] == 0 {
			t.Errorf("parallel %d never split the slice holding all the data", parallel)
		}
		results[parallel] = store.ids
		marks[parallel], _ = store.watermarkOf(t, WatermarkKey(opts.URL, nil))
	}
	sameSet(t, results[4], results[1])
	if marks[4] != marks[1] || len(results[1]) < 5000 {
		t.Fatalf("watermarks %d and %d, %d rows", marks[1], marks[4], len(results[1]))
	}
}
