package warehouse

import "github.com/mcasload/mcasload/internal/filelock"

// The writer lock lives in internal/filelock (no cgo, so it cross-builds for macOS and Windows);
// these names keep the warehouse's API.

// ErrLocked is wrapped by Open when another live writer holds the warehouse lock.
var ErrLocked = filelock.ErrLocked

// LockHolder is what the lock file records about the writer holding it.
type LockHolder = filelock.Holder

// LockedError is the error Open returns when a live writer holds the lock. It names the holder
// and wraps ErrLocked.
type LockedError = filelock.LockedError
