package warehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/schema"
)

// caeLine is one CloudAppEvents line of the export.
func caeLine(reportID string, ts time.Time, action string) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"time":%q,"tenantId":"t-guid","category":"AdvancedHunting-CloudAppEvents","properties":{"ReportId":%q,"Timestamp":%q,"ActionType":%q,"Application":"Microsoft Exchange Online","AccountObjectId":"obj-1"}}`,
		ts.Add(time.Minute).Format(time.RFC3339Nano), reportID, ts.Format("2006-01-02T15:04:05.0000000Z"), action))
}

// caeBatch converts lines for tenant label; the caller releases the record.
func caeBatch(t testing.TB, mem memory.Allocator, label string, lines ...json.RawMessage) *schema.Batch {
	t.Helper()
	b, err := schema.NewCloudAppEventsConverter(mem, schema.CloudAppEventsOptions{Tenant: label}).Convert(lines)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func commitCAE(t testing.TB, w *Writer, mem memory.Allocator, label string, lines ...json.RawMessage) CommitResult {
	t.Helper()
	b := caeBatch(t, mem, label, lines...)
	defer b.Record.Release()
	res, err := w.Commit(context.Background(), Commit{Tenant: label, Table: TableCloudAppEvents, Records: []arrow.RecordBatch{b.Record}, Rejected: b.Rejected,
		State: map[string]string{"stream.cursor:x": fmt.Sprint(len(lines))}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// caeKeys reads the (tenant, report_id, ts) of cloud_app_events from a reader, sorted.
func caeKeys(t testing.TB, dir string, parquet bool) []string {
	t.Helper()
	r, err := OpenReader(context.Background(), ReaderOptions{Dir: dir, PreferParquet: parquet, Logger: testLogger(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	keys, err := queryStrings(context.Background(), r.Conn(), `SELECT tenant || '/' || report_id || '@' || strftime(ts, '%Y-%m-%dT%H:%M:%S.%f') FROM cloud_app_events ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestCloudAppEventsDataset: the second dataset follows the activities rules: a row per (tenant,
// report_id, ts) (a line read twice is a duplicate, the same ReportId at another time is a new
// row), Parquet under parquet/cloud_app_events/tenant=…/day=…, rejects kept with their NDJSON
// copy, verify per table, repair from either sink, readers' views.
func TestCloudAppEventsDataset(t *testing.T) {
	for _, sinks := range []Sinks{SinkBoth, SinkParquet} {
		t.Run(string(sinks), func(t *testing.T) {
			dir := t.TempDir()
			mem := newMem(t)
			w := openTest(t, dir, sinks)
			t0 := time.Date(2026, 12, 6, 23, 59, 0, 0, time.UTC)
			first := commitCAE(t, w, mem, testTenant, caeLine("r1_11161", t0, "FileDownloaded"), caeLine("r2_11161", t0.Add(2*time.Minute), "New-InboxRule"),
				json.RawMessage(`{"category":"AdvancedHunting-CloudAppEvents","properties":{"Timestamp":"2026-12-06T00:00:00Z"}}`))
			if first.Inserted != 2 || first.Rejected != 1 || !slices.Equal(first.Days, []string{"2026-12-06", "2026-12-07"}) {
				t.Fatalf("first commit: %+v", first)
			}
			// The same line again (re-exported), the same ReportId at another time, another tenant.
			again := commitCAE(t, w, mem, testTenant, caeLine("r1_11161", t0, "FileDownloaded"), caeLine("r1_11161", t0.Add(time.Hour), "FileDownloaded"))
			if again.Inserted != 1 || again.Duplicates != 1 || again.Conflicts != 0 {
				t.Fatalf("second commit: %+v", again)
			}
			other := commitCAE(t, w, mem, "globex", caeLine("r1_11161", t0, "FileDownloaded"))
			if other.Inserted != 1 {
				t.Fatalf("another tenant's line with the same key: %+v", other)
			}
			if v, ok, _ := w.TenantState(t.Context(), testTenant, "stream.cursor:x"); !ok || v != "2" {
				t.Errorf("state committed with the rows: %q %v", v, ok)
			}
			mustVerify(t, w)
			if err := w.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			files := testkit.Files(t, filepath.Join(dir, CloudAppEventsParquetDir))
			for _, f := range files {
				if !strings.HasPrefix(f, "tenant=") || !strings.Contains(f, "/day=2026-12-0") || !partRE.MatchString(filepath.Base(f)) {
					t.Errorf("unexpected file %s", f)
				}
			}
			if n := len(testkit.Files(t, filepath.Join(dir, ParquetDir))); n != 0 {
				t.Errorf("activities dataset got %d files", n)
			}
			want := []string{"acme/r1_11161@2026-12-06T23:59:00.000000", "acme/r1_11161@2026-12-07T00:59:00.000000",
				"acme/r2_11161@2026-12-07T00:01:00.000000", "globex/r1_11161@2026-12-06T23:59:00.000000"}
			for _, parquet := range []bool{false, true} {
				if got := caeKeys(t, dir, parquet); !slices.Equal(got, want) {
					t.Errorf("reader (parquet %v): %v, want %v", parquet, got, want)
				}
			}
			// Status counts each tenant's stream rows (keys, days, newest ts, Parquet rows, rejects)
			// apart from its activities, in either kind of warehouse.
			st, err := ReadStatus(t.Context(), ReaderOptions{Dir: dir, Logger: testLogger(nil)})
			if err != nil {
				t.Fatal(err)
			}
			wantStatus := map[string]DatasetStatus{
				"acme":   {Rows: 3, Days: 2, Newest: t0.Add(time.Hour), ParquetRows: 3, Rejected: 1},
				"globex": {Rows: 1, Days: 1, Newest: t0, ParquetRows: 1},
			}
			for _, ts := range st.Tenants {
				if got := ts.CloudAppEvents; got != wantStatus[ts.Tenant] || ts.Rows != 0 {
					t.Errorf("status of tenant %s: %+v, %d activities; want %+v and none", ts.Tenant, got, ts.Rows, wantStatus[ts.Tenant])
				}
			}
			if len(st.Tenants) != 2 {
				t.Errorf("status tenants %+v", st.Tenants)
			}
			rejects, _ := filepath.Glob(filepath.Join(dir, RejectedDir, "cloud_app_events", "*.ndjson"))
			if len(rejects) != 1 {
				t.Fatalf("reject files %v", rejects)
			}
			if b, _ := os.ReadFile(rejects[0]); !strings.Contains(string(b), schema.ReasonMissingReportID) {
				t.Errorf("reject file: %s", b)
			}
			if top, _ := filepath.Glob(filepath.Join(dir, RejectedDir, "*.ndjson")); len(top) != 0 {
				t.Errorf("stream rejects among the activities' reject files: %v", top)
			}

			// A lost Parquet file: verify names the table; repair from DuckDB brings it back.
			if sinks != SinkBoth {
				return
			}
			if err := os.Remove(filepath.Join(dir, CloudAppEventsParquetDir, files[0])); err != nil {
				t.Fatal(err)
			}
			w = openTest(t, dir, sinks)
			defer w.Close(t.Context())
			rep, err := w.Verify(t.Context())
			if err != nil || rep.OK() || !strings.HasPrefix(strings.Join(rep.Problems(), ";"), "cloud_app_events, tenant acme") {
				t.Fatalf("verify after losing a file: %v %v", rep.Problems(), err)
			}
			if err := w.Repair(t.Context(), SinkDuckDB); err != nil {
				t.Fatal(err)
			}
			mustVerify(t, w)
			// Rows lost from DuckDB: repair from Parquet.
			s, err := w.session(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			mustExec(t, s, `DELETE FROM wh.cloud_app_events WHERE report_id = 'r2_11161'`)
			s.detachClose(t.Context())
			if rep, _ := w.Verify(t.Context()); rep.OK() {
				t.Fatal("verify missed rows deleted from DuckDB")
			}
			if err := w.Repair(t.Context(), SinkParquet); err != nil {
				t.Fatal(err)
			}
			mustVerify(t, w)
			if got := caeKeys(t, dir, false); !slices.Equal(got, want) {
				t.Errorf("after repairs: %v", got)
			}
		})
	}
}

// TestCommitRefusesOtherSchema: a batch of one dataset cannot go into the other.
func TestCommitRefusesOtherSchema(t *testing.T) {
	mem := newMem(t)
	w := openTest(t, t.TempDir(), SinkBoth)
	defer w.Close(t.Context())
	b := caeBatch(t, mem, testTenant, caeLine("r1", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "x"))
	defer b.Record.Release()
	if _, err := w.Commit(t.Context(), Commit{Records: []arrow.RecordBatch{b.Record}}); err == nil || !strings.Contains(err.Error(), "check batch schema") {
		t.Errorf("cloud app events into activities: %v", err)
	}
	if _, err := w.Commit(t.Context(), Commit{Table: "nope"}); err == nil || !strings.Contains(err.Error(), "no dataset") {
		t.Errorf("unknown table: %v", err)
	}
}

// TestCloudAppEventLoads: a reader of the DuckDB file shows which commit loaded each stream row
// (cloud_app_event_loads, detect's "new" for the stream): a line read again keeps the commit that
// first loaded it, another tenant's rows stay out of a tenant's reader, and a reader of Parquet
// alone has no such view. After the DuckDB file is lost and rebuilt from Parquet, every row counts
// as loaded by the last commit the Parquet files name: as new as anything can be, so detect never
// skips one it may not have seen.
func TestCloudAppEventLoads(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "wh")
	mem := newMem(t)
	w := openTest(t, dir, SinkBoth)
	t0 := time.Date(2026, 12, 6, 23, 59, 0, 0, time.UTC).Add(123456 * time.Microsecond)
	first := commitCAE(t, w, mem, testTenant, caeLine("r1_11161", t0, "FileDownloaded"), caeLine("r2_11161", t0.Add(2*time.Minute), "New-InboxRule"))
	second := commitCAE(t, w, mem, testTenant, caeLine("r1_11161", t0, "FileDownloaded"), caeLine("r3", t0.Add(time.Hour), "FileDeleted"))
	commitCAE(t, w, mem, "globex", caeLine("r4", t0, "FileDownloaded"))
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	loads := func(parquet bool) []string {
		opts := ReaderOptions{Dir: dir, PreferParquet: parquet, Tenants: []string{testTenant}, Logger: testLogger(nil)}
		if parquet {
			opts.Tenants = nil // (a Parquet reader knows the tenants of the activities' files)
		}
		r, err := OpenReader(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		// Each row's key joins its stream row exactly (the time to the microsecond).
		got, err := queryStrings(ctx, r.Conn(), `SELECT l.tenant || '/' || l.report_id || '@' || strftime(l.ts, '%Y-%m-%dT%H:%M:%S.%f') || ' ' || l.day || ' ' || l.commit_seq
			FROM `+CloudAppEventLoadsView+` l JOIN cloud_app_events c ON c.tenant = l.tenant AND c.report_id = l.report_id AND c.ts = l.ts ORDER BY 1`)
		if err != nil {
			return []string{err.Error()}
		}
		return got
	}
	want := func(c1, c2 int64) []string {
		return []string{
			fmt.Sprintf("acme/r1_11161@2026-12-06T23:59:00.123456 2026-12-06 %d", c1),
			fmt.Sprintf("acme/r2_11161@2026-12-07T00:01:00.123456 2026-12-07 %d", c1),
			fmt.Sprintf("acme/r3@2026-12-07T00:59:00.123456 2026-12-07 %d", c2),
		}
	}
	if got := loads(false); !slices.Equal(got, want(first.Seq, second.Seq)) {
		t.Errorf("loads: %q, want %q", got, want(first.Seq, second.Seq))
	}
	if got := loads(true); len(got) != 1 || !strings.Contains(got[0], CloudAppEventLoadsView) {
		t.Errorf("a reader of Parquet alone shows loads: %q", got)
	}

	for _, f := range []string{DatabaseFile, DatabaseFile + ".wal"} {
		os.Remove(filepath.Join(dir, f))
	}
	if err := RebuildDatabase(ctx, Options{Dir: dir, Logger: testLogger(nil), MemoryLimit: "300MB"}); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, dir, SinkBoth)
	last, err := w.LastCommit(ctx)
	w.Close(ctx)
	if err != nil || last < second.Seq {
		t.Fatalf("last commit after the rebuild: %d (%v), want at least %d", last, err, second.Seq)
	}
	if got := loads(false); !slices.Equal(got, want(last, last)) {
		t.Errorf("loads after the rebuild: %q, want %q", got, want(last, last))
	}
}
