package warehouse

import (
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/schema"
)

// TestEveryTableIsRegistered holds the migrations and warehouseTables together: every table a
// new warehouse has is registered with its kind, and every registered table is created, so a
// new table cannot join without saying which mechanisms cover it.
func TestEveryTableIsRegistered(t *testing.T) {
	made, err := migratedColumns()
	if err != nil {
		t.Fatal(err)
	}
	var registered []string
	for _, tb := range warehouseTables {
		registered = append(registered, tb.name)
		if tb.kind == kindDataset && (tb.version == 0 || tb.versionKey == "" || tb.parquetVersionKey == "" || tb.parquetDir == "") {
			t.Errorf("dataset %s lacks its version, meta keys or Parquet folder: %+v", tb.name, tb)
		}
	}
	slices.Sort(registered)
	if got := slices.Sorted(maps.Keys(made)); !slices.Equal(got, registered) {
		t.Errorf("the migrations create %v; warehouseTables registers %v", got, registered)
	}
	if got := slices.Sorted(maps.Keys(made["activities"])); len(got) != len(schema.Columns) {
		t.Errorf("activities has columns %v, want schema.Columns", got)
	}
	// A table holds per-tenant data exactly when it has a tenant column, so a new table's
	// registration says whether tenants keep it apart.
	for _, tb := range warehouseTables {
		_, has := made[tb.name]["tenant"]
		if has != tb.perTenant {
			t.Errorf("table %s: tenant column %v, registered perTenant %v", tb.name, has, tb.perTenant)
		}
		if tb.kind == kindDataset && !tb.perTenant {
			t.Errorf("dataset %s is not partitioned by tenant", tb.name)
		}
	}
}

// TestVerifyChecksEveryTable changes bookkeeping tables by hand: verify names each change, and
// an untouched warehouse has no table problem.
func TestVerifyChecksEveryTable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wh")
	w := openTest(t, dir, SinkBoth)
	defer w.Close(t.Context())
	mem := newMem(t)
	commitRows(t, w, mem, rows("a", 10, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Hour))
	mustVerify(t, w)
	s, err := w.session(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`ALTER TABLE wh.state ADD COLUMN note VARCHAR`,
		`ALTER TABLE wh.runs DROP COLUMN summary`,
		`DROP TABLE wh.pending`,
	} {
		if err := s.exec(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	s.detachClose(t.Context())
	rep, err := w.Verify(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"table pending is missing",
		"table runs lacks column summary (JSON)",
		"table state has column note, which no migration made",
	}
	got := strings.Join(rep.Problems(), "\n")
	for _, p := range want {
		if !strings.Contains(got, "duckdb file: "+p) {
			t.Errorf("verify does not report %q:\n%s", p, got)
		}
	}
	if rep.OK() {
		t.Error("verify is OK with changed tables")
	}
}
