// Package testkit holds the helpers that tests in several packages share, so each exists once:
// a buffer safe to read while goroutines or processes write it, golden files rewritten with
// -update, file copies and listings, and running the real binary. The exactly-once check of the
// warehouse's two sinks is in the sub-package sinks (it imports warehouse, which this package
// must not: warehouse's own tests import it).
//
// Only _test.go files import testkit; it is never linked into the product.
package testkit

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// Buffer is a bytes.Buffer safe to read while goroutines or a child process write it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// update is the -update flag of every test binary that imports testkit.
var update = flag.Bool("update", false, "rewrite golden files instead of comparing with them")

// Updating reports whether the test run was asked to rewrite golden files (-update).
func Updating() bool { return *update }

// Golden compares got with the golden file at path or, with -update, writes got there (creating
// its folder). A difference fails the test with the first differing line and how to refresh.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date: %s; run the test with -update and review the diff", path, firstDiff(got, want))
	}
}

// firstDiff describes the first line where got and want differ.
func firstDiff(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := range max(len(g), len(w)) {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if i >= len(g) || i >= len(w) || !bytes.Equal(gl, wl) {
			return fmt.Sprintf("line %d is %q, want %q (%d lines, want %d)", i+1, gl, wl, len(g), len(w))
		}
	}
	return "they differ"
}

// CopyFile copies from to a new file to (it must not exist yet).
func CopyFile(t testing.TB, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// Files lists every regular file below root, as sorted paths relative to root; none when root
// does not exist.
func Files(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == root && os.IsNotExist(err) {
				return filepath.SkipDir
			}
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(root, p)
			if err != nil {
				return err
			}
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", root, err)
	}
	slices.Sort(out)
	return out
}

// IDsExactlyOnce fails the test unless got (ids as a client or store delivered them) holds every
// id of want exactly once and nothing else.
func IDsExactlyOnce(t testing.TB, got []string, want map[string]bool) {
	t.Helper()
	seen := make(map[string]int, len(got))
	for _, id := range got {
		seen[id]++
	}
	var dup, extra, missing []string
	for id, n := range seen {
		if n > 1 {
			dup = append(dup, id)
		}
		if !want[id] {
			extra = append(extra, id)
		}
	}
	for id := range want {
		if seen[id] == 0 {
			missing = append(missing, id)
		}
	}
	if len(dup)+len(extra)+len(missing) > 0 {
		slices.Sort(dup)
		slices.Sort(extra)
		slices.Sort(missing)
		t.Fatalf("got %d ids for %d expected: %d duplicated %.3v, %d unexpected %.3v, %d missing %.3v",
			len(got), len(want), len(dup), dup, len(extra), extra, len(missing), missing)
	}
}

// CheckModes fails the test for every folder below dir (and dir) whose mode is not 0700 and every
// file whose mode is not 0600: what the warehouse writes is readable by its owner only. It
// returns how many entries it checked and how many had a wrong mode.
func CheckModes(t testing.TB, dir string) (checked, wrong int) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		checked++
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			wrong++
			t.Errorf("%s has mode %v, want %v", p, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return checked, wrong
}

// FilesHolding lists the files below dir whose content holds any of needles (empty ones are
// skipped), each with the start of the needle it holds: the secrets tests grep a warehouse with it.
func FilesHolding(t testing.TB, dir string, needles ...string) []string {
	t.Helper()
	var hits []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, s := range needles {
			if s != "" && bytes.Contains(data, []byte(s)) {
				hits = append(hits, fmt.Sprintf("%s (holds %.12s…)", p, s))
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk %s: %v", dir, err)
	}
	return hits
}

// Untar extracts the gzipped tar archive at path (a testdata fixture) into dst, keeping the
// modes it records, and returns dst. Only plain files and folders are accepted, and no entry may
// leave dst.
func Untar(t testing.TB, path, dst string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("untar %s: %v", path, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return dst
		}
		if err != nil {
			t.Fatalf("untar %s: %v", path, err)
		}
		to := filepath.Join(dst, filepath.FromSlash(h.Name))
		if rel, err := filepath.Rel(dst, to); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			t.Fatalf("untar %s: entry %q leaves the folder", path, h.Name)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(to, fs.FileMode(h.Mode).Perm()|0o700)
		case tar.TypeReg:
			var out *os.File
			if err = os.MkdirAll(filepath.Dir(to), 0o700); err == nil {
				out, err = os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, fs.FileMode(h.Mode).Perm())
			}
			if err == nil {
				_, err = io.Copy(out, tr)
				err = errors.Join(err, out.Close())
			}
		default:
			err = fmt.Errorf("entry %q is neither a file nor a folder", h.Name)
		}
		if err != nil {
			t.Fatalf("untar %s: %v", path, err)
		}
	}
}
