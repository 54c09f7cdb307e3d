package warehouse

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mcasload/mcasload/tenant"
)

// partition is one folder of a dataset: one tenant's UTC day.
type partition struct{ tenant, day string }

func (p partition) String() string { return p.tenant + "/" + p.day }

// partFile is a published Parquet file of one partition. Its name records the range of commit
// sequence numbers whose rows it holds: a commit publishes part-S-S; compaction merges a run of
// files into part-FROM-TO. The names make publishing idempotent (a republished commit gets the
// same name) and let reconciliation delete parts a compacted file already covers.
type partFile struct {
	partition
	from, to int64
	path     string
	size     int64
	// legacy: the file lies where mcasload wrote it before tenants, <root>/day=…/ (its tenant is
	// the warehouse's upgrade label); Writer.migrateLayout moves it under tenant=<label>/.
	legacy bool
}

var partRE = regexp.MustCompile(`^part-([0-9]+)-([0-9]+)\.parquet$`)

func partName(from, to int64) string { return fmt.Sprintf("part-%012d-%012d.parquet", from, to) }

// Folder name prefixes of the Hive layout.
const (
	tenantPrefix = "tenant="
	dayPrefix    = "day="
)

// partDir is the folder of one partition of dataset t.
func (w *Writer) partDir(t *whTable, p partition) string {
	return filepath.Join(w.dir, t.parquetDir, tenantPrefix+p.tenant, dayPrefix+p.day)
}

func (p partFile) covers(seq int64) bool { return p.from <= seq && seq <= p.to }

// listParts lists the published files under root (a dataset folder) in both layouts:
// tenant=<label>/day=<day>/ and, from before tenants, day=<day>/ (labelled legacyTenant), sorted
// by tenant, day and range. Temporary files and unknown names are returned separately.
func listParts(root, legacyTenant string) (parts []partFile, temps, unknown []string, err error) {
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("list parquet folders: %w", err)
	}
	add := func(dir string, p partition, legacy bool) error {
		files, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("list parquet folder %s: %w", dir, err)
		}
		for _, f := range files {
			path := filepath.Join(dir, f.Name())
			if strings.HasSuffix(f.Name(), ".tmp") {
				temps = append(temps, path)
				continue
			}
			m := partRE.FindStringSubmatch(f.Name())
			if m == nil || f.IsDir() {
				unknown = append(unknown, path)
				continue
			}
			from, _ := strconv.ParseInt(m[1], 10, 64)
			to, _ := strconv.ParseInt(m[2], 10, 64)
			info, err := f.Info()
			if err != nil {
				return fmt.Errorf("stat %s: %w", path, err)
			}
			parts = append(parts, partFile{partition: p, from: from, to: to, path: path, size: info.Size(), legacy: legacy})
		}
		return nil
	}
	for _, e := range entries {
		path := filepath.Join(root, e.Name())
		if day, ok := strings.CutPrefix(e.Name(), dayPrefix); ok && e.IsDir() {
			if err := add(path, partition{legacyTenant, day}, true); err != nil {
				return nil, nil, nil, err
			}
			continue
		}
		label, ok := strings.CutPrefix(e.Name(), tenantPrefix)
		if !ok || !e.IsDir() || !tenant.Valid(label) {
			unknown = append(unknown, path)
			continue
		}
		days, err := os.ReadDir(path)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("list parquet folder %s: %w", path, err)
		}
		for _, d := range days {
			day, ok := strings.CutPrefix(d.Name(), dayPrefix)
			if !ok || !d.IsDir() {
				unknown = append(unknown, filepath.Join(path, d.Name()))
				continue
			}
			if err := add(filepath.Join(path, d.Name()), partition{label, day}, false); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	slices.SortFunc(parts, func(a, b partFile) int {
		if c := strings.Compare(a.tenant, b.tenant); c != 0 {
			return c
		}
		if c := strings.Compare(a.day, b.day); c != 0 {
			return c
		}
		if a.from != b.from {
			return int(a.from - b.from)
		}
		if a.to != b.to {
			return int(b.to - a.to)
		}
		return strings.Compare(a.path, b.path)
	})
	return parts, temps, unknown, nil
}

// datasetLayout is what a Parquet dataset folder holds, as readers need it: the tenant folders
// and whether day folders from before tenants lie at its top.
type datasetLayout struct {
	root    string
	tenants []string // labels of tenant=<label>/ folders holding at least one day folder, sorted
	legacy  bool     // day=…/ folders at the top (written before tenants)
	// handedOver is the label of a single tenant's folder given as the dataset itself
	// (…/tenant=<label>, holding day=…/ folders): its rows are that tenant's.
	handedOver string
}

// readLayout reads the layout of the dataset folder root.
func readLayout(root string) (datasetLayout, error) {
	l := datasetLayout{root: root}
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("list parquet folders: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if strings.HasPrefix(e.Name(), dayPrefix) {
			l.legacy = true
			continue
		}
		label, ok := strings.CutPrefix(e.Name(), tenantPrefix)
		if !ok || !tenant.Valid(label) {
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(root, e.Name(), dayPrefix+"*")); len(m) > 0 {
			l.tenants = append(l.tenants, label)
		}
	}
	if label, ok := strings.CutPrefix(filepath.Base(root), tenantPrefix); ok && tenant.Valid(label) && l.legacy && len(l.tenants) == 0 {
		l.handedOver, l.legacy = label, false
	}
	slices.Sort(l.tenants)
	return l, nil
}

// legacyLabelOf is the label of the day=… folders at the top of a dataset read without its DuckDB
// file: the one tenant folder beside them (a move into the tenant layout that was interrupted:
// migrateLayout creates the folder first), else tenant.Default.
func (l datasetLayout) legacyLabelOf() string {
	if len(l.tenants) == 1 {
		return l.tenants[0]
	}
	return tenant.Default
}

// labels are the tenants the dataset holds, sorted.
func (l datasetLayout) labels(legacyTenant string) []string {
	out := slices.Clone(l.tenants)
	if l.handedOver != "" {
		out = append(out, l.handedOver)
	}
	if l.legacy && !slices.Contains(out, legacyTenant) {
		out = append(out, legacyTenant)
	}
	slices.Sort(out)
	return out
}
