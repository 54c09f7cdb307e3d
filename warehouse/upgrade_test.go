package warehouse

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/tenant"
)

// v2Fixture extracts the warehouses mcasload made at schema version 2, before tenants
// (testdata/v2-warehouses.md), and returns the folder of the one called name.
func v2Fixture(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(testkit.Untar(t, filepath.Join("testdata", "v2-warehouses.tar.gz"), t.TempDir()), name)
}

// readerTenants opens a reader of dir (Parquet or DuckDB) and returns the tenants it holds.
func readerTenants(t testing.TB, dir string, parquet bool, selection ...string) ([]string, error) {
	t.Helper()
	var r *Reader
	var err error
	if parquet {
		r, err = OpenParquet(t.Context(), ReaderOptions{Dir: dir, Tenants: selection})
	} else {
		r, err = OpenReader(t.Context(), ReaderOptions{Dir: dir, Logger: testLogger(nil), Tenants: selection})
	}
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return r.AllTenants, nil
}

// TestUpgradeV2Fixture upgrades, in place, warehouses made by the previous version: before the
// upgrade readers answer right; the first writer labels every row, reject and watermark (the
// scan URL's tenant, the simulator, default for files, or the label migrate was given), moves
// each Parquet file into its tenant's folder, and both sinks hold exactly what they held.
func TestUpgradeV2Fixture(t *testing.T) {
	cases := []struct {
		name, folder  string
		sinks         Sinks
		derived       string // the label a reader of the unmigrated DuckDB file shows
		upgrade, want string // Options.UpgradeTenant and the label the rows get
		rows, rejects int
		watermark     bool
	}{
		{name: "scanned", folder: "scanned", sinks: SinkBoth, derived: tenant.Simulator, want: tenant.Simulator, rows: 300, watermark: true},
		{name: "loaded-url", folder: "loaded-url", sinks: SinkBoth, derived: "contoso", want: "contoso", rows: 300, rejects: 2},
		{name: "loaded-file", folder: "loaded-file", sinks: SinkParquet, derived: tenant.Default, want: tenant.Default, rows: 150},
		{name: "loaded-file-labelled", folder: "loaded-file", sinks: SinkParquet, derived: tenant.Default, upgrade: "fabrikam", want: "fabrikam", rows: 150},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := v2Fixture(t, tc.folder)
			// Before anyone upgrades it, the readers answer from the old layout.
			before := map[string]contents{FromParquet: readSink(t, dir, FromParquet)}
			if tc.sinks.duckdb() {
				before[FromDuckDB] = readSink(t, dir, FromDuckDB)
			}
			if n := before[FromParquet].rows(); n != tc.rows {
				t.Fatalf("the fixture holds %d rows in parquet, want %d", n, tc.rows)
			}
			if got, err := readerTenants(t, dir, false); err != nil || !slices.Equal(got, []string{tc.derived}) {
				t.Errorf("tenants of the unmigrated warehouse = %v, %v; want %s", got, err, tc.derived)
			}
			if got, err := readerTenants(t, dir, true); err != nil || !slices.Equal(got, []string{tenant.Default}) {
				t.Errorf("tenants of the unmigrated parquet folder = %v, %v; want %s", got, err, tenant.Default)
			}
			st, err := ReadStatus(t.Context(), ReaderOptions{Dir: dir})
			if err != nil || st.Rows != int64(tc.rows) || len(st.Tenants) != 1 || st.Tenants[0].Tenant != tc.derived {
				t.Fatalf("status of the unmigrated warehouse: %+v, %v", st, err)
			}

			w, err := Open(t.Context(), Options{Dir: dir, Sinks: tc.sinks, MemoryLimit: "300MB", Threads: 2, Logger: testLogger(nil), UpgradeTenant: tc.upgrade})
			if err != nil {
				t.Fatalf("open the v2 warehouse: %v", err)
			}
			mustVerify(t, w)
			if got, err := w.Tenants(t.Context()); err != nil || !slices.Equal(got, []string{tc.want}) {
				t.Errorf("tenants after the upgrade = %v, %v; want %s", got, err, tc.want)
			}
			if tc.watermark {
				found := false
				for k := range w.state[tc.want] {
					found = found || strings.HasPrefix(k, "scan ")
				}
				if !found || len(w.state) != 1 {
					t.Errorf("state after the upgrade = %v, want the scan watermark under tenant %s", w.state, tc.want)
				}
			}
			if err := w.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			for from, c := range before {
				if got := readSink(t, dir, from); !equalContents(got, c) {
					t.Errorf("%s after the upgrade holds %v, before %v", from, got, c)
				}
			}
			for _, f := range testkit.Files(t, filepath.Join(dir, ParquetDir)) {
				if !strings.HasPrefix(f, "tenant="+tc.want+"/day=") || !partRE.MatchString(filepath.Base(f)) {
					t.Errorf("file %s is not in tenant %s's folder", f, tc.want)
				}
			}
			checkMigrated(t, dir)
			for _, parquet := range []bool{false, true} {
				if got, err := readerTenants(t, dir, parquet, tc.want); err != nil || !slices.Equal(got, []string{tc.want}) {
					t.Errorf("reader (parquet %v) of the upgraded warehouse: tenants %v, %v", parquet, got, err)
				}
				if _, err := readerTenants(t, dir, parquet, "nobody"); !errors.Is(err, ErrUnknownTenant) || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("reader selecting an unknown tenant: %v, want ErrUnknownTenant naming %s", err, tc.want)
				}
			}
			checkUpgradedRejects(t, dir, tc.want, tc.rejects)
			checkUpgradedDedupe(t, dir, tc.sinks, tc.want, before[FromParquet])
		})
	}
}

