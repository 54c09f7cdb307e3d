package warehouse

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/testkit"
)

func TestStatusAndRuns(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	vc := clock.NewVirtual(time.Date(2026, 4, 1, 12, 0, 0, 0, time.UTC), true)
	w, err := Open(t.Context(), Options{Dir: dir, Clock: vc, Command: "mcasload load a.ndjson", Source: "simulator", Logger: testLogger(nil), Tenant: testTenant})
	if err != nil {
		t.Fatal(err)
	}
	commitRows(t, w, mem, rows("a", 30, day0, time.Hour)) // 24 rows on day 1, 6 on day 2
	vc.Advance(time.Minute)
	commitRows(t, w, mem, rows("a", 40, day0, time.Hour)) // 10 new on day 2
	if err := w.FinishRun(t.Context(), RunInfo{}, map[string]int{"pages": 2}); err != nil {
		t.Fatal(err)
	}
	st, err := w.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	w.Close(t.Context())
	if len(st.Tenants) != 1 || st.Tenants[0] != (TenantStatus{Tenant: testTenant, Source: "simulator", Rows: 40, Days: 2, OldestDay: "2026-03-01"}) ||
		st.Sinks != SinkBoth || st.Rows != 40 || len(st.PendingDays) != 0 {
		t.Errorf("status = %+v", st)
	}
	wantDays := []DayStatus{
		{Tenant: testTenant, Day: "2026-03-01", DuckDBRows: 24, ParquetRows: 24, ParquetFiles: 1},
		{Tenant: testTenant, Day: "2026-03-02", DuckDBRows: 16, ParquetRows: 16, ParquetFiles: 2},
	}
	if len(st.Days) != len(wantDays) {
		t.Fatalf("days = %+v", st.Days)
	}
	for i, d := range st.Days {
		if d.ParquetBytes <= 0 {
			t.Errorf("day %s: no parquet bytes", d.Day)
		}
		d.ParquetBytes = 0
		if d != wantDays[i] {
			t.Errorf("day %d = %+v, want %+v", i, d, wantDays[i])
		}
	}
	if len(st.Runs) != 1 {
		t.Fatalf("runs = %+v", st.Runs)
	}
	r := st.Runs[0]
	if r.ID != w.RunID() || r.Commits != 2 || r.Inserted != 40 || r.Duplicates != 30 || r.Command != "mcasload load a.ndjson" ||
		!r.Started.Equal(vc.Now().Add(-time.Minute)) || !r.Finished.Equal(vc.Now()) {
		t.Errorf("run = %+v", r)
	}
	var summary map[string]int
	if err := json.Unmarshal([]byte(r.Summary), &summary); err != nil || summary["pages"] != 2 {
		t.Errorf("summary = %q (%v)", r.Summary, err)
	}
	// ReadStatus sees the same without the lock.
	st2, err := ReadStatus(t.Context(), ReaderOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if st2.Rows != 40 || len(st2.Days) != 2 || len(st2.Runs) != 1 {
		t.Errorf("ReadStatus = %+v", st2)
	}
}

func TestParquetReaderOnCopiedFolder(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	rs := rows("a", 50, day0, time.Hour)
	commitRows(t, w, mem, rs)
	w.Close(t.Context())
	// A colleague copies only the day folders.
	copied := t.TempDir()
	for _, f := range testkit.Files(t, filepath.Join(dir, ParquetDir)) {
		os.MkdirAll(filepath.Join(copied, filepath.Dir(f)), 0o700)
		testkit.CopyFile(t, filepath.Join(dir, ParquetDir, f), filepath.Join(copied, f))
	}
	for _, d := range []string{copied, filepath.Join(dir, ParquetDir)} {
		if got := readSink(t, d, FromParquet); !equalContents(got, expected(rs)) {
			t.Errorf("parquet reader on %s: %v", d, got)
		}
	}
	if _, err := OpenReader(t.Context(), ReaderOptions{Dir: t.TempDir()}); !errors.Is(err, ErrNoWarehouse) {
		t.Errorf("OpenReader on an empty folder: %v", err)
	}
}

func TestQueryArrow(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	commitRows(t, w, mem, rows("a", 30, day0, time.Hour))
	w.Close(t.Context())
	r, err := OpenReader(t.Context(), ReaderOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rdr, err := r.QueryArrow(t.Context(), `SELECT day, count(*) AS n FROM activities GROUP BY day ORDER BY day`)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var got []string
	for rdr.Next() {
		rec := rdr.RecordBatch()
		for i := range int(rec.NumRows()) {
			got = append(got, rec.Column(0).ValueStr(i)+"="+rec.Column(1).ValueStr(i))
		}
	}
	if strings.Join(got, ",") != "2026-03-01=24,2026-03-02=6" {
		t.Errorf("rows = %v", got)
	}
	// The reader's views carry exactly the schema's columns.
	var cols string
	if err := r.Conn().QueryRowContext(t.Context(), `SELECT string_agg(column_name, ',' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'activities' AND table_catalog = 'memory'`).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	if want := strings.ReplaceAll(columnList("", false), " ", ""); cols != want {
		t.Errorf("activities columns = %s, want %s", cols, want)
	}
}

func FuzzParseSinks(f *testing.F) {
	for _, s := range []string{"", "both", "DuckDB", " parquet ", "nope"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		s, err := ParseSinks(v)
		if err != nil {
			return
		}
		if !s.duckdb() && !s.parquet() {
			t.Errorf("ParseSinks(%q) = %q stores nothing", v, s)
		}
	})
}
