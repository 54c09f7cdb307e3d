package delivery

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
)

// t0 is the virtual "now" of every test.
var t0 = time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)

// sample is a finding with every field set, including values that need escaping in each
// payload: '|', '=', '\', a line break, '<', '&' and non-ASCII.
func sample() Finding {
	key := Key{Tenant: "contoso", Investigation: "impossible-travel",
		Entities: Entities{User: "alice@contoso.com", IP: "203.0.113.7"}, Bucket: "2026-12-05"}
	return Finding{
		ID: key.ID(), Notification: 1, Key: key,
		Title:    "Impossible travel",
		Summary:  "alice@contoso.com signed in from DE then US | 40 min apart; speed=9000 km/h\nC:\\path <b>&</b> Zürich",
		Severity: High, Techniques: []string{"T1078", "T1078.004"},
		FirstSeen:   time.Date(2026, 12, 5, 8, 1, 2, 345e6, time.UTC),
		LastSeen:    time.Date(2026, 12, 5, 8, 41, 0, 0, time.UTC),
		EvidenceIDs: []string{"a1b2", "c3d4"},
		PortalURLs: []string{"https://contoso.portal.cloudappsecurity.com/#/audits?activity.id=eq(a1b2,)",
			"https://contoso.portal.cloudappsecurity.com/#/audits?activity.id=eq(c3d4,)"},
		Status: StatusNew, Reason: ReasonNew,
		Row: json.RawMessage(`{"user_name":"alice@contoso.com","kmh":9000,"from_loc":"DE/Berlin","to_loc":"US/Seattle"}`),
	}
}

// findingsN are n distinct valid findings.
func findingsN(n int) []Finding {
	out := make([]Finding, n)
	for i := range out {
		f := sample()
		f.Key.Entities.User = "user" + string(rune('a'+i%26)) + "@contoso.com"
		f.Key.Bucket = time.Date(2026, 11, 1+i/26, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
		f.ID = f.Key.ID()
		f.Summary = ""
		out[i] = f
	}
	return out
}

// sleepRecorder is a virtual clock that advances at once and records every sleep, so backoff
// is asserted without waiting.
type sleepRecorder struct {
	*clock.Virtual
	mu     sync.Mutex
	sleeps []time.Duration
}

func newSleepRecorder() *sleepRecorder {
	return &sleepRecorder{Virtual: clock.NewVirtual(t0, true)}
}

func (r *sleepRecorder) Sleep(ctx context.Context, d time.Duration) error {
	r.mu.Lock()
	r.sleeps = append(r.sleeps, d)
	r.mu.Unlock()
	return r.Virtual.Sleep(ctx, d)
}

func (r *sleepRecorder) Slept() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]time.Duration(nil), r.sleeps...)
}

// halfJitter makes backoff deterministic: exactly three quarters of each doubling step.
func halfJitter() float64 { return 0.5 }

// writeFile writes content with mode perm in a temp dir and returns its path.
func writeFile(t *testing.T, name, content string, perm os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // WriteFile's mode passes through the umask
		t.Fatal(err)
	}
	return p
}

// mustSpec parses a spec the test knows to be good.
func mustSpec(t *testing.T, s string) Spec {
	t.Helper()
	sp, err := ParseSpec(s)
	if err != nil {
		t.Fatalf("parse %q: %v", s, err)
	}
	return sp
}

// mustSink builds a sink the test knows to be good.
func mustSink(t *testing.T, s string, opts Options) Sink {
	t.Helper()
	sink, err := NewSink(mustSpec(t, s), opts)
	if err != nil {
		t.Fatalf("new sink %q: %v", s, err)
	}
	t.Cleanup(func() { _ = sink.Close() })
	return sink
}
