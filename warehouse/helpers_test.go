package warehouse

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/schema"
)

// row is the part of an activity the tests vary; the other columns are derived or null.
type row struct {
	id  string
	ts  time.Time
	raw string
}

func mkRow(id string, ts time.Time) row {
	return row{id: id, ts: ts, raw: fmt.Sprintf(`{"_id":%q,"timestamp":%d}`, id, ts.UnixMilli())}
}

// rows makes n rows with ids prefix-0…, spread over days starting at start, every step.
func rows(prefix string, n int, start time.Time, step time.Duration) []row {
	out := make([]row, n)
	for i := range out {
		out[i] = mkRow(fmt.Sprintf("%s-%06d", prefix, i), start.Add(time.Duration(i)*step))
	}
	return out
}

// testTenant is the tenant of the tests' writers and batches unless a test names another.
const testTenant = "acme"

// batch builds an Arrow record in schema.Activities from rs, of testTenant.
func batch(mem memory.Allocator, rs []row) arrow.RecordBatch { return tenantBatch(mem, testTenant, rs) }

// tenantBatch builds an Arrow record in schema.Activities from rs, of tenant label.
func tenantBatch(mem memory.Allocator, label string, rs []row) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, schema.Activities)
	defer b.Release()
	for _, r := range rs {
		for i, c := range schema.Columns {
			f := b.Field(i)
			switch c.Name {
			case "id":
				f.(*array.StringBuilder).Append(r.id)
			case "ts", "created":
				f.(*array.TimestampBuilder).Append(arrow.Timestamp(r.ts.UnixMilli()))
			case "day":
				f.(*array.Date32Builder).Append(arrow.Date32FromTime(r.ts.UTC()))
			case "raw":
				f.(*array.StringBuilder).Append(r.raw)
			case "tenant":
				f.(*array.StringBuilder).Append(label)
			case "user_name":
				f.(*array.StringBuilder).Append("user-" + r.id[len(r.id)-1:] + "@example.com")
			case "app_id":
				f.(*array.Int32Builder).Append(20893)
			case "objects":
				lb := f.(*array.ListBuilder)
				lb.Append(true)
				lb.ValueBuilder().(*array.StringBuilder).Append("obj-" + r.id)
			default:
				f.AppendNull()
			}
		}
	}
	return b.NewRecordBatch()
}

func newMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// commitRows commits rs as one batch (plus rejects) and returns the result.
func recs(r ...arrow.RecordBatch) []arrow.RecordBatch { return r }

func commitRows(t testing.TB, w *Writer, mem memory.Allocator, rs []row, rej ...schema.Rejected) CommitResult {
	t.Helper()
	rec := batch(mem, rs)
	defer rec.Release()
	res, err := w.Commit(context.Background(), Commit{Records: []arrow.RecordBatch{rec}, Rejected: rej})
	if err != nil {
		t.Fatalf("commit: %v", err)
	}
	return res
}

func testLogger(buf *bytes.Buffer) *slog.Logger {
	var w io.Writer = io.Discard
	if buf != nil {
		w = buf
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func openTest(t testing.TB, dir string, sinks Sinks) *Writer {
	t.Helper()
	w, err := Open(context.Background(), Options{Dir: dir, Sinks: sinks, MemoryLimit: "300MB", Threads: 2, Logger: testLogger(nil), Source: "simulator", LockWait: 5 * time.Second, Tenant: testTenant})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	return w
}

// contents is what a sink holds: raw per id, per day.
type contents map[string]map[string]string

func (c contents) add(day, id, raw string) error {
	if c[day] == nil {
		c[day] = map[string]string{}
	}
	if _, dup := c[day][id]; dup {
		return fmt.Errorf("id %s twice in day %s", id, day)
	}
	c[day][id] = raw
	return nil
}

func expected(rs []row) contents {
	c := contents{}
	for _, r := range rs {
		day := r.ts.UTC().Format(time.DateOnly)
		if c[day] == nil {
			c[day] = map[string]string{}
		}
		if _, ok := c[day][r.id]; !ok { // first wins
			c[day][r.id] = r.raw
		}
	}
	return c
}

func (c contents) rows() int {
	n := 0
	for _, m := range c {
		n += len(m)
	}
	return n
}

func (c contents) String() string {
	days := make([]string, 0, len(c))
	n := 0
	for d, m := range c {
		days = append(days, d)
		n += len(m)
	}
	sort.Strings(days)
	return fmt.Sprintf("%d rows in days %v", n, days)
}

func equalContents(a, b contents) bool {
	if len(a) != len(b) {
		return false
	}
	for d, m := range a {
		if len(m) != len(b[d]) {
			return false
		}
		for id, raw := range m {
			if r, ok := b[d][id]; !ok || r != raw {
				return false
			}
		}
	}
	return true
}

// readSink reads what the DuckDB table (from=FromDuckDB) or the Parquet dataset holds, checking
// no id appears twice and, for Parquet, that the day folder matches the UTC day of ts.
func readSink(t testing.TB, dir, from string) contents {
	t.Helper()
	ctx := context.Background()
	var r *Reader
	var err error
	if from == FromDuckDB {
		r, err = OpenReader(ctx, ReaderOptions{Dir: dir, Logger: testLogger(nil)})
	} else {
		r, err = OpenParquetReader(ctx, dir)
	}
	if err != nil {
		t.Fatalf("open reader: %v", err)
	}
	defer r.Close()
	if r.From != from {
		t.Fatalf("reader reads %s, want %s (fallback %q)", r.From, from, r.Fallback)
	}
	rs, err := r.Conn().QueryContext(ctx, `SELECT strftime(day, '%Y-%m-%d'), strftime(ts, '%Y-%m-%d'), id, raw FROM activities`)
	if err != nil {
		t.Fatalf("query: %v", err)
	}
	defer rs.Close()
	c := contents{}
	for rs.Next() {
		var day, tsDay, id, raw string
		if err := rs.Scan(&day, &tsDay, &id, &raw); err != nil {
			t.Fatal(err)
		}
		if day != tsDay {
			t.Errorf("%s: row %s has ts on %s", from, id, tsDay)
		}
		if err := c.add(day, id, raw); err != nil {
			t.Errorf("%s: %v", from, err)
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return c
}

func mustVerify(t testing.TB, w *Writer) {
	t.Helper()
	rep, err := w.Verify(context.Background())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if !rep.OK() {
		t.Fatalf("verify found problems: %v", rep.Problems())
	}
}
