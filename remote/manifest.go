package remote

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Where manifests live under a dataset's prefix. The leading underscore makes Spark, Hive,
// Trino and Databricks skip the folder when they list the prefix for Parquet files.
const (
	ManifestDir = "_manifests"
	// PointerKey is the one object that is ever overwritten: {"version":N,"manifest":"…"}
	// naming the newest manifest, for readers that cannot list. It may lag the newest manifest
	// by one interrupted publish, never lead it.
	PointerKey = ManifestDir + "/latest"
)

const (
	manifestFormat        = "mcasload-manifest"
	manifestFormatVersion = 1
	// maxManifestBytes bounds what a reader downloads before decoding (about a million files).
	maxManifestBytes = 512 << 20
)

// Manifest names the complete set of files of one version of a published dataset. Manifests are
// written once (create-only) as _manifests/v<version, 9 digits>.json; the newest is the one with
// the highest version. A reader that reads only the files of one manifest sees one committed
// state of the warehouse, never a mix.
type Manifest struct {
	Format        string `json:"format"`         // "mcasload-manifest"
	FormatVersion int    `json:"format_version"` // 1
	// Dataset identifies the publishing warehouse's dataset; every manifest under a prefix has
	// the same, so two warehouses never publish into one prefix by mistake.
	Dataset string    `json:"dataset"`
	Version int64     `json:"version"` // 1, 2, …: one more than the manifest it follows
	Created time.Time `json:"created"` // the publisher's clock, UTC
	// GraceSeconds is how long a file stays after a manifest without it was written: a reader
	// that began with an older manifest has this long to finish reading its files.
	GraceSeconds int64 `json:"grace_seconds"`
	// Portals names the object holding the portal hosts of the tenants (portals.go); absent
	// in manifests written before portals were published, or by a publisher that knows none.
	Portals *PortalsRef `json:"portals,omitempty"`
	// Files are the dataset, sorted by path.
	Files []File `json:"files"`
	// Superseded are objects still stored that no longer belong to the dataset (compacted or
	// pruned files, older manifests): each is deleted no sooner than Since + GraceSeconds.
	Superseded []Superseded `json:"superseded"`
	Totals     Totals       `json:"totals"`
}

// File is one Parquet file of a dataset.
type File struct {
	// Path is relative to the dataset's root (the warehouse's parquet/ folder, or the remote
	// prefix), slash-separated: <table>/[<key>=<value>/…]<name>.parquet.
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"` // lowercase hex of the file's bytes
	Rows   int64  `json:"rows"`   // from the file's footer
	// Table is the path's first folder; Tenant and Day come from its tenant= and day=
	// folders, when it has them.
	Table  string `json:"table"`
	Tenant string `json:"tenant,omitempty"`
	Day    string `json:"day,omitempty"`
}

// Superseded is a stored object on its way out.
type Superseded struct {
	Path  string    `json:"path"`
	Since time.Time `json:"since"` // when the first manifest without it was written
}

// Totals sum a manifest's files.
type Totals struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	Rows  int64 `json:"rows"`
}

// Pointer is the content of PointerKey.
type Pointer struct {
	Version  int64  `json:"version"`
	Manifest string `json:"manifest"`
}

// ManifestKey is the object key of manifest version v.
func ManifestKey(v int64) string { return fmt.Sprintf("%s/v%09d.json", ManifestDir, v) }

var manifestKeyRE = regexp.MustCompile(`^_manifests/v(\d{9,18})\.json$`)

// parseManifestKey returns the version a manifest key names.
func parseManifestKey(key string) (int64, bool) {
	m := manifestKeyRE.FindStringSubmatch(key)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseInt(m[1], 10, 64)
	return v, err == nil && v > 0 && ManifestKey(v) == key
}

var (
	tableRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)
	dayRE   = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// ErrBadPath is wrapped when a dataset path is not one a publisher writes.
var ErrBadPath = errors.New("not a dataset file path")

// ParsePath checks a dataset path and returns the File it describes (Path, Table, Tenant, Day).
// Any table and any partition folders are accepted, so new tables and layouts publish as they are;
// names starting with "." or "_" are refused (temporary files, and folders engines skip).
func ParsePath(p string) (File, error) {
	f := File{Path: p}
	segs := strings.Split(p, "/")
	if len(segs) < 2 {
		return f, fmt.Errorf("%w: %q: want <table>/…/<name>.parquet", ErrBadPath, p)
	}
	for _, s := range segs {
		if s == "" || s == "." || s == ".." || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "_") ||
			strings.ContainsAny(s, "\\\x00") {
			return f, fmt.Errorf("%w: %q: empty, hidden or . and .. folder names", ErrBadPath, p)
		}
	}
	f.Table = segs[0]
	if !tableRE.MatchString(f.Table) {
		return f, fmt.Errorf("%w: %q: table %q is not lowercase letters, digits and _", ErrBadPath, p, f.Table)
	}
	if name := segs[len(segs)-1]; !strings.HasSuffix(name, ".parquet") || len(name) == len(".parquet") {
		return f, fmt.Errorf("%w: %q: not a .parquet file", ErrBadPath, p)
	}
	for _, s := range segs[1 : len(segs)-1] {
		k, v, ok := strings.Cut(s, "=")
		switch {
		case !ok:
		case k == "tenant":
			f.Tenant = v
		case k == "day":
			if _, err := time.Parse(time.DateOnly, v); err != nil || !dayRE.MatchString(v) {
				return f, fmt.Errorf("%w: %q: day=%s is not a date", ErrBadPath, p, v)
			}
			f.Day = v
		}
	}
	return f, nil
}

