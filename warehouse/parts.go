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
)

// partFile is a published Parquet file of one day. Its name records the range of commit
// sequence numbers whose rows it holds: a commit publishes part-S-S; compaction merges a run of
// files into part-FROM-TO. The names make publishing idempotent (a republished commit gets the
// same name) and let reconciliation delete parts a compacted file already covers.
type partFile struct {
	day      string
	from, to int64
	path     string
	size     int64
}

var partRE = regexp.MustCompile(`^part-([0-9]+)-([0-9]+)\.parquet$`)

func partName(from, to int64) string { return fmt.Sprintf("part-%012d-%012d.parquet", from, to) }

func (w *Writer) dayDir(day string) string {
	return filepath.Join(w.dir, ParquetDir, "day="+day)
}

func (p partFile) covers(seq int64) bool { return p.from <= seq && seq <= p.to }

// listParts lists the published files of every day (or only of days, when given), sorted by
// day and range. Temporary files and unknown names are returned separately.
func listParts(root string) (parts []partFile, temps, unknown []string, err error) {
	days, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("list parquet days: %w", err)
	}
	for _, d := range days {
		day, ok := strings.CutPrefix(d.Name(), "day=")
		if !d.IsDir() || !ok {
			unknown = append(unknown, filepath.Join(root, d.Name()))
			continue
		}
		dir := filepath.Join(root, d.Name())
		files, err := os.ReadDir(dir)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("list parquet day %s: %w", day, err)
		}
		for _, f := range files {
			path := filepath.Join(dir, f.Name())
			if strings.HasSuffix(f.Name(), ".tmp") {
				temps = append(temps, path)
				continue
			}
			m := partRE.FindStringSubmatch(f.Name())
			if m == nil {
				unknown = append(unknown, path)
				continue
			}
			from, _ := strconv.ParseInt(m[1], 10, 64)
			to, _ := strconv.ParseInt(m[2], 10, 64)
			info, err := f.Info()
			if err != nil {
				return nil, nil, nil, fmt.Errorf("stat %s: %w", path, err)
			}
			parts = append(parts, partFile{day: day, from: from, to: to, path: path, size: info.Size()})
		}
	}
	slices.SortFunc(parts, func(a, b partFile) int {
		if c := strings.Compare(a.day, b.day); c != 0 {
			return c
		}
		if a.from != b.from {
			return int(a.from - b.from)
		}
		return int(b.to - a.to)
	})
	return parts, temps, unknown, nil
}
