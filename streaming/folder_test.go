package streaming_test

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcasload/mcasload/streaming"
)

// folderStore makes DIR/<container> and a Store reading it.
func folderStore(t *testing.T) (root string, s *streaming.Store) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, streaming.DefaultContainer)
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err := streaming.OpenFolder(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	return root, s
}

func writeFile(t testing.TB, root, name, text string) string {
	t.Helper()
	path := filepath.Join(root, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// refresh replaces a file the way azcopy does: a temporary file renamed over it.
func refresh(t testing.TB, root, name, text string) {
	t.Helper()
	tmp := writeFile(t, root, filepath.Join(filepath.Dir(name), ".azDownload-job1-"+filepath.Base(name)), text)
	if err := os.Rename(tmp, filepath.Join(root, filepath.FromSlash(name))); err != nil {
		t.Fatal(err)
	}
}

// TestFolderGrowing: a file written in pieces that cut lines anywhere, read while it grows, and
// refreshed the way azcopy refreshes a copy, yields every line once, whole, in order.
func TestFolderGrowing(t *testing.T) {
	root, s := folderStore(t)
	const name = "tenantId=t1/y=2026/m=12/d=06/h=12/m=00/PT1H.json"
	path := writeFile(t, root, name, "")
	const total = 2000
	var want []string
	var text strings.Builder
	for i := range total {
		line := fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i%97))
		want = append(want, line)
		text.WriteString(line)
		text.WriteString([]string{"\n", "\r\n"}[i%2])
	}
	all := text.String()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var wg sync.WaitGroup
	var done atomic.Bool
	var writeErr error
	half := len(all) / 2
	wg.Go(func() {
		defer done.Store(true)
		rng := rand.New(rand.NewPCG(3, 4))
		for off := 0; off < half; {
			n := min(1+rng.IntN(900), half-off)
			if _, err := f.WriteString(all[off : off+n]); err != nil {
				writeErr = err
				return
			}
			off += n
			time.Sleep(50 * time.Microsecond)
		}
	})
	r := newReader(s, streaming.ReadOptions{BatchLines: 37})
	passes := 0
	for !done.Load() {
		r.pass(t)
		passes++
	}
	wg.Wait()
	if writeErr != nil {
		t.Fatal(writeErr)
	}
	r.pass(t)
	// The rest arrives by a refresh: a new file holding the old bytes and more, renamed over
	// the old one, with a download in progress beside it that is not listed.
	refresh(t, root, name, all)
	writeFile(t, root, "tenantId=t1/y=2026/m=12/d=06/h=12/m=00/.azDownload-job2-PT1H.json", "{\"partial\"")
	r.pass(t)
	if len(r.lines) != total {
		t.Fatalf("read %d lines, want %d", len(r.lines), total)
	}
	for i := range want {
		if r.lines[i] != want[i] {
			t.Fatalf("line %d = %q, want %q", i, r.lines[i], want[i])
		}
	}
	if c := r.cursors[name]; c.Offset != int64(len(all)) || c.Lines != total || c.ETag != "" {
		t.Errorf("cursor at the end: %+v", c)
	}
	t.Logf("%d reading passes while the file grew", passes)
}

// TestFolderTampered: a file shrunk or replaced by other content under a committed cursor is a
// ResumeError naming the file; a deleted one is ErrBlobGone.
func TestFolderTampered(t *testing.T) {
	const name = "tenantId=t/y=2026/m=12/d=06/h=02/m=00/PT1H.json"
	const orig = "{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n"
	tests := []struct {
		name    string
		content string
		want    error
	}{
		{"shrunk", "{\"i\":0}\n", streaming.ErrBlobShrunk},
		{"shrunk into the last line", "{\"i\":0}\n{\"i\":1}\n{\"i", streaming.ErrBlobShrunk},
		{"replaced, same length", "{\"i\":0}\n{\"i\":1}\n{\"i\":9}\n", streaming.ErrBlobRewritten},
		{"replaced, longer", "{\"j\":0}\n{\"j\":1}\n{\"j\":2}\n{\"j\":3}\n", streaming.ErrBlobRewritten},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root, s := folderStore(t)
			writeFile(t, root, name, orig)
			r := newReader(s, streaming.ReadOptions{BatchLines: 2})
			r.pass(t)
			refresh(t, root, name, tt.content)
			blobs, err := s.List(t.Context(), streaming.Window{})
			if err != nil || len(blobs) != 1 {
				t.Fatalf("list: %v %v", blobs, err)
			}
			_, err = s.Resume(t.Context(), blobs[0], r.cursors[name], streaming.ReadOptions{})
			var re *streaming.ResumeError
			if !errors.Is(err, tt.want) || !errors.As(err, &re) || re.Blob != name {
				t.Fatalf("err %v, want a ResumeError for %v", err, tt.want)
			}
			if msg := err.Error(); !strings.Contains(msg, "nothing was read from it") || !strings.Contains(msg, filepath.Join(filepath.Dir(root), streaming.DefaultContainer)) {
				t.Errorf("message %q does not name the folder and say what happened", msg)
			}
		})
	}
	t.Run("deleted", func(t *testing.T) {
		root, s := folderStore(t)
		path := writeFile(t, root, name, orig)
		blobs, _ := s.List(t.Context(), streaming.Window{})
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Resume(t.Context(), blobs[0], streaming.Cursor{}, streaming.ReadOptions{}); !errors.Is(err, streaming.ErrBlobGone) {
			t.Errorf("deleted file: %v, want ErrBlobGone", err)
		}
	})
}

