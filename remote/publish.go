package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/objstore"
)

// DefaultGrace is how long superseded files stay by default: long enough for a day's batch job
// that began with an older manifest to finish reading.
const DefaultGrace = 24 * time.Hour

// Options configure Publish.
type Options struct {
	// Grace is how long a file stays after the first manifest without it (0: DefaultGrace;
	// negative: deleted by the same publish, for tests and for storage nobody reads while it is
	// published).
	Grace time.Duration
	// Parallel is how many files are uploaded at once (default 4).
	Parallel int
	// Adopt lets a warehouse without a record of publishing to this location take over the
	// dataset found there (its publish state was lost, or the warehouse was rebuilt): remote
	// files it does not have locally are superseded, files it has with other bytes still
	// conflict.
	Adopt bool
	// KeepCompactionLocal publishes a compaction's merged file only when the remote side does not
	// already hold all its rows as the smaller files it replaced: those stay the published
	// files, so an engine that lists the prefix never sees a day's rows twice. Local and remote
	// then differ in file names by design; Verify compares the commits each side covers.
	KeepCompactionLocal bool
	// Portals are the URLs each tenant label was scanned from (its portal hosts), published
	// with the dataset so that a synced copy links investigations as the warehouse does. Nil
	// keeps the portals of the newest manifest; empty publishes that no tenant was scanned.
	Portals map[string][]string
	Clock   clock.Clock
	Logger  *slog.Logger
}

