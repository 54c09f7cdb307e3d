package remote

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/objstore"
)

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Deep downloads every remote file and hashes its bytes, instead of trusting the digest
	// stored with it.
	Deep bool
	// Copy: dir is a synced copy's, which must also hold the manifest's portals.
	Copy  bool
	Clock clock.Clock
}

// Report is what Verify found. Problems are differences that make the two sides disagree;
// Notes are states that are expected now and then (a lagging pointer, files in their grace
// period, objects another tool wrote under the prefix).
type Report struct {
	URL      string
	Version  int64
	Totals   Totals
	Problems []string
	Notes    []string
}

// OK reports whether local and remote agree.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Verify compares the local dataset under dir (a warehouse's or a synced copy's parquet/ folder)
// with the newest manifest at st and with the objects stored there: every file of the manifest
// stored with its size and digest, and the same files locally (hashed now, not from a cache).
func Verify(ctx context.Context, st objstore.Store, dir string, opts VerifyOptions) (*Report, error) {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	rep := &Report{URL: st.Location().String()}
	remote, err := listAll(ctx, st)
	if err != nil {
		return nil, err
	}
	if remote.newest() == 0 {
		return nil, fmt.Errorf("verify %s: %w", rep.URL, ErrNoManifest)
	}
	m, err := readManifest(ctx, st, remote.newest())
	if err != nil {
		return nil, err
	}
	rep.Version, rep.Totals = m.Version, m.Totals
	rep.checkPointer(ctx, st, m)
	if err := rep.checkRemoteFiles(ctx, st, m, remote, opts.Deep); err != nil {
		return nil, err
	}
	if err := rep.checkRemotePortals(ctx, st, m, remote, opts.Deep); err != nil {
		return nil, err
	}
	local, err := localFiles(ctx, dir, nil)
	if err != nil {
		return nil, err
	}
	// A warehouse that keeps compaction local (or a copy of such a dataset) holds merged files
	// where the manifest names the smaller files they replaced: compared by the commits and
	// rows each side covers.
	view := publishedView(local, m, nil)
	if merged := len(local) - countIn(local, view); merged > 0 {
		rep.note("%d local compacted files are published as the smaller files they merged (compaction kept local; compared by commits and rows)", merged)
	}
	rep.compareLocal(m, view, dir)
	if opts.Copy {
		rep.comparePortals(m, dir)
	}
	rep.noteLeftovers(m, remote, opts.Clock.Now())
	return rep, nil
}

