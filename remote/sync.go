package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/objstore"
)

// A synced copy is a folder holding DatasetDir (the files of one manifest, in the warehouse's
// layout, so every reader of a warehouse folder reads it) and CopyStateFile. It has no DuckDB
// file: readers fall back to the Parquet dataset.
const (
	DatasetDir    = "parquet"
	CopyStateFile = "mcasload-sync.json"
	// nextDir is where the next version is assembled; hidden, so readers never see it.
	nextDir = ".sync-next"
	// warehouseFiles are the files only a writer's warehouse has (warehouse.DatabaseFile and
	// warehouse.LockFile; package warehouse is not imported so that it may import this one).
	databaseFile = "mcasload.duckdb"
	lockFile     = "mcasload.lock"
)

// The errors of Sync callers branch on.
var (
	// ErrNotACopy: the folder is a writer's warehouse, which a sync must never replace.
	ErrNotACopy = errors.New("the folder is a warehouse, not a synced copy")
	// ErrOtherSource: the folder is a copy of another location.
	ErrOtherSource = errors.New("the folder is a copy of another location")
)

// errVanished: a file of the manifest being read was deleted (the reader was slower than the
// grace period); the sync starts again from the newest manifest.
var errVanished = errors.New("a file of the manifest was deleted meanwhile")

// CopyState records what a synced copy holds.
type CopyState struct {
	URL     string          `json:"url"`
	Dataset string          `json:"dataset"`
	Version int64           `json:"version"`
	Synced  time.Time       `json:"synced"`
	Hashes  map[string]Hash `json:"hashes,omitempty"`
}

// SyncOptions configure Sync.
type SyncOptions struct {
	Parallel int // files downloaded at once (default 4)
	// Attempts is how many times the sync starts over when files of the manifest it follows
	// are deleted under it (default 5).
	Attempts int
	Clock    clock.Clock
	Logger   *slog.Logger
}

// SyncResult says what a Sync did.
type SyncResult struct {
	Version  int64
	UpToDate bool // the copy already held that version
	Files    int
	Bytes    int64
	Rows     int64
	// Downloaded files and bytes; Kept files already in the copy; Removed files no longer in it.
	Downloaded      int
	DownloadedBytes int64
	Kept            int
	Removed         int
	// Restarts counts how often the sync started over because files of the manifest it
	// followed were deleted meanwhile.
	Restarts int
}

