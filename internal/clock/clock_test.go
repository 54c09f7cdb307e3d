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
