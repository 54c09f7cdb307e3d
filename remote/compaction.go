package remote

import (
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/mcasload/mcasload/objstore"
)

// partRE matches the warehouse's Parquet file names: part-<first commit>-<last commit>.parquet.
// A compaction merges a partition's files into one whose range spans theirs.
var partRE = regexp.MustCompile(`^part-(\d+)-(\d+)\.parquet$`)

// commitRange returns the commits a file's name says it covers.
func commitRange(p string) (from, to int64, ok bool) {
	m := partRE.FindStringSubmatch(path.Base(p))
	if m == nil {
		return 0, 0, false
	}
	from, err1 := strconv.ParseInt(m[1], 10, 64)
	to, err2 := strconv.ParseInt(m[2], 10, 64)
	return from, to, err1 == nil && err2 == nil && from <= to
}

// publishedView is the dataset as published when compaction is kept local: each local file
// that merges files m already names (a compaction since m was written) is replaced by those
// files, provided they are all still stored and hold exactly its rows. Files of m in the same
// folder whose commit ranges lie within the merged file's cover a subset of its commits, each
// commit's rows of a partition being in one file; equal row counts therefore mean the same
// commits, so the same rows. A merged file they do not fully cover (its commits were never
// published as small files) stays, and publishing it supersedes them as usual.
func publishedView(local []File, m *Manifest, stored map[string]objstore.Object) []File {
	isLocal := map[string]bool{}
	for _, f := range local {
		isLocal[f.Path] = true
	}
	byDir := map[string][]File{}
	for _, f := range m.Files {
		if !isLocal[f.Path] {
			byDir[path.Dir(f.Path)] = append(byDir[path.Dir(f.Path)], f)
		}
	}
	var out []File
	for _, f := range local {
		small := coveredBy(f, byDir[path.Dir(f.Path)], stored)
		if small == nil {
			out = append(out, f)
			continue
		}
		out = append(out, small...)
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return slices.CompactFunc(out, func(a, b File) bool { return a.Path == b.Path })
}

// coveredBy returns the files among candidates (one folder's files of a manifest, not local)
// that together hold exactly f's rows, or nil.
func coveredBy(f File, candidates []File, stored map[string]objstore.Object) []File {
	from, to, ok := commitRange(f.Path)
	if !ok || len(candidates) == 0 {
		return nil
	}
	var in []File
	var rows int64
	for _, c := range candidates {
		cf, ct, ok := commitRange(c.Path)
		if !ok || cf < from || ct > to {
			continue
		}
		if _, ok := stored[c.Path]; stored != nil && !ok {
			return nil
		}
		in = append(in, c)
		rows += c.Rows
	}
	if len(in) == 0 || rows != f.Rows {
		return nil
	}
	return in
}
