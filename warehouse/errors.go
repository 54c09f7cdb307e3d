package warehouse

import (
	"errors"
	"fmt"
	"strings"
	"syscall"

	"github.com/duckdb/duckdb-go/v2"
)

// Storage faults: a failure caused by the file system under the warehouse, not by the data.
// Every exported writing operation (Open, Commit, FinishRun, Close, Compact, Verify, Repair,
// RebuildDatabase) marks its error with one of these, so callers choose a hint with errors.Is
// instead of reading the message.
var (
	ErrDiskFull = errors.New("warehouse: the disk is full")
	ErrReadOnly = errors.New("warehouse: the file system is read-only")
	ErrNoAccess = errors.New("warehouse: permission denied")
	// ErrDamaged: DuckDB refuses the warehouse file as corrupt (a block's checksum, a header,
	// a file shorter than its header says). The Parquet dataset, when kept, rebuilds it.
	ErrDamaged = errors.New("warehouse: the duckdb file is damaged")
)

// ErrNoWarehouse is wrapped by OpenReader and ReadStatus when the folder holds no warehouse
// (neither the DuckDB file nor a Parquet dataset).
var ErrNoWarehouse = errors.New("no warehouse in this folder")

// ErrNoFolder is returned by Open, OpenReader and RebuildDatabase when no folder is given.
var ErrNoFolder = errors.New("open warehouse: no folder given")

// SinkMismatchError is returned by Open when the warehouse keeps other sinks than the ones asked
// for: a writer must keep every sink the warehouse was made with, or they drift apart.
type SinkMismatchError struct {
	Dir         string
	Keeps, Want Sinks
}

func (e *SinkMismatchError) Error() string {
	return fmt.Sprintf("open warehouse %s: it keeps sinks %s, not %s", e.Dir, e.Keeps, e.Want)
}

// storageError marks err with the storage fault kind; its message is err's.
type storageError struct{ kind, err error }

func (e *storageError) Error() string   { return e.err.Error() }
func (e *storageError) Unwrap() []error { return []error{e.kind, e.err} }

// markStorage marks *errp with the storage fault that caused it, if any; exported writing
// operations defer it.
func markStorage(errp *error) {
	if err := *errp; err != nil {
		if kind := storageFault(err); kind != nil && !errors.Is(err, kind) {
			*errp = &storageError{kind: kind, err: err}
		}
	}
}

// storageFault says which storage fault caused err, or nil. Go's file operations keep the
// errno; DuckDB reports the same faults as text only, so this, the one place that reads
// DuckDB's messages for them, also looks at the text.
func storageFault(err error) error {
	msg := strings.ToLower(err.Error())
	switch {
	case errors.Is(err, syscall.ENOSPC) || strings.Contains(msg, "no space left") ||
		strings.Contains(msg, "disk full") || strings.Contains(msg, "disk is full"):
		return ErrDiskFull
	case errors.Is(err, syscall.EROFS) || strings.Contains(msg, "read-only file system"):
		return ErrReadOnly
	case errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) || strings.Contains(msg, "permission denied"):
		return ErrNoAccess
	case isDamaged(err):
		return ErrDamaged
	}
	return nil
}

// isDamaged reports DuckDB refusing a database file as corrupt (text only): a block whose
// checksum does not match, a header that is not DuckDB's, a file cut shorter than it says.
func isDamaged(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Corrupt database file") || strings.Contains(msg, "not a valid DuckDB database file") ||
		(strings.Contains(msg, "Could not read enough bytes from file") && strings.Contains(msg, DatabaseFile))
}

// isLockConflict reports DuckDB's refusal to attach a file another process holds (text only).
func isLockConflict(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Could not set lock") || strings.Contains(msg, "Conflicting lock")
}

// isNotAttached reports DuckDB's refusal to detach a database that is not attached (text only).
func isNotAttached(err error) bool {
	return strings.Contains(err.Error(), "not found")
}

// isOutOfMemory reports whether err is DuckDB running out of its memory_limit.
func isOutOfMemory(err error) bool {
	var de *duckdb.Error
	return errors.As(err, &de) && de.Type == duckdb.ErrorTypeOutOfMemory
}
