package warehouse

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
	"testing"
)

// TestMarkStorage pins which failures count as storage faults: Go's errno and DuckDB's text
// for the same faults, and nothing else.
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
		{"not storage", errors.New("Constraint Error: duplicate key"), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := fmt.Errorf("commit: %w", c.err)
			markStorage(&err)
			for _, kind := range []error{ErrDiskFull, ErrReadOnly, ErrNoAccess} {
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