// TestFolderList: files come by the hour their paths name, then by name, files without one
// last; a window skips whole folders; a missing container folder says what to copy there.
func TestFolderList(t *testing.T) {
	root, s := folderStore(t)
	for _, n := range []string{
		"tenantId=b/y=2026/m=12/d=06/h=10/m=00/PT1H.json",
		"notes/readme.json",
		"tenantId=a/y=2026/m=12/d=06/h=10/m=00/PT1H.json",
		"tenantId=a/y=2025/m=01/d=31/h=23/m=00/PT1H.json",
		"tenantId=a/y=2026/m=12/d=07/h=00/m=00/PT1H.json",
	} {
		writeFile(t, root, n, "{}\n")
	}
	if err := os.MkdirAll(filepath.Join(root, "tenantId=a/y=2026/m=12/d=08"), 0o755); err != nil {
		t.Fatal(err)
	}
	names := func(w streaming.Window) string {
		t.Helper()
		blobs, err := s.List(t.Context(), w)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, b := range blobs {
			out = append(out, b.Name)
		}
		return strings.Join(out, " ")
	}
	if got, want := names(streaming.Window{}), "tenantId=a/y=2025/m=01/d=31/h=23/m=00/PT1H.json tenantId=a/y=2026/m=12/d=06/h=10/m=00/PT1H.json "+
		"tenantId=b/y=2026/m=12/d=06/h=10/m=00/PT1H.json tenantId=a/y=2026/m=12/d=07/h=00/m=00/PT1H.json notes/readme.json"; got != want {
		t.Errorf("order:\n got %s\nwant %s", got, want)
	}
	if got, want := names(streaming.Window{Since: hourUTC("2026-12-06T11:00:00Z")}), "tenantId=a/y=2026/m=12/d=07/h=00/m=00/PT1H.json notes/readme.json"; got != want {
		t.Errorf("window:\n got %s\nwant %s", got, want)
	}
	if s.Endpoint() != streaming.FolderURL(filepath.Dir(root)) || !strings.HasPrefix(s.Endpoint(), "file:///") {
		t.Errorf("endpoint %s", s.Endpoint())
	}

	other, err := streaming.OpenFolder(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.List(t.Context(), streaming.Window{}); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "azcopy copy of the container") {
		t.Errorf("missing container folder: %v", err)
	}
}

func hourUTC(s string) time.Time {
	h, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return h
}

func TestFolderPath(t *testing.T) {
	abs, err := filepath.Abs("rel/dir")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, want string
		bad      bool
	}{
		{in: "/srv/export", want: "/srv/export"},
		{in: "rel/dir", want: abs},
		{in: "file:///srv/export", want: "/srv/export"},
		{in: "FILE://localhost/srv/a%20b", want: "/srv/a b"},
		{in: "file://otherhost/srv", bad: true},
		{in: "file:///srv?x=1", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		got, err := streaming.FolderPath(tt.in)
		if (err != nil) != tt.bad || !tt.bad && got != filepath.FromSlash(tt.want) {
			t.Errorf("FolderPath(%q) = %q, %v", tt.in, got, err)
		}
	}
	if _, err := streaming.OpenFolder(filepath.Join(t.TempDir(), "none"), ""); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenFolder of a missing folder: %v", err)
	}
}