// Sync makes the folder copyDir a read-only copy of the newest manifest at st: files already
// there with the right digest are kept (hard-linked), the others downloaded and checked against
// the manifest's sha256, and the new version replaces the old in one step (an atomic exchange of
// folders on Linux), so a reader of the copy sees one version or the next. Interrupted, a rerun
// keeps what was downloaded. copyDir must not be a warehouse a writer uses (ErrNotACopy).
func Sync(ctx context.Context, st objstore.Store, copyDir string, opts SyncOptions) (SyncResult, error) {
	if opts.Parallel <= 0 {
		opts.Parallel = 4
	}
	if opts.Attempts <= 0 {
		opts.Attempts = 5
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &syncer{st: st, dir: copyDir, opts: opts, url: st.Location().String()}
	res, err := s.run(ctx)
	if err != nil {
		return res, fmt.Errorf("sync %s from %s: %w", copyDir, s.url, err)
	}
	return res, nil
}

type syncer struct {
	st    objstore.Store
	dir   string
	opts  SyncOptions
	url   string
	state *CopyState
	res   SyncResult
}

func (s *syncer) run(ctx context.Context) (SyncResult, error) {
	for _, name := range []string{databaseFile, lockFile} {
		if _, err := os.Stat(filepath.Join(s.dir, name)); err == nil {
			return s.res, fmt.Errorf("%w: %s has %s; sync into a new folder", ErrNotACopy, s.dir, name)
		}
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return s.res, err
	}
	var err error
	if s.state, err = LoadCopyState(s.dir); err != nil {
		return s.res, err
	}
	if s.state.URL != "" && s.state.URL != s.url {
		return s.res, fmt.Errorf("%w: it follows %s; sync %s into another folder", ErrOtherSource, s.state.URL, s.url)
	}
	for attempt := 1; ; attempt++ {
		m, err := Latest(ctx, s.st)
		if err != nil {
			return s.res, err
		}
		err = s.apply(ctx, m)
		if errors.Is(err, errVanished) && attempt < s.opts.Attempts {
			s.opts.Logger.Warn("a file of the manifest was deleted while downloading; starting again from the newest manifest",
				"version", m.Version, "attempt", attempt)
			s.res = SyncResult{Restarts: attempt}
			continue
		}
		return s.res, err
	}
}

// apply brings the copy to manifest m.
func (s *syncer) apply(ctx context.Context, m *Manifest) error {
	s.res.Version, s.res.Files, s.res.Bytes, s.res.Rows = m.Version, m.Totals.Files, m.Totals.Bytes, m.Totals.Rows
	if s.state.Hashes == nil {
		s.state.Hashes = map[string]Hash{}
	}
	cur := filepath.Join(s.dir, DatasetDir)
	if s.state.Version == m.Version && s.state.Dataset == m.Dataset {
		have, err := localFiles(ctx, cur, s.state.Hashes)
		if err == nil && sameFiles(have, m.Files) && s.hasPortals(cur, m) {
			s.res.UpToDate, s.res.Kept = true, len(have)
			return nil
		}
	}
	next := filepath.Join(s.dir, nextDir)
	if err := s.assemble(ctx, m, cur, next); err != nil {
		return err
	}
	if err := exchangeDirs(next, cur); err != nil {
		return fmt.Errorf("replace %s: %w", cur, err)
	}
	if err := syncDir(s.dir); err != nil {
		return err
	}
	if err := os.RemoveAll(next); err != nil {
		return err
	}
	s.state.URL, s.state.Dataset, s.state.Version, s.state.Synced = s.url, m.Dataset, m.Version, s.opts.Clock.Now().UTC()
	return SaveCopyState(s.dir, s.state)
}

// hasPortals reports whether the copy's folder dir holds m's portals (or m names none).
func (s *syncer) hasPortals(dir string, m *Manifest) bool {
	path := filepath.Join(dir, CopyPortalsFile)
	if m.Portals == nil {
		_, err := os.Stat(path)
		return errors.Is(err, os.ErrNotExist)
	}
	sum, err := hashFile(path)
	return err == nil && sum == m.Portals.SHA256
}

// sameFiles reports whether local files have the manifest's paths, sizes and digests.
func sameFiles(have, want []File) bool {
	if len(have) != len(want) {
		return false
	}
	for i := range have {
		if have[i].Path != want[i].Path || have[i].Size != want[i].Size || have[i].SHA256 != want[i].SHA256 {
			return false
		}
	}
	return true
}

// assemble builds m's files in next: kept from an interrupted sync, linked from the current
// copy, or downloaded; anything else in next is removed, and every folder is synced.
func (s *syncer) assemble(ctx context.Context, m *Manifest, cur, next string) error {
	if err := os.MkdirAll(next, 0o700); err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.opts.Parallel)
	var kept, downloaded, bytes atomic.Int64
	hashes := make([]Hash, len(m.Files))
	for i, f := range m.Files {
		g.Go(func() error {
			dst := filepath.Join(next, filepath.FromSlash(f.Path))
			h, ok := s.matches(dst, f, false)
			if !ok {
				if h, ok = s.matches(filepath.Join(cur, filepath.FromSlash(f.Path)), f, true); ok {
					if err := linkOrCopy(filepath.Join(cur, filepath.FromSlash(f.Path)), dst); err != nil {
						return err
					}
				}
			}
			if ok {
				kept.Add(1)
				hashes[i] = h
				return nil
			}
			h, err := s.download(gctx, f, dst)
			if err != nil {
				return err
			}
			downloaded.Add(1)
			bytes.Add(f.Size)
			hashes[i] = h
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	s.res.Kept, s.res.Downloaded, s.res.DownloadedBytes = int(kept.Load()), int(downloaded.Load()), bytes.Load()
	clear(s.state.Hashes)
	for i, f := range m.Files {
		s.state.Hashes[f.Path] = hashes[i]
	}
	if err := pruneTree(next, s.state.Hashes); err != nil {
		return err
	}
	if m.Portals != nil {
		// After pruneTree, which removes every file that is not one of m's.
		f := File{Path: m.Portals.Path, Size: m.Portals.Size, SHA256: m.Portals.SHA256}
		if _, err := s.download(ctx, f, filepath.Join(next, CopyPortalsFile)); err != nil {
			return err
		}
	}
	old, err := datasetPaths(ctx, cur)
	if err != nil {
		return err
	}
	for _, p := range old {
		if _, still := s.state.Hashes[p]; !still {
			s.res.Removed++
		}
	}
	return nil
}

// matches reports whether the file at path holds f (size and digest); the digest comes from the
// copy's cache when useCache and the file's size and time are the ones recorded.
func (s *syncer) matches(path string, f File, useCache bool) (Hash, bool) {
	info, err := os.Stat(path)
	if err != nil || !info.Mode().IsRegular() || info.Size() != f.Size {
		return Hash{}, false
	}
	h := Hash{Size: f.Size, ModTime: info.ModTime().UnixNano(), SHA256: f.SHA256, Rows: f.Rows}
	if c, ok := s.state.Hashes[f.Path]; useCache && ok && c.Size == h.Size && c.ModTime == h.ModTime {
		return h, c.SHA256 == f.SHA256
	}
	sum, err := hashFile(path)
	return h, err == nil && sum == f.SHA256
}

// download fetches f into dst through a hidden temporary file, checking size and digest.
func (s *syncer) download(ctx context.Context, f File, dst string) (Hash, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return Hash{}, err
	}
	r, err := s.st.Get(ctx, f.Path)
	if errors.Is(err, objstore.ErrNotFound) {
		return Hash{}, fmt.Errorf("%s: %w", f.Path, errVanished)
	}
	if err != nil {
		return Hash{}, err
	}
	defer r.Close()
	tmp := filepath.Join(filepath.Dir(dst), "."+filepath.Base(dst)+".tmp")
	fh, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return Hash{}, err
	}
	defer os.Remove(tmp)
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(fh, h), r)
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Hash{}, fmt.Errorf("download %s: %w", f.Path, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != f.Size || sum != f.SHA256 {
		return Hash{}, fmt.Errorf("download %s/%s: got %d bytes with sha256 %s, the manifest says %d bytes with sha256 %s; "+
			"%w", s.url, f.Path, n, sum, f.Size, f.SHA256, ErrDamagedRemote)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return Hash{}, err
	}
	info, err := os.Stat(dst)
	if err != nil {
		return Hash{}, err
	}
	return Hash{Size: f.Size, ModTime: info.ModTime().UnixNano(), SHA256: f.SHA256, Rows: f.Rows}, nil
}

// linkOrCopy hard-links src to dst (same file, no bytes copied), or copies it where links are
// not possible.
func linkOrCopy(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// pruneTree removes from root every file whose dataset path is not in keep (left by an
// interrupted sync of another version) and every empty folder, and syncs the folders that remain.
func pruneTree(root string, keep map[string]Hash) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			dirs = append(dirs, p)
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if _, ok := keep[filepath.ToSlash(rel)]; !ok {
			return os.Remove(p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Deepest first, so a folder emptied by its children's removal goes too.
	for i := len(dirs) - 1; i >= 0; i-- {
		if dirs[i] != root {
			if entries, err := os.ReadDir(dirs[i]); err == nil && len(entries) == 0 {
				if err := os.Remove(dirs[i]); err != nil {
					return err
				}
				continue
			}
		}
		if err := syncDir(dirs[i]); err != nil {
			return err
		}
	}
	return nil
}

// LoadCopyState reads a copy's record; a folder without one is an empty copy.
func LoadCopyState(dir string) (*CopyState, error) {
	data, err := os.ReadFile(filepath.Join(dir, CopyStateFile))
	if errors.Is(err, os.ErrNotExist) {
		return &CopyState{}, nil
	}
	if err != nil {
		return nil, err
	}
	var s CopyState
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read %s: %w (delete it: the next sync checks every file)", filepath.Join(dir, CopyStateFile), err)
	}
	return &s, nil
}

// SaveCopyState writes a copy's record atomically.
func SaveCopyState(dir string, s *CopyState) error {
	data, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, CopyStateFile), data)
}

// IsCopy reports whether dir is a synced copy, and of which location.
func IsCopy(dir string) (string, bool) {
	s, err := LoadCopyState(dir)
	if err != nil || s.URL == "" {
		_, statErr := os.Stat(filepath.Join(dir, CopyStateFile))
		return "", statErr == nil
	}
	return s.URL, true
}