func (o *Options) defaults() {
	if o.Grace == 0 {
		o.Grace = DefaultGrace
	}
	if o.Grace < 0 {
		o.Grace = 0
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Result says what a Publish did.
type Result struct {
	// Version is the newest manifest's version after the publish; Wrote says whether this
	// publish wrote it (false when the remote dataset already equalled the local one).
	Version int64
	Wrote   bool
	// Files, Bytes and Rows are the dataset's totals in that version.
	Files int
	Bytes int64
	Rows  int64
	// Uploaded files (and their bytes); Reused are files of the version that were already
	// stored (left by an interrupted publish, or still there after being superseded).
	Uploaded      int
	UploadedBytes int64
	Reused        int
	// Superseded counts objects the version dropped; Deleted those deleted by this publish
	// (their grace period was over); Waiting those still in their grace period.
	Superseded int
	Deleted    int
	Waiting    int
}

// Publish makes the dataset at st equal to the Parquet files under dir (the warehouse's
// parquet/ folder), exactly once: files the remote side lacks are uploaded create-only (an
// existing object with other bytes is a ConflictError, never overwritten), then one manifest
// naming every file is written create-only as the next version, then the pointer, then objects
// superseded longer than the grace period ago are deleted. The caller must keep dir still
// meanwhile (hold the warehouse's writer lock). Interrupted at any point, a rerun continues and
// ends in the same remote state; the ledger records the dataset id, the version written and
// the uploads under way.
func Publish(ctx context.Context, st objstore.Store, dir string, ledger Ledger, opts Options) (Result, error) {
	opts.defaults()
	p := &publisher{st: st, dir: dir, ledger: ledger, opts: opts, url: st.Location().String()}
	res, err := p.run(ctx)
	if err != nil {
		return res, fmt.Errorf("publish to %s: %w", p.url, err)
	}
	return res, nil
}

type publisher struct {
	st     objstore.Store
	dir    string
	ledger Ledger
	opts   Options
	url    string

	state  *State
	target *Target
	remote *listing
	prev   *Manifest // the newest manifest before this publish; nil if none
	local  []File
	res    Result
	// portals is the reference the next manifest carries (nil: none), portalsData its bytes
	// when they must be uploaded.
	portals     *PortalsRef
	portalsData []byte
}

func (p *publisher) run(ctx context.Context) (Result, error) {
	var err error
	if p.state, err = p.ledger.Load(ctx); err != nil {
		return p.res, err
	}
	p.target = p.state.target(p.url)
	if p.local, err = localFiles(ctx, p.dir, p.state.hashesMap()); err != nil {
		return p.res, err
	}
	if p.remote, err = listAll(ctx, p.st); err != nil {
		return p.res, err
	}
	if v := p.remote.newest(); v > 0 {
		if p.prev, err = readManifest(ctx, p.st, v); err != nil {
			return p.res, err
		}
	}
	if err := p.checkDataset(ctx); err != nil {
		return p.res, err
	}
	if p.opts.KeepCompactionLocal && p.prev != nil {
		p.local = publishedView(p.local, p.prev, p.remote.objects)
	}
	uploads, err := p.plan(ctx)
	if err != nil {
		return p.res, err
	}
	if err := p.planPortals(ctx); err != nil {
		return p.res, err
	}
	stale := p.target.Uploading
	if len(uploads) > 0 || p.portalsData != nil {
		p.target.Uploading = union(stale, paths(uploads))
		if p.portalsData != nil {
			p.target.Uploading = union(p.target.Uploading, []string{p.portals.Path})
		}
		if err := p.ledger.Save(ctx, p.state); err != nil {
			return p.res, err
		}
		if err := p.upload(ctx, uploads); err != nil {
			return p.res, err
		}
		if err := p.uploadPortals(ctx); err != nil {
			return p.res, err
		}
	}
	failpoint.Hit("publish-before-manifest")
	m, err := p.writeManifest(ctx, stale)
	if err != nil {
		return p.res, err
	}
	failpoint.Hit("publish-after-manifest")
	p.target.Version, p.target.Uploading, p.target.Published = m.Version, nil, p.opts.Clock.Now().UTC()
	if err := p.ledger.Save(ctx, p.state); err != nil {
		return p.res, err
	}
	if err := p.updatePointer(ctx, m); err != nil {
		return p.res, err
	}
	failpoint.Hit("publish-before-delete")
	return p.res, p.collect(ctx, m)
}

// hashesMap returns the digest cache, creating it.
func (s *State) hashesMap() map[string]Hash {
	if s.Hashes == nil {
		s.Hashes = map[string]Hash{}
	}
	return s.Hashes
}

// checkDataset gives a first publish its dataset id (saved before anything is uploaded, so an
// interrupted first publish is continued, not refused) and refuses a location that holds
// another dataset or is behind what this warehouse published.
func (p *publisher) checkDataset(ctx context.Context) error {
	t := p.target
	switch {
	case p.prev == nil && t.Version > 0:
		return fmt.Errorf("%w: the location has no manifest but this warehouse published version %d there; "+
			"to publish it anew, move %s aside", ErrRemoteBehind, t.Version, StateFile)
	case p.prev == nil && t.Dataset != "":
		return nil
	case p.prev == nil:
		t.Dataset = newDatasetID()
	case t.Dataset == "" && p.opts.Adopt:
		t.Dataset = p.prev.Dataset
	case t.Dataset == "":
		return fmt.Errorf("%w: it holds dataset %s (version %d) and this warehouse has no record of publishing there; "+
			"publish to another prefix, or adopt it if this warehouse is the one that published it", ErrForeignDataset, p.prev.Dataset, p.prev.Version)
	case t.Dataset != p.prev.Dataset:
		return fmt.Errorf("%w: it holds dataset %s, this warehouse publishes %s there; publish to another prefix", ErrForeignDataset, p.prev.Dataset, t.Dataset)
	case p.prev.Version < t.Version:
		return fmt.Errorf("%w: its newest manifest is version %d, this warehouse wrote version %d; "+
			"restore the missing manifests, or move %s aside and publish to a new prefix", ErrRemoteBehind, p.prev.Version, t.Version, StateFile)
	default:
		return nil
	}
	return p.ledger.Save(ctx, p.state)
}

func newDatasetID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand never fails on Linux; a zero id would still be unique per location
	return hex.EncodeToString(b)
}

// digestOf is the sha256 of data in lowercase hex.
func digestOf(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// union is a and b without repeats, sorted.
func union(a, b []string) []string {
	out := slices.Concat(a, b)
	slices.Sort(out)
	return slices.Compact(out)
}

func paths(files []File) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}

// plan decides, for each local file, whether it is already stored (the same bytes under its
// path) or must be uploaded; a stored object with other bytes is a conflict.
func (p *publisher) plan(ctx context.Context) ([]File, error) {
	named := map[string]File{}
	if p.prev != nil {
		for _, f := range p.prev.Files {
			named[f.Path] = f
		}
	}
	var uploads []File
	for _, f := range p.local {
		o, stored := p.remote.objects[f.Path]
		if prev, ok := named[f.Path]; ok {
			// The manifest's digest is the one readers check, so it decides, even if the object
			// went missing (then it is uploaded again).
			if prev.SHA256 != f.SHA256 || prev.Size != f.Size {
				return nil, p.conflict(f, prev.Size, prev.SHA256)
			}
			if stored {
				continue
			}
		} else if stored {
			if err := p.sameBytes(ctx, f, o); err != nil {
				return nil, err
			}
			p.res.Reused++
			continue
		}
		uploads = append(uploads, f)
	}
	return uploads, nil
}

// sameBytes checks that the stored object o holds f's bytes.
func (p *publisher) sameBytes(ctx context.Context, f File, o objstore.Object) error {
	o, err := remoteDigest(ctx, p.st, o)
	if err != nil {
		return err
	}
	if o.Size != f.Size || o.SHA256 != f.SHA256 {
		return p.conflict(f, o.Size, o.SHA256)
	}
	return nil
}

func (p *publisher) conflict(f File, size int64, sha string) error {
	return &ConflictError{
		Path: f.Path, Local: filepath.Join(p.dir, filepath.FromSlash(f.Path)), LocalSize: f.Size, LocalSHA256: f.SHA256,
		Remote: p.url + "/" + f.Path, RemoteSize: size, RemoteSHA256: sha,
	}
}

// upload sends files, Parallel at a time. A file found already stored (a concurrent or earlier
// upload) is compared instead.
func (p *publisher) upload(ctx context.Context, files []File) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(p.opts.Parallel)
	var uploaded, reused, sent atomic.Int64
	for _, f := range files {
		g.Go(func() error {
			start := time.Now()
			stored, err := p.uploadFile(ctx, f)
			if err != nil {
				return err
			}
			if stored {
				reused.Add(1)
				return nil
			}
			uploaded.Add(1)
			sent.Add(f.Size)
			failpoint.Hit("publish-upload")
			p.opts.Logger.Debug("uploaded", "path", f.Path, "bytes", f.Size, "took", time.Since(start))
			return nil
		})
	}
	err := g.Wait()
	p.res.Uploaded += int(uploaded.Load())
	p.res.UploadedBytes += sent.Load()
	p.res.Reused += int(reused.Load())
	return err
}

