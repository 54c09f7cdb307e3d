package streaming

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// A folder is the second kind of location: a local copy of the container, as
//
//	azcopy copy https://ACCOUNT.blob.core.windows.net/insights-logs-advancedhunting-cloudappevents DIR --recursive
//
// leaves it (DIR/<container>/tenantId=…/y=…/…/PT1H.json), kept fresh by running the copy again,
// or written by `mcasload sim --stream-to DIR`. Each file is read like an append blob, with the
// same cursors and the same checks, but one: a file has no creation time that says whether it is
// still the file that was read. azcopy downloads to a temporary file (.azDownload-<job>-<name>,
// skipped when listing) and renames it over the old one (Azure/azure-storage-azcopy pull request
// 1348), so a refreshed file is always a new file, and its birth time would refuse every refresh.
// A file is therefore pinned by its content alone: at least the committed offset long (else
// ErrBlobShrunk) and the committed last line unchanged (else ErrBlobRewritten), which is what
// tells a refreshed copy (a longer prefix of the same blob) from a replaced one.

// azcopyTemp starts the names of the temporary files azcopy downloads to before renaming them.
const azcopyTemp = ".azDownload-"

// OpenFolder returns a Store reading the container's blobs from the folder dir/container (a
// plain path, or a file:// URL as FolderPath reads it). It checks that dir is a folder.
func OpenFolder(dir, containerName string) (*Store, error) {
	path, err := FolderPath(dir)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(path)
	switch {
	case err != nil:
		return nil, fmt.Errorf("open folder: %w", err)
	case !fi.IsDir():
		return nil, fmt.Errorf("open folder: %s is not a folder", path)
	}
	if containerName == "" {
		containerName = DefaultContainer
	}
	if strings.ContainsAny(containerName, `/\`) || containerName == "." || containerName == ".." {
		return nil, fmt.Errorf("open folder: the container name %q is not a folder name", containerName)
	}
	return &Store{dir: path, container: containerName, endpoint: FolderURL(path), redact: &redactor{}}, nil
}

// FolderPath returns the absolute path of a folder given as a plain path or a file:// URL
// (file:///srv/export, or file://localhost/srv/export).
func FolderPath(loc string) (string, error) {
	if strings.HasPrefix(strings.ToLower(loc), "file:") {
		u, err := url.Parse(loc)
		if err != nil || u.Host != "" && u.Host != "localhost" || u.RawQuery != "" || u.Path == "" {
			return "", fmt.Errorf("folder %q: want a file URL with an absolute path, e.g. file:///srv/export", loc)
		}
		loc = filepath.FromSlash(u.Path)
	}
	if loc == "" {
		return "", errors.New("folder: no path given")
	}
	return filepath.Abs(loc)
}

// FolderURL is the file:// URL of an absolute path: a folder's endpoint, in cursor keys and
// summaries.
func FolderURL(path string) string {
	return (&url.URL{Scheme: "file", Path: filepath.ToSlash(path)}).String()
}

// IsFolderLocation reports whether a location is a folder rather than a Blob service URL:
// a file:// URL, or anything that is not an http(s) URL.
func IsFolderLocation(loc string) bool {
	lower := strings.ToLower(loc)
	return !strings.HasPrefix(lower, "http://") && !strings.HasPrefix(lower, "https://")
}

// walkFolder lists the files below prefix (slash-separated, relative to the container's
// folder), descending only into time folders that meet the window, as walk does for blobs.
func (s *Store) walkFolder(ctx context.Context, prefix string, pt pathTime, w Window, out *[]Blob) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	root := filepath.Join(s.dir, s.container)
	entries, err := os.ReadDir(filepath.Join(root, filepath.FromSlash(prefix)))
	switch {
	case prefix == "" && errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("list %s: the folder does not exist: %s must hold the export's container as a folder, "+
			"as a recursive azcopy copy of the container leaves it: %w", root, s.dir, err)
	case err != nil:
		return fmt.Errorf("list %s: %w", root, err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, azcopyTemp) {
			continue // a download in progress; the finished file replaces it
		}
		if e.IsDir() {
			next, isTime := pt.next(name)
			if start, end, _ := next.span(); isTime && !w.overlaps(start, end) {
				continue
			}
			if err := s.walkFolder(ctx, prefix+name+"/", next, w, out); err != nil {
				return err
			}
			continue
		}
		// Regular files, and links to them (a link to a folder is not followed: no loops).
		fi, err := os.Stat(filepath.Join(root, filepath.FromSlash(prefix), name))
		if err != nil {
			return fmt.Errorf("list %s: %w", root, err)
		}
		if !fi.Mode().IsRegular() || !w.holds(prefix+name) {
			continue
		}
		b := Blob{Name: prefix + name, Size: fi.Size(), Type: "File"}
		b.Hour, _ = PathTime(b.Name)
		*out = append(*out, b)
	}
	return nil
}

// openFile opens a file of the folder from byte from, reading no further than its length now:
// a file that grows while it is read is read as it was when opened, its new lines left for the
// next run. A file has no creation time (see above) and no version.
func (s *Store) openFile(_ context.Context, name string, from int64, _ failFunc) (opened, error) {
	path := filepath.Join(s.dir, s.container, filepath.FromSlash(name))
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return opened{}, fmt.Errorf("resume file %s: %w", path, ErrBlobGone)
	case err != nil:
		return opened{}, fmt.Errorf("read file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return opened{}, fmt.Errorf("read file: %w", err)
	}
	size := fi.Size()
	return opened{body: fileBody{io.NewSectionReader(f, from, max(size-from, 0)), f}, size: size}, nil
}

// fileBody is a section of an open file that closes the file.
type fileBody struct {
	io.Reader
	io.Closer
}