// checkUpgradedRejects: the rejects of the old runs are the tenant's, in DuckDB and in their
// NDJSON copy.
func checkUpgradedRejects(t *testing.T, dir, label string, want int) {
	t.Helper()
	st, err := ReadStatus(t.Context(), ReaderOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Tenants) != 1 || st.Tenants[0].Rejected != int64(want) {
		t.Errorf("rejects after the upgrade: %+v, want %d of tenant %s", st.Tenants, want, label)
	}
	files, _ := filepath.Glob(filepath.Join(dir, RejectedDir, "*.ndjson"))
	lines := 0
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			lines++
			if !strings.Contains(sc.Text(), `"tenant":"`+label+`"`) {
				t.Errorf("reject line of %s without its tenant: %.120s", f, sc.Text())
			}
		}
		fh.Close()
	}
	if lines != want {
		t.Errorf("%d reject lines in %s, want %d", lines, RejectedDir, want)
	}
}

// checkUpgradedDedupe: after the upgrade an id is stored once per tenant: the old rows again
// under their own label are all duplicates, under another label all new.
func checkUpgradedDedupe(t *testing.T, dir string, sinks Sinks, label string, stored contents) {
	t.Helper()
	var raws []string
	for _, day := range stored {
		for _, raw := range day {
			raws = append(raws, raw)
		}
	}
	mem := memory.NewGoAllocator()
	w, err := Open(t.Context(), Options{Dir: dir, Sinks: sinks, MemoryLimit: "300MB", Threads: 2, Logger: testLogger(nil)})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	for _, c := range []struct {
		label               string
		inserted, duplicate int
	}{{label, 0, len(raws)}, {"other", len(raws), 0}} {
		rec := convertTenant(t, mem, c.label, raws)
		res, err := w.Commit(t.Context(), Commit{Tenant: c.label, Records: recs(rec)})
		rec.Release()
		if err != nil || res.Inserted != c.inserted || res.Duplicates != c.duplicate {
			t.Errorf("the stored rows again as tenant %s: %+v, %v; want %d new, %d duplicates", c.label, res, err, c.inserted, c.duplicate)
		}
	}
	mustVerify(t, w)
}

// TestUpgradeV2FixtureKilled kills the upgrading writer while it moves Parquet files (twice),
// reads the half-moved warehouse, then lets one finish: the warehouse ends exactly as an
// uninterrupted upgrade leaves it.
func TestUpgradeV2FixtureKilled(t *testing.T) {
	ref := v2Fixture(t, "loaded-url")
	before := readSink(t, ref, FromParquet)
	runCrashChild(t, "open-close", ref, SinkBoth, "")
	want := testkit.Files(t, filepath.Join(ref, ParquetDir))

	dir := v2Fixture(t, "loaded-url")
	for _, fp := range []string{"layout-after-rename@2", "layout-before-rename@3"} {
		runCrashChild(t, "open-close", dir, SinkBoth, fp)
		testkit.CheckModes(t, dir)
	}
	// Half moved: the Parquet reader finds the moved files' tenant and reads both folders.
	if got := readSink(t, dir, FromParquet); !equalContents(got, before) {
		t.Errorf("half-moved parquet holds %v, before %v", got, before)
	}
	if got, err := readerTenants(t, dir, true); err != nil || !slices.Equal(got, []string{"contoso"}) {
		t.Errorf("tenants of the half-moved dataset = %v, %v; want contoso", got, err)
	}
	runCrashChild(t, "open-close", dir, SinkBoth, "")
	if got := testkit.Files(t, filepath.Join(dir, ParquetDir)); !slices.Equal(got, want) {
		t.Errorf("files after the killed upgrade:\n%v\nuninterrupted:\n%v", got, want)
	}
	for _, from := range []string{FromParquet, FromDuckDB} {
		if got := readSink(t, dir, from); !equalContents(got, before) {
			t.Errorf("%s after the killed upgrade holds %v, before %v", from, got, before)
		}
	}
	w := openTest(t, dir, SinkBoth)
	defer w.Close(t.Context())
	mustVerify(t, w)
}

// TestRebuildV2Parquet: the DuckDB file of a warehouse made before tenants is lost; rebuilt from
// its Parquet files (still in the layout before tenants), the rows are tenant default's (the
// source that named them was in the lost file), every file moves into its tenant's folder, and
// the sinks agree.
func TestRebuildV2Parquet(t *testing.T) {
	dir := v2Fixture(t, "loaded-url")
	before := readSink(t, dir, FromParquet)
	if err := os.Remove(filepath.Join(dir, DatabaseFile)); err != nil {
		t.Fatal(err)
	}
	if err := RebuildDatabase(t.Context(), Options{Dir: dir, Logger: testLogger(nil), MemoryLimit: "300MB", Threads: 2}); err != nil {
		t.Fatalf("rebuild: %v", err)
	}
	for _, f := range testkit.Files(t, filepath.Join(dir, ParquetDir)) {
		if !strings.HasPrefix(f, "tenant="+tenant.Default+"/day=") {
			t.Errorf("file %s is not in tenant %s's folder", f, tenant.Default)
		}
	}
	for _, from := range []string{FromDuckDB, FromParquet} {
		if got := readSink(t, dir, from); !equalContents(got, before) {
			t.Errorf("%s after the rebuild holds %v, before %v", from, got, before)
		}
	}
	w := openTest(t, dir, SinkBoth)
	defer w.Close(t.Context())
	mustVerify(t, w)
	if got, err := w.Tenants(t.Context()); err != nil || !slices.Equal(got, []string{tenant.Default}) {
		t.Errorf("tenants after the rebuild = %v, %v", got, err)
	}
}
