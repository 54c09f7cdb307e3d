package warehouse

import (
	"testing"
	"time"
)

func TestLockDown(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	commitRows(t, w, mem, rows("a", 30, day0, time.Hour))
	w.Close(t.Context())
	for _, prefer := range []bool{false, true} {
		r, err := OpenReader(t.Context(), ReaderOptions{Dir: dir, PreferParquet: prefer})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.LockDown(t.Context()); err != nil {
			t.Fatalf("lock down (parquet=%v): %v", prefer, err)
		}
		var n int
		if err := r.Conn().QueryRowContext(t.Context(), `SELECT count(*) FROM activities`).Scan(&n); err != nil || n != 30 {
			t.Errorf("after lock down (parquet=%v): %d rows, %v", prefer, n, err)
		}
		if err := r.Conn().QueryRowContext(t.Context(), `SELECT count(*) FROM rejected_activities`).Scan(&n); err != nil {
			t.Errorf("rejects after lock down (parquet=%v): %v", prefer, err)
		}
		for _, q := range []string{
			`SELECT count(*) FROM read_csv('/etc/passwd')`,
			`COPY (SELECT 1) TO '` + dir + `/out.csv'`,
			`SET enable_external_access = true`,
			`ATTACH '` + dir + `/other.duckdb' AS o`,
		} {
			if _, err := r.Conn().ExecContext(t.Context(), q); err == nil {
				t.Errorf("locked-down reader (parquet=%v) ran %s", prefer, q)
			}
		}
		r.Close()
	}
}
