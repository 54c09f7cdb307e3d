package budget

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"256MB", 256e6, false},
		{"256MiB", 256 << 20, false},
		{"1.5GB", 1.5e9, false},
		{" 2GiB ", 2 << 30, false},
		{"300 MB", 300e6, false},
		{"256", 0, true},
		{"-1GB", 0, true},
		{"1XB", 0, true},
		{"", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if (err != nil) != tt.err || got != tt.want {
				t.Errorf("Parse(%q) = %d, %v; want %d, error %v", tt.in, got, err, tt.want, tt.err)
			}
			if err != nil && !strings.Contains(err.Error(), "256MB") {
				t.Errorf("error %q does not show an accepted form", err)
			}
		})
	}
}

// TestFor checks the plan's arithmetic: its parts fit the budget, commits grow with it up to
// their cap, and a budget below the minimum is refused with both sizes named.
func TestFor(t *testing.T) {
	var last Plan
	for _, budget := range []int64{Minimum, Default, 512 << 20, 1 << 30, 8 << 30} {
		p, err := For(budget)
		if err != nil {
			t.Fatalf("For(%d): %v", budget, err)
		}
		if sum := Reserve + p.GoLimit + p.DuckDB; sum > budget {
			t.Errorf("budget %s: reserve + Go %s + DuckDB %s = %s, over the budget", Format(budget), Format(p.GoLimit), Format(p.DuckDB), Format(sum))
		}
		if p.BatchBytes < minBatch || p.BatchBytes > maxBatch || p.BatchBytes < last.BatchBytes {
			t.Errorf("budget %s: batch %d outside [%d, %d] or smaller than for a smaller budget (%d)", Format(budget), p.BatchBytes, minBatch, maxBatch, last.BatchBytes)
		}
		if p.DuckDBCache <= 0 || p.DuckDBCache >= p.DuckDB || p.MaxWorkers < 1 || p.MaxWorkers < last.MaxWorkers {
			t.Errorf("budget %s: cache %d of %d, %d workers", Format(budget), p.DuckDBCache, p.DuckDB, p.MaxWorkers)
		}
		if p.DuckDBFlush < minFlush || p.DuckDBFlush > maxFlush || p.DuckDBFlush < last.DuckDBFlush {
			t.Errorf("budget %s: allocator keeps %d after a task; want between %d and %d, growing with the budget", Format(budget), p.DuckDBFlush, minFlush, maxFlush)
		}
		last = p
	}
	p, _ := For(Default)
	if p.DuckDBFlush != minFlush {
		t.Errorf("default budget: allocator keeps %d after a task, want %d (the least)", p.DuckDBFlush, minFlush)
	}
	if p.BatchBytes < 8<<20 || p.BatchBytes > 16<<20 {
		t.Errorf("default budget commits %d bytes; measured best between 8 and 16 MiB", p.BatchBytes)
	}
	_, err := For(150 << 20)
	if err == nil || !strings.Contains(err.Error(), "150MiB") || !strings.Contains(err.Error(), Format(Minimum)) {
		t.Errorf("For(150 MiB) error = %v, want one naming the budget and the minimum", err)
	}
}

func TestWithBatch(t *testing.T) {
	p, _ := For(Default)
	q := p.WithBatch(64 << 20)
	if q.BatchBytes != 64<<20 || q.GoLimit <= p.GoLimit || q.DuckDB != minDuckDB {
		t.Errorf("a larger batch than the budget allows: %+v; want the Go share to grow and DuckDB to keep its minimum", q)
	}
	r := p.WithBatch(2 << 20)
	if r.GoLimit >= p.GoLimit || r.DuckDB <= p.DuckDB {
		t.Errorf("a smaller batch: %+v; want a smaller Go share and more for DuckDB than %+v", r, p)
	}
}
