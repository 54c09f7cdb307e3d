package remote

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
)

// Portal hosts travel with the dataset: investigations link each activity to the portal of the
// tenant it was scanned from, which only the warehouse's scan records (in its DuckDB file) know.
// A publish writes them to a small JSON object named by its sha256 under _manifests/ (so it is
// written once, never changed, like every file of the dataset), and each manifest names the one
// of its version; sync stores it in the copy as CopyPortalsFile, next to the version's files.

// CopyPortalsFile is where a synced copy keeps its version's portals, inside DatasetDir (so the
// atomic exchange of versions swaps it with the files; the "_" keeps engines and the dataset
// listing off it).
const CopyPortalsFile = "_portals.json"

const (
	portalsFormat        = "mcasload-portals"
	portalsFormatVersion = 1
	maxPortalsBytes      = 16 << 20
)

var portalsKeyRE = regexp.MustCompile(`^_manifests/portals-([0-9a-f]{64})\.json$`)

// portalsKey is the object key of a portals document with digest sha.
func portalsKey(sha string) string { return ManifestDir + "/portals-" + sha + ".json" }

// PortalsRef is a manifest's reference to its portals object.
type PortalsRef struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Portals is the content of a portals object: per tenant label ("" in a warehouse without
// labels), the URLs its scans name (loader.CanonicalURL), sorted. A tenant loaded only from
// files is absent.
type Portals struct {
	Format        string              `json:"format"`
	FormatVersion int                 `json:"format_version"`
	Tenants       map[string][]string `json:"tenants"`
}

// encodePortals renders tenants (URLs per label) canonically: sorted labels and URLs, so the
// same hosts always give the same bytes, and so the same object key.
func encodePortals(tenants map[string][]string) ([]byte, PortalsRef, error) {
	p := Portals{Format: portalsFormat, FormatVersion: portalsFormatVersion, Tenants: map[string][]string{}}
	for label, urls := range tenants {
		if len(urls) == 0 {
			continue
		}
		u := slices.Clone(urls)
		slices.Sort(u)
		p.Tenants[label] = slices.Compact(u)
	}
	data, err := json.Marshal(p) // map keys come out sorted
	if err != nil {
		return nil, PortalsRef{}, fmt.Errorf("encode portals: %w", err)
	}
	data = append(data, '\n')
	sha := digestOf(data)
	return data, PortalsRef{Path: portalsKey(sha), Size: int64(len(data)), SHA256: sha}, nil
}

// DecodePortals parses and checks a portals document.
func DecodePortals(data []byte) (*Portals, error) {
	var p Portals
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("decode portals: %w", err)
	}
	if p.Format != portalsFormat || p.FormatVersion != portalsFormatVersion {
		return nil, fmt.Errorf("portals: format %q version %d; this mcasload reads %q version %d (a newer mcasload wrote it?)",
			p.Format, p.FormatVersion, portalsFormat, portalsFormatVersion)
	}
	if p.Tenants == nil {
		p.Tenants = map[string][]string{}
	}
	return &p, nil
}

// validate checks a manifest's reference: a key named by the digest it carries.
func (r *PortalsRef) validate() error {
	m := portalsKeyRE.FindStringSubmatch(r.Path)
	if m == nil || m[1] != r.SHA256 {
		return fmt.Errorf("portals %q (sha256 %q): want %s", r.Path, r.SHA256, portalsKey("<sha256 of its bytes>"))
	}
	if raw, err := hex.DecodeString(r.SHA256); err != nil || len(raw) != 32 || r.Size <= 0 || r.Size > maxPortalsBytes {
		return fmt.Errorf("portals %s: size %d: want 1 to %d bytes", r.Path, r.Size, maxPortalsBytes)
	}
	return nil
}

// isPortalsKey reports whether key names a portals object.
func isPortalsKey(key string) bool { return portalsKeyRE.MatchString(key) }

// LoadCopyPortals reads the portals a synced copy dir holds: ok is false when it holds none
// (not a copy, or a copy of a dataset published before portals were).
func LoadCopyPortals(dir string) (p *Portals, ok bool, err error) {
	path := filepath.Join(dir, DatasetDir, CopyPortalsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read portals: %w", err)
	}
	if p, err = DecodePortals(data); err != nil {
		return nil, false, fmt.Errorf("read %s: %w (rerun mcasload sync to fetch it again)", path, err)
	}
	return p, true, nil
}