// uploadFile creates the object of f from the local file; stored reports that it existed
// (with the same bytes).
func (p *publisher) uploadFile(ctx context.Context, f File) (stored bool, err error) {
	path := filepath.Join(p.dir, filepath.FromSlash(f.Path))
	fh, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return false, err
	}
	if info.Size() != f.Size {
		return false, fmt.Errorf("%s changed while it was published (%d bytes, was %d): is a writer running without the warehouse lock?", path, info.Size(), f.Size)
	}
	err = p.st.Create(ctx, f.Path, fh, f.Size, f.SHA256)
	if errors.Is(err, objstore.ErrExists) {
		return true, p.sameBytes(ctx, f, objstore.Object{Key: f.Path})
	}
	return false, err
}

// writeManifest writes the next version when the local files differ from the newest manifest's
// (or objects from an interrupted publish must be recorded as superseded), and returns the
// newest manifest.
func (p *publisher) writeManifest(ctx context.Context, stale []string) (*Manifest, error) {
	now := p.opts.Clock.Now().UTC()
	files := map[string]bool{}
	for _, f := range p.local {
		files[f.Path] = true
	}
	if p.portals != nil {
		files[p.portals.Path] = true
	}
	superseded, leftovers := p.superseded(files, stale, now)
	if p.prev != nil && leftovers == 0 && slices.Equal(p.prev.Files, p.local) && sameRef(p.prev.Portals, p.portals) {
		p.tally(p.prev)
		return p.prev, nil
	}
	m := &Manifest{
		Format: manifestFormat, FormatVersion: manifestFormatVersion, Dataset: p.target.Dataset,
		Version: p.remote.newest() + 1, Created: now, GraceSeconds: int64(p.opts.Grace / time.Second), Portals: p.portals,
		Files: p.local, Superseded: superseded, Totals: totals(p.local),
	}
	if m.Files == nil {
		m.Files = []File{}
	}
	data, err := m.Encode()
	if err != nil {
		return nil, err
	}
	err = p.st.Create(ctx, ManifestKey(m.Version), bytes.NewReader(data), int64(len(data)), digestOf(data))
	if errors.Is(err, objstore.ErrExists) {
		return nil, fmt.Errorf("%w: version %d was written by someone else; only one warehouse may publish to a location (rerun to see which)", ErrConcurrentPublish, m.Version)
	}
	if err != nil {
		return nil, err
	}
	p.opts.Logger.Info("manifest written", "url", p.url, "version", m.Version, "files", m.Totals.Files, "superseded", len(m.Superseded))
	p.res.Wrote = true
	p.tally(m)
	return m, nil
}

func (p *publisher) tally(m *Manifest) {
	p.res.Version = m.Version
	p.res.Files, p.res.Bytes, p.res.Rows = m.Totals.Files, m.Totals.Bytes, m.Totals.Rows
}

