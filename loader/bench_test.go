package loader

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/warehouse"
)

// discardCommitter accepts every commit and stores nothing: it isolates reading and conversion.
type discardCommitter struct{}

func (discardCommitter) Commit(_ context.Context, c warehouse.Commit) (warehouse.CommitResult, error) {
	n := 0
	for _, r := range c.Records {
		n += int(r.NumRows())
	}
	return warehouse.CommitResult{Inserted: n, Rejected: len(c.Rejected)}, nil
}

// BenchmarkLoadNDJSON loads a generated NDJSON file of realistic simulator records (size from
// MCASLOAD_BENCH_RECORDS, default 20000) and reports records/s and MB/s: "warehouse" through
// both sinks into a fresh warehouse each iteration, "convert" through the pipeline alone.
func BenchmarkLoadNDJSON(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("MCASLOAD_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	tn := testTenant(b, 42, n)
	file := writeNDJSON(b, tn, testEnd)
	fi, err := os.Stat(file)
	if err != nil {
		b.Fatal(err)
	}
	report := func(b *testing.B, records int64, el time.Duration) {
		b.ReportMetric(float64(records)/el.Seconds(), "records/s")
		b.ReportMetric(float64(fi.Size())*float64(b.N)/1e6/el.Seconds(), "MB/s")
	}
	b.Run("convert", func(b *testing.B) {
		var records int64
		start := time.Now()
		for b.Loop() {
			sum, err := Load(context.Background(), discardCommitter{}, []Input{{Name: file}}, LoadOptions{Pipeline: Options{Allocator: memory.DefaultAllocator}}, nil)
			if err != nil {
				b.Fatal(err)
			}
			records += sum.Records
		}
		report(b, records, time.Since(start))
	})
	b.Run("warehouse", func(b *testing.B) {
		var records int64
		var el time.Duration
		for b.Loop() {
			dir := b.TempDir()
			start := time.Now()
			sum := loadInto(b, dir, []Input{{Name: file}}, LoadOptions{})
			el += time.Since(start)
			records += sum.New
		}
		report(b, records, el)
	})
}
