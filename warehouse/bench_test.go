package warehouse

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// benchRows makes n rows with 64-hex ids (as the API's) and a raw of about 600 bytes, over
// two days from start.
func benchRows(prefix string, n int, start time.Time) []row {
	pad := strings.Repeat("x", 520)
	out := make([]row, n)
	step := 48 * time.Hour / time.Duration(n)
	for i := range out {
		sum := sha256.Sum256([]byte(fmt.Sprintf("%s-%d", prefix, i)))
		id := hex.EncodeToString(sum[:])
		ts := start.Add(time.Duration(i) * step)
		out[i] = row{id: id, ts: ts, raw: fmt.Sprintf(`{"_id":%q,"timestamp":%d,"pad":%q}`, id, ts.UnixMilli(), pad)}
	}
	return out
}

// benchBatches cuts rs into Arrow records of 5000 rows (one API page each).
func benchBatches(mem memory.Allocator, rs []row) []arrow.RecordBatch {
	var out []arrow.RecordBatch
	for i := 0; i < len(rs); i += 5000 {
		out = append(out, batch(mem, rs[i:min(i+5000, len(rs))]))
	}
	return out
}

func release(recs []arrow.RecordBatch) {
	for _, r := range recs {
		r.Release()
	}
}

// BenchmarkCommit commits 100k new rows (20 pages) per operation into a warehouse that grows,
// in both sinks, with a 300 MB memory limit. Reports rows/s.
func BenchmarkCommit(b *testing.B) {
	for _, sinks := range []Sinks{SinkBoth, SinkDuckDB, SinkParquet} {
		b.Run(string(sinks), func(b *testing.B) {
			mem := memory.NewGoAllocator()
			w := openTest(b, b.TempDir(), sinks)
			defer w.Close(context.Background())
			n := 100_000
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				recs := benchBatches(mem, benchRows(fmt.Sprintf("r%d", i), n, day0.Add(time.Duration(i)*48*time.Hour)))
				b.StartTimer()
				res, err := w.Commit(context.Background(), Commit{Records: recs})
				b.StopTimer()
				release(recs)
				if err != nil || res.Inserted != n {
					b.Fatalf("commit: %+v, %v", res, err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// BenchmarkIncremental5M compares committing 100k new rows into an empty warehouse and into
// one that already holds 5M rows (the target is at most 1.5x). It fills 5M rows with SQL, so
// it takes a minute; set MCASLOAD_BENCH_5M=1 to run it.
func BenchmarkIncremental5M(b *testing.B) {
	if os.Getenv("MCASLOAD_BENCH_5M") == "" {
		b.Skip("set MCASLOAD_BENCH_5M=1 to run (fills a 5M-row warehouse)")
	}
	for _, size := range []int{0, 5_000_000} {
		b.Run(fmt.Sprintf("existing=%d", size), func(b *testing.B) {
			mem := memory.NewGoAllocator()
			dir := b.TempDir()
			w := openTest(b, dir, SinkBoth)
			defer w.Close(context.Background())
			if size > 0 {
				fill(b, w, size)
			}
			n := 100_000
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				// New rows for the last two days, with a 5% overlap of already stored ids.
				rs := benchRows(fmt.Sprintf("new%d", i), n, day0.Add(40*24*time.Hour))
				recs := benchBatches(mem, rs)
				b.StartTimer()
				res, err := w.Commit(context.Background(), Commit{Records: recs})
				b.StopTimer()
				release(recs)
				if err != nil || res.Inserted != n {
					b.Fatalf("commit: %+v, %v", res, err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

// fill stores n rows over 40 days straight through SQL (ids are 64 hex characters like the
// API's, raw about 600 bytes), in DuckDB and the dedupe index; Parquet is not written, since a
// commit only ever writes its own rows.
func fill(b *testing.B, w *Writer, n int) {
	ctx := context.Background()
	s, err := w.session(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer s.detachClose(ctx)
	start := time.Now()
	q := fmt.Sprintf(`
	CREATE TEMP TABLE f AS SELECT sha256('fill-' || i) AS id,
	  TIMESTAMPTZ '2026-03-01 00:00:00+00' + to_milliseconds(i * (40::BIGINT * 86400000 // %d)) AS ts,
	  i FROM range(%d) t(i)`, n, n)
	if err := s.exec(ctx, q); err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO wh.activities (id, ts, created, day, app_id, objects, raw)
		 SELECT id, ts, ts, CAST(ts AS DATE), 20893, ['obj'], '{"_id":"' || id || '","pad":"' || repeat('x', 520) || '"}' FROM temp.f`,
		`INSERT INTO wh.activity_ids SELECT md5_number_lower(id), id, day, md5_number_lower(raw), 0 FROM wh.activities`,
		`DROP TABLE temp.f`,
		`CHECKPOINT wh`,
	} {
		if err := s.exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("filled %d rows in %s", n, time.Since(start))
}
