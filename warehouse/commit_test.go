package warehouse

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/schema"
)

var day0 = time.Date(2026, 3, 1, 0, 30, 0, 0, time.UTC)

func TestCommitExactlyOnce(t *testing.T) {
	for _, sinks := range []Sinks{SinkBoth, SinkParquet, SinkDuckDB} {
		t.Run(string(sinks), func(t *testing.T) {
			mem := newMem(t)
			dir := t.TempDir()
			w := openTest(t, dir, sinks)
			// 300 rows 17 minutes apart: about 3.5 days, with rows at 00:xx and 23:xx UTC,
			// which a laptop zone would move to another day.
			first := rows("a", 300, day0, 17*time.Minute)
			res := commitRows(t, w, mem, first)
			if res.Inserted != 300 || res.Duplicates != 0 || res.Conflicts != 0 {
				t.Fatalf("first commit = %+v, want 300 inserted", res)
			}
			if len(res.Days) != 4 || res.Days[0] != "2026-03-01" {
				t.Errorf("days = %v, want 4 days from 2026-03-01", res.Days)
			}
			// Overlap: the last 100 again, 50 new, one redelivered with another raw (a
			// conflict), and one new id twice in the same batch (a duplicate, first wins).
			second := append([]row{}, first[200:]...)
			second = append(second, rows("b", 50, day0.Add(24*time.Hour), time.Hour)...)
			changed := first[10]
			changed.raw = `{"_id":"changed"}`
			twice := mkRow("c-twice", day0)
			twiceLater := twice
			twiceLater.raw = `{"_id":"c-twice","later":true}`
			second = append(second, changed, twice, twiceLater)
			res = commitRows(t, w, mem, second)
			if res.Inserted != 51 || res.Duplicates != 102 || res.Conflicts != 2 {
				t.Errorf("second commit = %+v, want 51 inserted, 102 duplicates, 2 conflicts", res)
			}
			// The same batch again adds nothing.
			res = commitRows(t, w, mem, second)
			if res.Inserted != 0 || res.Duplicates != len(second) {
				t.Errorf("repeated commit = %+v, want all %d duplicates", res, len(second))
			}
			if sinks.parquet() {
				mustVerify(t, w)
			}
			if err := w.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			want := expected(append(append([]row{}, first...), second...))
			if sinks.duckdb() {
				if got := readSink(t, dir, FromDuckDB); !equalContents(got, want) {
					t.Errorf("duckdb holds %v, want %v", got, want)
				}
			}
			if sinks.parquet() {
				if got := readSink(t, dir, FromParquet); !equalContents(got, want) {
					t.Errorf("parquet holds %v, want %v", got, want)
				}
			} else if files := testkit.Files(t, filepath.Join(dir, ParquetDir)); len(files) != 0 {
				t.Errorf("duckdb-only warehouse has parquet files %v", files)
			}
		})
	}
}

// TestLaptopTimeZone reruns TestCommitExactlyOnce in a process whose zone is
// America/Los_Angeles: days stay UTC days.
func TestLaptopTimeZone(t *testing.T) {
	if os.Getenv("TZ") == "America/Los_Angeles" {
		t.Skip("already in the laptop zone")
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCommitExactlyOnce$")
	cmd.Env = append(os.Environ(), "TZ=America/Los_Angeles")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("TestCommitExactlyOnce with TZ=America/Los_Angeles: %v\n%s", err, out)
	}
}

