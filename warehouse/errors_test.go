package warehouse

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

// TestMarkStorage pins which failures count as storage faults: Go's errno and DuckDB's text
// for the same faults, DuckDB refusing its file as corrupt, and nothing else.
func TestMarkStorage(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"errno ENOSPC", &fs.PathError{Op: "write", Path: "/wh/x", Err: syscall.ENOSPC}, ErrDiskFull},
		{"duckdb disk full", errors.New(`IO Error: Could not write file "/wh/mcasload.duckdb.wal": No space left on device`), ErrDiskFull},
		{"errno EROFS", &fs.PathError{Op: "mkdir", Path: "/wh", Err: syscall.EROFS}, ErrReadOnly},
		{"duckdb read-only", errors.New(`IO Error: Cannot open file "/wh/mcasload.duckdb": Read-only file system`), ErrReadOnly},
		{"errno EACCES", &fs.PathError{Op: "open", Path: "/wh", Err: syscall.EACCES}, ErrNoAccess},
		{"duckdb permission", errors.New(`IO Error: Cannot open file "/wh/x": Permission denied`), ErrNoAccess},
		{"duckdb checksum", errors.New(`IO Error: Corrupt database file: computed checksum 1027 does not match stored checksum 7294 in block at location 12288`), ErrDamaged},
		{"duckdb header", errors.New(`IO Error: The file "/wh/mcasload.duckdb" exists, but it is not a valid DuckDB database file!`), ErrDamaged},
		{"duckdb truncated", errors.New(`IO Error: Could not read enough bytes from file "/wh/mcasload.duckdb": attempted to read 4096 bytes from location 4096`), ErrDamaged},
		{"parquet truncated", errors.New(`IO Error: Could not read enough bytes from file "/wh/parquet/x.parquet": attempted to read 8 bytes`), nil},
		{"not storage", errors.New("Constraint Error: duplicate key"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := fmt.Errorf("commit: %w", c.err)
			markStorage(&err)
			for _, kind := range []error{ErrDiskFull, ErrReadOnly, ErrNoAccess, ErrDamaged} {
				if got := errors.Is(err, kind); got != (kind == c.want) {
					t.Errorf("errors.Is(%v, %v) = %v", err, kind, got)
				}
			}
			if !errors.Is(err, c.err) || err.Error() != "commit: "+c.err.Error() {
				t.Errorf("marking changed the error: %v", err)
			}
		})
	}
	var none error
	markStorage(&none)
	if none != nil {
		t.Errorf("markStorage(nil) = %v", none)
	}
}

// TestIsOutOfMemory: DuckDB's own out-of-memory error is recognised through the driver's typed
// error (the close-time compaction leaves such a day in parts instead of failing the load); other
// DuckDB errors are not.
func TestIsOutOfMemory(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("SET memory_limit='2MB'"); err != nil {
		t.Fatal(err)
	}
	_, oom := db.Exec("CREATE TABLE big AS SELECT list(i) AS l FROM range(5000000) t(i)")
	if oom == nil || !isOutOfMemory(fmt.Errorf("compact: %w", oom)) {
		t.Errorf("a query over the memory limit: %v, not recognised as out of memory", oom)
	}
	_, syntax := db.Exec("SELEC 1")
	if syntax == nil || isOutOfMemory(syntax) {
		t.Errorf("a syntax error %v taken for out of memory", syntax)
	}
	if isOutOfMemory(errors.New("Out of Memory Error: in a message only")) {
		t.Error("an error that only says out of memory in its text taken for DuckDB's")
	}
}
