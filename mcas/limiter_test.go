package mcas

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
)

// Many goroutines hammering one limiter never get more than 30 grants in any 60 s window, and
// the limiter does not waste budget either: 300 grants take about 9 windows.
func TestLimiterSlidingWindow(t *testing.T) {
	clk := clock.NewVirtual(epoch, true)
	lim := NewLimiter(clk, 30, time.Minute)
	var mu sync.Mutex
	var grants []time.Time
	lim.onAcquire = func(at time.Time) { grants = append(grants, at) } // called under lim.mu
	const workers, each = 12, 25
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if err := lim.Wait(t.Context()); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	if len(grants) != workers*each {
		t.Fatalf("%d grants, want %d", len(grants), workers*each)
	}
	if !slices.IsSortedFunc(grants, func(a, b time.Time) int { return a.Compare(b) }) {
		t.Fatal("grant times are not in order")
	}
	for i := 30; i < len(grants); i++ {
		if d := grants[i].Sub(grants[i-30]); d < time.Minute {
			t.Fatalf("grants %d and %d are %v apart: 31 requests inside one minute", i-30, i, d)
		}
	}
	if span := grants[len(grants)-1].Sub(grants[0]); span > 10*time.Minute {
		t.Errorf("300 grants took %v of virtual time; the limiter wastes budget", span)
	}
}

func TestLimiterThrottledBlocksEveryone(t *testing.T) {
	clk := clock.NewVirtual(epoch, false)
	lim := NewLimiter(clk, 30, time.Minute)
	lim.Throttled(45 * time.Second)
	lim.Throttled(10 * time.Second) // a shorter wait does not shorten the longer one
	if n, w := lim.Budget(); n != 0 || w != 45*time.Second {
		t.Fatalf("Budget() = %d, %v; want 0, 45s", n, w)
	}
	got := make(chan time.Time, 3)
	for range 3 {
		go func() {
			if err := lim.Wait(context.Background()); err == nil {
				got <- clk.Now()
			}
		}()
	}
	clk.Advance(44 * time.Second)
	select {
	case <-got:
		t.Fatal("a caller went through during the throttle")
	case <-time.After(20 * time.Millisecond):
	}
	clk.Advance(time.Second)
	for range 3 {
		at := <-got
		if at.Before(epoch.Add(45 * time.Second)) {
			t.Errorf("granted at %v", at.Sub(epoch))
		}
	}
	if n, _ := lim.Budget(); n != 27 {
		t.Errorf("remaining budget %d, want 27", n)
	}
}

func TestLimiterWaitHonoursContext(t *testing.T) {
	clk := clock.NewVirtual(epoch, false)
	lim := NewLimiter(clk, 1, time.Minute)
	if err := lim.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := lim.Wait(ctx); err == nil {
		t.Fatal("Wait on a cancelled context with no budget returned nil")
	}
}

// Waited is the time actually spent waiting: parallel waiters count once, an interrupted wait
// counts as long as it lasted, and Waiting shows the wait in progress with its time left.
func TestLimiterMeasuresWaiting(t *testing.T) {
	clk := clock.NewVirtual(epoch, false)
	lim := NewLimiter(clk, 1, time.Minute)
	if err := lim.Wait(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, waiting := lim.Waiting(); waiting || lim.Waited() != 0 {
		t.Fatal("a granted request counted as waiting")
	}
	clk.Advance(20 * time.Second)
	done := make(chan error, 3)
	for range 3 { // three callers wait for the same minute: 40 s of waiting, not 120
		go func() { done <- lim.Wait(t.Context()) }()
	}
	waitFor(t, func() bool { return len(lim.wakeAtSnapshot()) == 3 })
	if left, waiting := lim.Waiting(); !waiting || left != 40*time.Second {
		t.Fatalf("Waiting() = %v, %v; want 40s, true", left, waiting)
	}
	clk.Advance(15 * time.Second)
	if left, _ := lim.Waiting(); left != 25*time.Second || lim.Waited() != 15*time.Second {
		t.Fatalf("after 15s: Waiting %v, Waited %v; want 25s, 15s", left, lim.Waited())
	}
	clk.Advance(25 * time.Second) // one caller gets the slot; the other two wait a minute more
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	clk.Advance(10 * time.Second)
	waitFor(t, func() bool { left, _ := lim.Waiting(); return left == 50*time.Second })
	// Interrupt the wait: the cancelled caller's sleep so far is all that counts.
	go func() { done <- lim.Wait(ctx) }()
	if err := <-done; err == nil {
		t.Fatal("Wait on a cancelled context returned nil")
	}
	clk.Advance(50 * time.Second)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { left, _ := lim.Waiting(); return left == time.Minute })
	clk.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, waiting := lim.Waiting(); waiting {
		t.Error("still waiting after every caller was served")
	}
	// One stretch from 20 s to 180 s, whatever the number of callers; the time callers were
	// told to wait adds up to 40+40+40+60+60+50+60 = 350 s.
	if got := lim.Waited(); got != 160*time.Second {
		t.Errorf("Waited() = %v, want 160s", got)
	}
}

func (l *Limiter) wakeAtSnapshot() map[int]time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.wakeAt)
}