func (r *Report) problem(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

func (r *Report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func (r *Report) checkPointer(ctx context.Context, st objstore.Store, m *Manifest) {
	data, err := getAll(ctx, st, PointerKey, 1<<10)
	var p Pointer
	switch {
	case err != nil:
		r.note("the pointer %s cannot be read (%v); readers that list %s/ are not affected, the next push rewrites it", PointerKey, err, ManifestDir)
	case json.Unmarshal(data, &p) != nil || p.Version != m.Version:
		r.note("the pointer %s names version %d, the newest manifest is %d (an interrupted push; the next push rewrites it)", PointerKey, p.Version, m.Version)
	}
}

// checkRemoteFiles checks that every file of m is stored with its size and digest.
func (r *Report) checkRemoteFiles(ctx context.Context, st objstore.Store, m *Manifest, remote *listing, deep bool) error {
	for _, f := range m.Files {
		o, stored := remote.objects[f.Path]
		if !stored {
			r.problem("remote: %s is in manifest v%d but not stored (the next push uploads it again)", f.Path, m.Version)
			continue
		}
		var err error
		if deep {
			o, err = hashObject(ctx, st, o)
		} else {
			o, err = remoteDigest(ctx, st, o)
		}
		if err != nil {
			return fmt.Errorf("verify %s/%s: %w", r.URL, f.Path, err)
		}
		if o.Size != f.Size || o.SHA256 != f.SHA256 {
			r.problem("remote: %s is %d bytes with sha256 %s, manifest v%d says %d bytes with sha256 %s",
				f.Path, o.Size, o.SHA256, m.Version, f.Size, f.SHA256)
		}
	}
	return nil
}

// checkRemotePortals checks that m's portals object is stored with its size and digest.
func (r *Report) checkRemotePortals(ctx context.Context, st objstore.Store, m *Manifest, remote *listing, deep bool) error {
	if m.Portals == nil {
		return nil
	}
	return r.checkRemoteFiles(ctx, st, &Manifest{Version: m.Version, Files: []File{{Path: m.Portals.Path, Size: m.Portals.Size, SHA256: m.Portals.SHA256}}}, remote, deep)
}

// comparePortals compares a copy's portals with m's.
func (r *Report) comparePortals(m *Manifest, dir string) {
	path := filepath.Join(dir, CopyPortalsFile)
	sum, err := hashFile(path)
	switch {
	case m.Portals == nil && err == nil:
		r.problem("local: %s is not in manifest v%d", path, m.Version)
	case m.Portals == nil:
	case err != nil:
		r.problem("local: the portals of manifest v%d are missing (%s): rerun mcasload sync", m.Version, path)
	case sum != m.Portals.SHA256:
		r.problem("local: %s has sha256 %s, manifest v%d names %s: rerun mcasload sync", path, sum, m.Version, m.Portals.Path)
	}
}

// hashObject downloads an object and hashes its bytes.
func hashObject(ctx context.Context, st objstore.Store, o objstore.Object) (objstore.Object, error) {
	rd, err := st.Get(ctx, o.Key)
	if err != nil {
		return o, err
	}
	defer rd.Close()
	h := sha256.New()
	n, err := io.Copy(h, rd)
	if err != nil {
		return o, err
	}
	o.Size, o.SHA256 = n, hex.EncodeToString(h.Sum(nil))
	return o, nil
}

// compareLocal compares the local files with m's.
func (r *Report) compareLocal(m *Manifest, local []File, dir string) {
	want := map[string]File{}
	for _, f := range m.Files {
		want[f.Path] = f
	}
	for _, f := range local {
		w, ok := want[f.Path]
		switch {
		case !ok:
			r.problem("local: %s is not in manifest v%d (not pushed yet?)", f.Path, m.Version)
		case w.Size != f.Size || w.SHA256 != f.SHA256:
			r.problem("local: %s is %d bytes with sha256 %s, manifest v%d says %d bytes with sha256 %s",
				f.Path, f.Size, f.SHA256, m.Version, w.Size, w.SHA256)
		}
		delete(want, f.Path)
	}
	for _, f := range m.Files {
		if _, missing := want[f.Path]; missing {
			r.problem("local: %s of manifest v%d is missing under %s", f.Path, m.Version, dir)
		}
	}
}

// noteLeftovers notes superseded objects still stored and objects mcasload did not write.
func (r *Report) noteLeftovers(m *Manifest, remote *listing, now time.Time) {
	known := map[string]bool{PointerKey: true}
	if m.Portals != nil {
		known[m.Portals.Path] = true
	}
	for _, f := range m.Files {
		known[f.Path] = true
	}
	waiting, due := 0, 0
	for _, s := range m.Superseded {
		known[s.Path] = true
		if _, stored := remote.objects[s.Path]; !stored {
			continue
		}
		if now.Before(s.Since.Add(time.Duration(m.GraceSeconds) * time.Second)) {
			waiting++
		} else {
			due++
		}
	}
	if waiting > 0 {
		r.note("%d superseded objects are in their grace period of %s (deleted by a later push)", waiting, time.Duration(m.GraceSeconds)*time.Second)
	}
	if due > 0 {
		r.note("%d superseded objects are past their grace period (the next push deletes them)", due)
	}
	var foreign []string
	for key := range remote.objects {
		if _, isManifest := parseManifestKey(key); !known[key] && !isManifest {
			foreign = append(foreign, key)
		}
	}
	slices.Sort(foreign)
	if len(foreign) > 0 {
		r.note("%d objects under the prefix are neither files of the dataset nor superseded (written by another tool, or by a push interrupted before its manifest); push never deletes what it did not upload: %v",
			len(foreign), firstFew(foreign))
	}
}

func firstFew(keys []string) []string {
	if len(keys) > 5 {
		return append(keys[:5:5], "…")
	}
	return keys
}

// countIn counts the files of a whose paths are in b.
func countIn(a, b []File) int {
	in := map[string]bool{}
	for _, f := range b {
		in[f.Path] = true
	}
	n := 0
	for _, f := range a {
		if in[f.Path] {
			n++
		}
	}
	return n
}
