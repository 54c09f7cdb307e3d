package warehouse

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// ErrLocked is wrapped by Open when another live writer holds the warehouse lock.
var ErrLocked = errors.New("warehouse: locked by another writer")

// LockHolder is what the lock file records about the writer holding it.
type LockHolder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Start   time.Time `json:"start"`
	Command string    `json:"command"`
}

func (h LockHolder) String() string {
	return fmt.Sprintf("pid %d on %s, started %s: %s", h.PID, h.Host, h.Start.UTC().Format(time.RFC3339), h.Command)
}

// LockedError is the error Open returns when a live writer holds the lock. It names the holder
// and wraps ErrLocked.
type LockedError struct {
	Path   string
	Holder LockHolder
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("take lock %s: another mcasload writer holds it (%s); wait for it to finish or stop it", e.Path, e.Holder)
}

// Unwrap lets errors.Is(err, ErrLocked) match.
func (e *LockedError) Unwrap() error { return ErrLocked }

// fileLock is the held lock file. The file carries the holder's JSON for people and for error
// messages; the flock on it is what actually excludes: the kernel drops it when the process
// dies, so a dead holder never blocks anyone, and a live one (even in this process) always does.
type fileLock struct {
	f    *os.File
	path string
}

// takeLock creates or opens path and takes an exclusive flock on it. A lock file left by a dead
// process (no flock held) is taken over; the previous holder is returned so it can be logged.
func takeLock(path string, me LockHolder) (lock *fileLock, stale *LockHolder, err error) {
	for range 10 {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("open lock %s: %w", path, err)
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			holder := readHolder(f)
			f.Close()
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, nil, &LockedError{Path: path, Holder: holder}
			}
			return nil, nil, fmt.Errorf("lock %s: %w", path, err)
		}
		// The previous holder may have removed the path between our open and our flock; then
		// we hold a lock on a file nobody else can find, and must start over.
		if !samePath(f, path) {
			f.Close()
			continue
		}
		if prev := readHolder(f); prev.PID != 0 {
			stale = &prev
		}
		b, _ := json.Marshal(me)
		if err := f.Truncate(0); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("write lock %s: %w", path, err)
		}
		if _, err := f.WriteAt(append(b, '\n'), 0); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("write lock %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("sync lock %s: %w", path, err)
		}
		return &fileLock{f: f, path: path}, stale, nil
	}
	return nil, nil, fmt.Errorf("take lock %s: the lock file keeps changing; another writer is starting and stopping, retry", path)
}

func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

func readHolder(f *os.File) LockHolder {
	var h LockHolder
	buf := make([]byte, 4096)
	n, _ := f.ReadAt(buf, 0)
	_ = json.Unmarshal([]byte(strings.TrimSpace(string(buf[:n]))), &h)
	return h
}

// release removes the lock file and then drops the flock, in that order, so a waiting writer
// that opened the old file notices (samePath) and retries on a fresh one.
func (l *fileLock) release() error {
	if l == nil || l.f == nil {
		return nil
	}
	rmErr := os.Remove(l.path)
	err := l.f.Close()
	l.f = nil
	if rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		return fmt.Errorf("remove lock %s: %w", l.path, rmErr)
	}
	if err != nil {
		return fmt.Errorf("release lock %s: %w", l.path, err)
	}
	return nil
}