// superseded is the next manifest's list of objects on their way out: the previous list's
// entries still stored, the previous manifest's files the new one drops, the previous manifest
// itself, and uploads of an interrupted publish that are no longer local (leftovers). Entries
// keep the time they were first superseded; whatever is local again leaves the list.
func (p *publisher) superseded(files map[string]bool, stale []string, now time.Time) ([]Superseded, int) {
	var out []Superseded
	seen := map[string]bool{}
	add := func(path string, since time.Time) bool {
		if files[path] || seen[path] {
			return false
		}
		if _, stored := p.remote.objects[path]; !stored {
			return false
		}
		seen[path] = true
		out = append(out, Superseded{Path: path, Since: since})
		return true
	}
	if p.prev != nil {
		for _, s := range p.prev.Superseded {
			add(s.Path, s.Since)
		}
		for _, f := range p.prev.Files {
			add(f.Path, now)
		}
		add(ManifestKey(p.prev.Version), now)
		if p.prev.Portals != nil {
			add(p.prev.Portals.Path, now)
		}
	}
	leftovers := 0
	for _, path := range stale {
		if add(path, now) {
			leftovers++
		}
	}
	slices.SortFunc(out, func(a, b Superseded) int { return strings.Compare(a.Path, b.Path) })
	return out, leftovers
}

// updatePointer rewrites the pointer when it does not name m.
func (p *publisher) updatePointer(ctx context.Context, m *Manifest) error {
	want := Pointer{Version: m.Version, Manifest: ManifestKey(m.Version)}
	if !p.res.Wrote {
		if data, err := getAll(ctx, p.st, PointerKey, 1<<10); err == nil {
			var got Pointer
			if json.Unmarshal(data, &got) == nil && got == want {
				return nil
			}
		}
	}
	data, err := json.Marshal(want)
	if err != nil {
		return err
	}
	return p.st.Replace(ctx, PointerKey, data)
}

// collect deletes the objects m lists as superseded whose grace period is over. It never
// deletes a file m names, nor m itself.
func (p *publisher) collect(ctx context.Context, m *Manifest) error {
	now := p.opts.Clock.Now()
	named := map[string]bool{ManifestKey(m.Version): true}
	if m.Portals != nil {
		named[m.Portals.Path] = true
	}
	for _, f := range m.Files {
		named[f.Path] = true
	}
	for _, s := range m.Superseded {
		if named[s.Path] {
			continue
		}
		if _, stored := p.remote.objects[s.Path]; !stored {
			continue // deleted by an earlier publish
		}
		if now.Before(s.Since.Add(p.opts.Grace)) {
			p.res.Waiting++
			continue
		}
		if err := p.st.Delete(ctx, s.Path); err != nil {
			return err
		}
		p.res.Deleted++
	}
	p.res.Superseded = len(m.Superseded)
	return nil
}

// planPortals decides the portals the next manifest names: Options.Portals encoded, or the
// newest manifest's when the caller knows none. Their bytes are kept for upload when the object
// is not stored yet; a stored one must hold them (its key is their digest).
func (p *publisher) planPortals(ctx context.Context) error {
	if p.opts.Portals == nil {
		if p.prev != nil {
			p.portals = p.prev.Portals
		}
		return nil
	}
	data, ref, err := encodePortals(p.opts.Portals)
	if err != nil {
		return err
	}
	p.portals = &ref
	o, stored := p.remote.objects[ref.Path]
	if !stored {
		p.portalsData = data
		return nil
	}
	if o, err = remoteDigest(ctx, p.st, o); err != nil {
		return err
	}
	if o.Size != ref.Size || o.SHA256 != ref.SHA256 {
		return fmt.Errorf("%s/%s is %d bytes with sha256 %s, its name says sha256 %s: %w; delete it, the next push writes it again",
			p.url, ref.Path, o.Size, o.SHA256, ref.SHA256, ErrDamagedRemote)
	}
	return nil
}

// uploadPortals creates the portals object, when planPortals found it missing.
func (p *publisher) uploadPortals(ctx context.Context) error {
	if p.portalsData == nil {
		return nil
	}
	err := p.st.Create(ctx, p.portals.Path, bytes.NewReader(p.portalsData), p.portals.Size, p.portals.SHA256)
	if errors.Is(err, objstore.ErrExists) {
		o, derr := remoteDigest(ctx, p.st, objstore.Object{Key: p.portals.Path})
		if derr != nil {
			return derr
		}
		if o.SHA256 != p.portals.SHA256 {
			return fmt.Errorf("%s/%s: stored with sha256 %s: %w", p.url, p.portals.Path, o.SHA256, ErrDamagedRemote)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("upload portals: %w", err)
	}
	return nil
}

// sameRef reports whether two manifests name the same portals (or both none).
func sameRef(a, b *PortalsRef) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
