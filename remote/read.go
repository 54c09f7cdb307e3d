package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/mcasload/mcasload/objstore"
)

// The errors callers branch on.
var (
	// ErrNoManifest: nothing was ever published at the location.
	ErrNoManifest = errors.New("no manifest published there")
	// ErrForeignDataset: the location holds a dataset another warehouse publishes.
	ErrForeignDataset = errors.New("the location holds another warehouse's dataset")
	// ErrRemoteBehind: the location's newest manifest is older than one this warehouse wrote
	// (manifests were deleted or the location restored from a backup).
	ErrRemoteBehind = errors.New("the remote dataset is older than what this warehouse published")
	// ErrConcurrentPublish: another publisher wrote the manifest version this one was writing.
	ErrConcurrentPublish = errors.New("another publisher wrote to the location meanwhile")
	// ErrConflict: a remote file has other bytes than the local file of the same path.
	ErrConflict = errors.New("a remote file differs from the local file of the same path")
	// ErrBadState: the warehouse's record of what it published cannot be read.
	ErrBadState = errors.New("the publish state is damaged")
	// ErrDamagedRemote: a downloaded file does not match its manifest entry.
	ErrDamagedRemote = errors.New("the remote file is damaged")
)

// ConflictError names both sides of an ErrConflict.
type ConflictError struct {
	Path        string // the dataset path
	Local       string // the local file
	LocalSize   int64
	LocalSHA256 string
	Remote      string // the remote object's URL
	RemoteSize  int64
	// RemoteSHA256 is the digest stored with the object, or computed from its bytes.
	RemoteSHA256 string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s (%d bytes, sha256 %s) differs from %s (%d bytes, sha256 %s); remote files are never overwritten",
		e.Local, e.LocalSize, e.LocalSHA256, e.Remote, e.RemoteSize, e.RemoteSHA256)
}

func (e *ConflictError) Unwrap() error { return ErrConflict }

// listing is every object under a location, by key, and the versions of its manifests.
type listing struct {
	objects  map[string]objstore.Object
	versions []int64 // ascending
}

// listAll lists the whole location.
func listAll(ctx context.Context, st objstore.Store) (*listing, error) {
	return list(ctx, st, "")
}

func list(ctx context.Context, st objstore.Store, prefix string) (*listing, error) {
	l := &listing{objects: map[string]objstore.Object{}}
	err := st.List(ctx, prefix, func(o objstore.Object) error {
		l.objects[o.Key] = o
		if v, ok := parseManifestKey(o.Key); ok {
			l.versions = append(l.versions, v)
		}
		return nil
	})
	if err != nil {
		return nil, err // the store's errors name the operation and the location
	}
	slices.Sort(l.versions)
	return l, nil
}

// newest is the highest manifest version listed, 0 if none.
func (l *listing) newest() int64 {
	if len(l.versions) == 0 {
		return 0
	}
	return l.versions[len(l.versions)-1]
}

// readManifest downloads and checks manifest version v.
func readManifest(ctx context.Context, st objstore.Store, v int64) (*Manifest, error) {
	data, err := getAll(ctx, st, ManifestKey(v), maxManifestBytes)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m, err := DecodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("read %s/%s: %w", st.Location(), ManifestKey(v), err)
	}
	if m.Version != v {
		return nil, fmt.Errorf("read %s/%s: it says version %d", st.Location(), ManifestKey(v), m.Version)
	}
	return m, nil
}

// getAll reads a whole object of at most limit bytes.
func getAll(ctx context.Context, st objstore.Store, key string, limit int64) ([]byte, error) {
	r, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s/%s is larger than %d bytes", st.Location(), key, limit)
	}
	return data, nil
}

// Latest reads the newest manifest at the location, found by listing _manifests/ (the pointer
// may lag). It returns ErrNoManifest when there is none.
func Latest(ctx context.Context, st objstore.Store) (*Manifest, error) {
	// A manifest found by the listing cannot be deleted before a newer one exists (the newest
	// never is), so a miss means a newer one appeared: list again.
	for range 3 {
		l, err := list(ctx, st, ManifestDir+"/")
		if err != nil {
			return nil, err
		}
		if l.newest() == 0 {
			return nil, fmt.Errorf("%s: %w (run mcasload push there first)", st.Location(), ErrNoManifest)
		}
		m, err := readManifest(ctx, st, l.newest())
		if errors.Is(err, objstore.ErrNotFound) {
			continue
		}
		return m, err
	}
	return nil, fmt.Errorf("%s: the newest manifest kept disappearing while read", st.Location())
}

// remoteDigest is the sha256 of a remote object: the stored one (from the listing or Stat), or
// computed from its bytes when the object carries none (written by another tool).
func remoteDigest(ctx context.Context, st objstore.Store, o objstore.Object) (objstore.Object, error) {
	if o.SHA256 != "" {
		return o, nil
	}
	o2, err := st.Stat(ctx, o.Key)
	if err != nil {
		return o, err
	}
	if o2.SHA256 != "" {
		return o2, nil
	}
	return hashObject(ctx, st, o2)
}
