package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// State is what a publishing warehouse remembers: per target URL, which dataset it publishes
// there and the last version it wrote, and a cache of its files' digests. Phase 1 keeps it in a
// file (FileLedger); it holds nothing the remote side cannot confirm, so losing it costs a
// re-hash and, at worst, an explicit Options.Adopt.
type State struct {
	Targets map[string]*Target `json:"targets,omitempty"`
	// Hashes caches digests by dataset path; an entry is used while the file's size and
	// modification time are unchanged.
	Hashes map[string]Hash `json:"hashes,omitempty"`
}

// Target is one remote location a warehouse publishes to.
type Target struct {
	Dataset string `json:"dataset"`
	// Version is the last manifest version this warehouse wrote (or found written by its own
	// interrupted run).
	Version int64 `json:"version"`
	// Uploading lists the paths a publish was about to upload; if it was interrupted before
	// writing its manifest, the next publish supersedes those no longer local.
	Uploading []string  `json:"uploading,omitempty"`
	Published time.Time `json:"published,omitzero"`
}

// Hash is a cached digest of a local file.
type Hash struct {
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256"`
	Rows    int64  `json:"rows"`
}

// target returns the state of url, creating it.
func (s *State) target(url string) *Target {
	if s.Targets == nil {
		s.Targets = map[string]*Target{}
	}
	t := s.Targets[url]
	if t == nil {
		t = &Target{}
		s.Targets[url] = t
	}
	return t
}

// Ledger keeps a publisher's State. Save must be atomic: after a crash, Load returns the
// previous or the new state, never a mix.
type Ledger interface {
	Load(ctx context.Context) (*State, error)
	Save(ctx context.Context, s *State) error
}

// FileLedger keeps the State in a JSON file, written to a temporary file, synced and renamed.
type FileLedger struct{ Path string }

// StateFile is the name of the FileLedger in a warehouse folder.
const StateFile = "mcasload-remote.json"

// Load reads the file; a missing file is an empty State.
func (l FileLedger) Load(context.Context) (*State, error) {
	data, err := os.ReadFile(l.Path)
	if errors.Is(err, os.ErrNotExist) {
		return &State{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read publish state: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read publish state %s: %w: %w", l.Path, ErrBadState, err)
	}
	return &s, nil
}

// Save writes the state atomically.
func (l FileLedger) Save(_ context.Context, s *State) error {
	data, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return fmt.Errorf("save publish state: %w", err)
	}
	if err := writeFileAtomic(l.Path, data); err != nil {
		return fmt.Errorf("save publish state: %w", err)
	}
	return nil
}

// writeFileAtomic writes data to path through a temporary file in the same folder: write,
// fsync, rename, fsync the folder. A crash leaves the old file or the new one.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir fsyncs a folder so that renames into it survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