func TestRejectsStored(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	rej := []schema.Rejected{
		{ID: "r1", Raw: []byte(`{"_id":"r1","timestamp":"never"}`), Reason: "bad_timestamp: not a number"},
		{ID: "", Raw: []byte("{\"x\":\"\xff\xfe\"}"), Reason: "invalid_utf8: byte 7"},
		{ID: "", Raw: []byte(`{not json`), Reason: "invalid_json: unexpected n"},
	}
	res := commitRows(t, w, mem, rows("a", 5, day0, time.Minute), rej...)
	if res.Rejected != 3 || res.Inserted != 5 {
		t.Fatalf("commit = %+v, want 5 inserted, 3 rejected", res)
	}
	st, err := w.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if st.Rejects["bad_timestamp"] != 1 || st.Rejects["invalid_utf8"] != 1 || st.Rejects["invalid_json"] != 1 {
		t.Errorf("rejects by reason = %v", st.Rejects)
	}
	appended, err := os.ReadFile(rejectedPath(dir, w.RunID()))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(rejectedPath(dir, w.RunID()))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(appended, b) {
		t.Errorf("file appended by Commit:\n%s\ndiffers from the one rewritten from DuckDB:\n%s", appended, b)
	}
	// A crash that cut an append short is repaired by the next Open.
	if err := os.WriteFile(rejectedPath(dir, w.RunID()), b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	w2 := openTest(t, dir, SinkBoth)
	w2.Close(t.Context())
	if again, _ := os.ReadFile(rejectedPath(dir, w.RunID())); !bytes.Equal(again, b) {
		t.Errorf("Open did not restore the rejected file:\n%s", again)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	b64 := base64.StdEncoding.EncodeToString(rej[1].Raw)
	if len(lines) != 3 || !strings.Contains(lines[0], `"reason":"bad_timestamp: not a number"`) ||
		!strings.Contains(lines[0], `"raw":"{\"_id\":\"r1\"`) || !strings.Contains(lines[1], `"raw_base64":"`+b64+`"`) {
		t.Errorf("rejected file:\n%s", b)
	}
	// Both readers see the rejects: from DuckDB and, with the file, from the Parquet side.
	for _, prefer := range []bool{false, true} {
		r, err := OpenReader(t.Context(), ReaderOptions{Dir: dir, PreferParquet: prefer, Logger: testLogger(nil)})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		var raw string
		if err := r.Conn().QueryRowContext(t.Context(), `SELECT count(*), max(raw) FILTER (WHERE reason LIKE 'invalid_utf8%') FROM rejected_activities`).Scan(&n, &raw); err != nil {
			t.Fatal(err)
		}
		r.Close()
		want := strings.ToValidUTF8(string(rej[1].Raw), "\uFFFD")
		if prefer {
			want = "base64:" + b64
		}
		if n != 3 || raw != want {
			t.Errorf("reader (parquet=%v) sees %d rejects, utf8 raw %q", prefer, n, raw)
		}
	}
}

func TestPermissions(t *testing.T) {
	mem := newMem(t)
	dir := filepath.Join(t.TempDir(), "wh")
	w := openTest(t, dir, SinkBoth)
	commitRows(t, w, mem, rows("a", 10, day0, time.Hour), schema.Rejected{ID: "x", Raw: []byte("x"), Reason: "invalid_json: x"})
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	testkit.CheckModes(t, dir)
}

// TestSourceMismatch: a tenant's rows come from the source it was first written from; another
// tenant may come from anywhere.
func TestSourceMismatch(t *testing.T) {
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	commitRows(t, w, newMem(t), rows("a", 3, day0, time.Hour))
	w.Close(t.Context())
	other := "https://contoso.portal.cloudappsecurity.com"
	_, err := Open(t.Context(), Options{Dir: dir, Source: other, Tenant: testTenant, Logger: testLogger(nil)})
	if !errors.Is(err, ErrSourceMismatch) || !strings.Contains(err.Error(), "tenant "+testTenant) {
		t.Fatalf("open tenant %s with another source: %v, want ErrSourceMismatch naming the tenant", testTenant, err)
	}
	w, err = Open(t.Context(), Options{Dir: dir, Source: other, Tenant: testTenant, AllowMixedSources: true, Logger: testLogger(nil)})
	if err != nil {
		t.Fatalf("open with --allow-mixed-sources: %v", err)
	}
	w.Close(t.Context())
	w, err = Open(t.Context(), Options{Dir: dir, Source: other, Tenant: "contoso", Logger: testLogger(nil)})
	if err != nil {
		t.Fatalf("open another tenant from another source: %v", err)
	}
	w.Close(t.Context())
	_, err = Open(t.Context(), Options{Dir: dir, Sinks: SinkParquet, Logger: testLogger(nil)})
	var sm *SinkMismatchError
	if !errors.As(err, &sm) || sm.Keeps != SinkBoth || sm.Want != SinkParquet {
		t.Fatalf("open with another sink: %v, want a SinkMismatchError naming both and parquet", err)
	}
}

// TestMD5LowerMatchesDuckDB pins the Go-side hash to DuckDB's md5_number_lower, which verify and
// repair use in SQL and which older warehouses hold in activity_ids.
func TestMD5LowerMatchesDuckDB(t *testing.T) {
	s, err := openSession(t.Context(), sessionConfig{}, "", false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	for _, in := range []string{"", "a", "ad0dc2d537e5471fc00359c1215cc69527dcac925ffb15ffa323114606e1ec4a", `{"_id":"x","ü":"☃"}`} {
		var want uint64
		if err := s.conn.QueryRowContext(t.Context(), `SELECT md5_number_lower(?)`, in).Scan(&want); err != nil {
			t.Fatal(err)
		}
		if got := md5Lower(in); got != want {
			t.Errorf("md5Lower(%q) = %d, DuckDB md5_number_lower = %d", in, got, want)
		}
	}
}

// TestDerivedTenantKeepsRecordedLabel: a scan whose label was derived from its URL stores its
// rows under the label the warehouse recorded for that source (given at the upgrade or by an
// earlier --tenant-label), unless that is ambiguous or the source is the simulator.
func TestDerivedTenantKeepsRecordedLabel(t *testing.T) {
	dir := t.TempDir()
	mem := newMem(t)
	url := "https://contoso.eu2.portal.cloudappsecurity.com"
	open := func(label, source string, derived bool) *Writer {
		t.Helper()
		w, err := Open(t.Context(), Options{Dir: dir, Tenant: label, TenantDerived: derived, Source: source, Logger: testLogger(nil), Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	for _, tc := range []struct{ label, source string }{{"northwind", url}, {"sim-a", "simulator"}} {
		w := open(tc.label, tc.source, false)
		rec := tenantBatch(mem, tc.label, rows(tc.label, 2, day0, time.Hour))
		_, err := w.Commit(t.Context(), Commit{Records: recs(rec)})
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		w.Close(t.Context())
	}
	for _, tc := range []struct{ derived, source, want string }{
		{"contoso", url, "northwind"},
		{"simulator", "simulator", "simulator"},
		{"fabrikam", "https://fabrikam.us3.portal.cloudappsecurity.com", "fabrikam"},
	} {
		w := open(tc.derived, tc.source, true)
		if got := w.Tenant(); got != tc.want {
			t.Errorf("derived %s from %s: tenant %s, want %s", tc.derived, tc.source, got, tc.want)
		}
		w.Close(t.Context())
	}
	// Named by the user, the label is kept even for a known source.
	w := open("contoso", url, false)
	if got := w.Tenant(); got != "contoso" {
		t.Errorf("named contoso: tenant %s", got)
	}
	w.Close(t.Context())
}
