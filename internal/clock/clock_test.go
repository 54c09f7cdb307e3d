package clock

import (
	"context"
	"testing"
	"time"
)

var start = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

func TestVirtualAutoAdvance(t *testing.T) {
	v := NewVirtual(start, true)
	if err := v.Sleep(t.Context(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := v.Now(); !got.Equal(start.Add(time.Minute)) {
		t.Fatalf("after Sleep(1m) Now = %v, want %v", got, start.Add(time.Minute))
	}
	v.Advance(time.Hour)
	v.Set(start)
	if !v.Now().Equal(start) {
		t.Fatalf("Set did not move the clock back")
	}
}

func TestVirtualSleepWaitsForAdvance(t *testing.T) {
	v := NewVirtual(start, false)
	done := make(chan error, 1)
	go func() { done <- v.Sleep(t.Context(), 10*time.Second) }()
	// Advancing short of the deadline must not wake the sleeper.
	for v.waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	v.Advance(9 * time.Second)
	select {
	case <-done:
		t.Fatal("Sleep returned before its deadline")
	case <-time.After(20 * time.Millisecond):
	}
	v.Advance(time.Second)
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Sleep did not return after the clock passed its deadline")
	}
}

func TestSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for name, c := range map[string]Clock{"real": Real{}, "virtual": NewVirtual(start, false)} {
		if err := c.Sleep(ctx, time.Hour); err == nil {
			t.Errorf("%s: Sleep on a cancelled context returned nil", name)
		}
	}
	v := NewVirtual(start, false)
	ctx2, cancel2 := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- v.Sleep(ctx2, time.Hour) }()
	for v.waiting() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel2()
	if err := <-done; err == nil {
		t.Error("virtual Sleep ignored cancellation")
	}
}

func TestRealSleep(t *testing.T) {
	t0 := time.Now()
	if err := (Real{}).Sleep(t.Context(), 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if time.Since(t0) < 5*time.Millisecond {
		t.Error("Real.Sleep returned early")
	}
}

func TestOffset(t *testing.T) {
	base := NewVirtual(start, true)
	o := NewOffset(base, -365*24*time.Hour)
	if got := o.Now(); !got.Equal(start.Add(-365 * 24 * time.Hour)) {
		t.Fatalf("Now = %v", got)
	}
	if err := o.Sleep(t.Context(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if !base.Now().Equal(start.Add(time.Minute)) {
		t.Fatalf("Sleep did not wait on the base clock")
	}
	o.Advance(2 * time.Hour)
	if got, want := o.Now(), start.Add(time.Minute-365*24*time.Hour+2*time.Hour); !got.Equal(want) {
		t.Fatalf("after Advance Now = %v, want %v", got, want)
	}
}

// Sleepers waiting for the same instant move an auto-advancing clock once; Sleep(d) from each
// would have moved it by the sum of their waits.
func TestSleepUntil(t *testing.T) {
	tests := []struct {
		name  string
		clock func() (Clock, func() time.Time)
		want  time.Time // what the base clock shows after three SleepUntil(start+1m)
	}{
		{"virtual", func() (Clock, func() time.Time) {
			v := NewVirtual(start, true)
			return v, v.Now
		}, start.Add(time.Minute)},
		{"offset", func() (Clock, func() time.Time) {
			v := NewVirtual(start.Add(-time.Hour), true)
			return NewOffset(v, time.Hour), v.Now
		}, start.Add(-time.Hour + time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, base := tt.clock()
			for range 3 {
				if err := SleepUntil(t.Context(), c, start.Add(time.Minute)); err != nil {
					t.Fatal(err)
				}
			}
			if got := base(); !got.Equal(tt.want) {
				t.Fatalf("base clock at %v after three sleeps until the same instant, want %v", got, tt.want)
			}
			if err := SleepUntil(t.Context(), c, start); err != nil { // already past
				t.Fatal(err)
			}
			if got := base(); !got.Equal(tt.want) {
				t.Fatalf("a sleep until a past instant moved the clock to %v", got)
			}
		})
	}
	// A clock without SleepUntil waits for the difference.
	v := NewVirtual(start, true)
	if err := SleepUntil(t.Context(), sleepOnly{v}, start.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if !v.Now().Equal(start.Add(time.Second)) {
		t.Fatalf("fallback slept to %v", v.Now())
	}
}

type sleepOnly struct{ v *Virtual }

func (s sleepOnly) Now() time.Time                                   { return s.v.Now() }
func (s sleepOnly) Sleep(ctx context.Context, d time.Duration) error { return s.v.Sleep(ctx, d) }
