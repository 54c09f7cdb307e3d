// Package filelock is the warehouse's one-writer lock: an exclusive OS lock on a small file that
// also names its holder. The OS lock comes from github.com/gofrs/flock (flock(2) on Unix,
// LockFileEx on Windows), so it builds and works on Linux, macOS and Windows, and the kernel
// drops it when the holding process dies: a dead holder never blocks anyone (its file is taken
// over as stale) and a live one, even in this process, always does. Readers never take it.
//
// The package imports no cgo, so `GOOS=darwin` and `GOOS=windows` cross-builds of it are checked
// by its test without a C toolchain for those systems.
package filelock

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// ErrLocked is wrapped by Take's error when another live holder has the lock.
var ErrLocked = errors.New("warehouse: locked by another writer")

// Holder is what the lock file records about the process holding it.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Start   time.Time `json:"start"`
	Command string    `json:"command"`
}

func (h Holder) String() string {
	return fmt.Sprintf("pid %d on %s, started %s: %s", h.PID, h.Host, h.Start.UTC().Format(time.RFC3339), h.Command)
}

// LockedError is the error Take returns when a live process holds the lock. It names the holder
// and wraps ErrLocked.
type LockedError struct {
	Path   string
	Holder Holder
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("take lock %s: another mcasload writer holds it (%s); wait for it to finish or stop it", e.Path, e.Holder)
}

// Unwrap lets errors.Is(err, ErrLocked) match.
func (e *LockedError) Unwrap() error { return ErrLocked }

// holderOffset is where the holder's JSON starts in the lock file. Windows locks byte 0 of the
// file (the range gofrs/flock locks) mandatorily, so nobody, not even a second handle of the
// holder, may read or write it while the lock is held; the holder's name is kept past it.
const holderOffset = 1

// Lock is a held lock.
type Lock struct {
	fl   *flock.Flock
	path string
}

// Take creates or opens path and takes the exclusive lock without waiting. A lock file left by a
// dead process (its OS lock gone with it) is taken over, and that previous holder is returned so
// the caller can log it. A live holder gives a *LockedError naming it.
func Take(path string, me Holder) (lock *Lock, stale *Holder, err error) {
	for range 10 {
		fl := flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))
		ok, err := fl.TryLock()
		if err != nil {
			return nil, nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !ok {
			holder, _ := ReadHolder(path)
			return nil, nil, &LockedError{Path: path, Holder: holder}
		}
		// The previous holder may have removed the path between our open and our lock; then we
		// hold a lock on a file nobody else can find, and must start over.
		if !samePath(fl, path) {
			_ = fl.Unlock()
			continue
		}
		if prev, err := ReadHolder(path); err == nil && prev.PID != 0 {
			stale = &prev
		}
		if err := writeHolder(path, me); err != nil {
			_ = fl.Unlock()
			return nil, nil, err
		}
		return &Lock{fl: fl, path: path}, stale, nil
	}
	return nil, nil, fmt.Errorf("take lock %s: the lock file keeps changing; another writer is starting and stopping, retry", path)
}

func samePath(fl *flock.Flock, path string) bool {
	a, err := fl.Stat() // the held handle's file
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	if err != nil {
		return false
	}
	return os.SameFile(a, b)
}

// writeHolder replaces the holder recorded in path with me, past the locked byte.
func writeHolder(path string, me Holder) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write lock %s: %w", path, err)
	}
	defer f.Close()
	b, _ := json.Marshal(me)
	if err := f.Truncate(holderOffset); err != nil {
		return fmt.Errorf("write lock %s: %w", path, err)
	}
	if _, err := f.WriteAt(append(b, '\n'), holderOffset); err != nil {
		return fmt.Errorf("write lock %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync lock %s: %w", path, err)
	}
	return nil
}

// ReadHolder reads who holds (or last held) the lock at path. It reads past the locked byte,
// so it works while another process holds the lock on every system; a file written by an
// older mcasload (JSON from byte 0) reads the same.
func ReadHolder(path string) (Holder, error) {
	var h Holder
	f, err := os.Open(path)
	if err != nil {
		return h, fmt.Errorf("read lock %s: %w", path, err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	n, err := f.ReadAt(buf, holderOffset)
	if err != nil && !errors.Is(err, io.EOF) {
		return h, fmt.Errorf("read lock %s: %w", path, err)
	}
	text := strings.Trim(string(buf[:n]), "\x00 \t\r\n")
	if !strings.HasPrefix(text, "{") {
		text = "{" + text // an older file's JSON began at byte 0
	}
	if err := json.Unmarshal([]byte(text), &h); err != nil {
		return h, fmt.Errorf("read lock %s: %w", path, err)
	}
	return h, nil
}

// Release removes the lock file and then drops the lock, in that order on Unix, so a waiting
// writer that opened the old file notices (its path check fails) and retries on a fresh one.
// Windows cannot remove an open file: there the lock is dropped first and the file removed
// after, and a writer that took the lock in between keeps the file (its holder check passes).
func (l *Lock) Release() error {
	if l == nil || l.fl == nil {
		return nil
	}
	var rmErr, err error
	if runtime.GOOS == "windows" {
		err = l.fl.Unlock()
		rmErr = os.Remove(l.path)
		if rmErr != nil {
			rmErr = nil // another writer has it open: it is theirs now
		}
	} else {
		rmErr = os.Remove(l.path)
		err = l.fl.Unlock()
	}
	l.fl = nil
	if rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		return fmt.Errorf("remove lock %s: %w", l.path, rmErr)
	}
	if err != nil {
		return fmt.Errorf("release lock %s: %w", l.path, err)
	}
	return nil
}