// Encode renders the manifest as JSON with one file (and one superseded object) per line, so
// that it reads in a terminal and greps line by line.
func (m *Manifest) Encode() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("{\n")
	for _, f := range []struct {
		name  string
		value any
	}{
		{"format", m.Format}, {"format_version", m.FormatVersion}, {"dataset", m.Dataset}, {"version", m.Version},
		{"created", m.Created}, {"grace_seconds", m.GraceSeconds},
	} {
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, " %q: %s,\n", f.name, v)
	}
	if m.Portals != nil {
		v, err := json.Marshal(m.Portals)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, " \"portals\": %s,\n", v)
	}
	if err := encodeList(&b, "files", m.Files); err != nil {
		return nil, err
	}
	if err := encodeList(&b, "superseded", m.Superseded); err != nil {
		return nil, err
	}
	t, err := json.Marshal(m.Totals)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&b, " \"totals\": %s\n}\n", t)
	return b.Bytes(), nil
}

// encodeList writes "name": [ … ], one compact element per line.
func encodeList[T any](b *bytes.Buffer, name string, items []T) error {
	fmt.Fprintf(b, " %q: [", name)
	for i, it := range items {
		v, err := json.Marshal(it)
		if err != nil {
			return err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("\n  ")
		b.Write(v)
	}
	if len(items) > 0 {
		b.WriteString("\n ")
	}
	b.WriteString("],\n")
	return nil
}

// DecodeManifest parses and checks a manifest: its format, version, and that its files are
// sorted, unique, well-formed and add up to its totals.
func DecodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if dec.More() {
		return nil, errors.New("decode manifest: data after the manifest")
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

func (m *Manifest) validate() error {
	if m.Format != manifestFormat || m.FormatVersion != manifestFormatVersion {
		return fmt.Errorf("manifest: format %q version %d; this mcasload reads %q version %d (a newer mcasload wrote it?)",
			m.Format, m.FormatVersion, manifestFormat, manifestFormatVersion)
	}
	if m.Version <= 0 || m.Dataset == "" || m.GraceSeconds < 0 {
		return fmt.Errorf("manifest: version %d, dataset %q, grace %ds: want a version from 1, a dataset and a grace of 0 or more",
			m.Version, m.Dataset, m.GraceSeconds)
	}
	if m.Portals != nil {
		if err := m.Portals.validate(); err != nil {
			return fmt.Errorf("manifest v%d: %w", m.Version, err)
		}
	}
	for i, f := range m.Files {
		want, err := ParsePath(f.Path)
		if err != nil {
			return fmt.Errorf("manifest v%d: %w", m.Version, err)
		}
		if f.Table != want.Table || f.Tenant != want.Tenant || f.Day != want.Day {
			return fmt.Errorf("manifest v%d: %s: table/tenant/day %q/%q/%q disagree with its path", m.Version, f.Path, f.Table, f.Tenant, f.Day)
		}
		if i > 0 && m.Files[i-1].Path >= f.Path {
			return fmt.Errorf("manifest v%d: files not sorted or repeated at %s", m.Version, f.Path)
		}
		if raw, err := hex.DecodeString(f.SHA256); err != nil || len(raw) != 32 || strings.ToLower(f.SHA256) != f.SHA256 {
			return fmt.Errorf("manifest v%d: %s: sha256 %q is not 64 lowercase hex digits", m.Version, f.Path, f.SHA256)
		}
		if f.Size < 0 || f.Rows < 0 {
			return fmt.Errorf("manifest v%d: %s: negative size or rows", m.Version, f.Path)
		}
	}
	if t := totals(m.Files); t != m.Totals {
		return fmt.Errorf("manifest v%d: totals %+v, the files add up to %+v", m.Version, m.Totals, t)
	}
	for _, s := range m.Superseded {
		if m.Portals != nil && s.Path == m.Portals.Path {
			return fmt.Errorf("manifest v%d: %s is both its portals and superseded", m.Version, s.Path)
		}
		if _, ok := parseManifestKey(s.Path); !ok && !isPortalsKey(s.Path) {
			if _, err := ParsePath(s.Path); err != nil {
				return fmt.Errorf("manifest v%d: superseded: %w", m.Version, err)
			}
		}
		if _, named := slices.BinarySearchFunc(m.Files, s.Path, func(f File, p string) int { return strings.Compare(f.Path, p) }); named {
			return fmt.Errorf("manifest v%d: %s is both a file and superseded", m.Version, s.Path)
		}
	}
	return nil
}

// totals sums files.
func totals(files []File) Totals {
	var t Totals
	for _, f := range files {
		t.Files++
		t.Bytes += f.Size
		t.Rows += f.Rows
	}
	return t
}
