package xdrstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	azstreaming "github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/appendblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// sink is where a Writer's blobs go: a container of append blobs, or a folder of files that
// grow the same way (a local copy of the container, as the stream command also reads).
type sink interface {
	// location names the container (a URL without credentials) or the folder.
	location() string
	// prepare makes the container or folder and returns the length of every blob it holds.
	prepare(ctx context.Context) (map[string]int64, error)
	// create makes an empty blob that must not exist yet.
	create(ctx context.Context, name string) error
	// append writes data at byte pos, the blob's length, and fails when the blob has another
	// length (a second writer); it returns how many appends the blob has taken, 0 if unknown.
	append(ctx context.Context, name string, pos int64, data []byte) (int32, error)
}

// containerSink appends to append blobs with an append-position condition.
type containerSink struct{ cc *container.Client }

func (s containerSink) location() string { return withoutQuery(s.cc.URL()) }

func (s containerSink) prepare(ctx context.Context) (map[string]int64, error) {
	_, err := s.cc.Create(ctx, nil)
	if err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return nil, storageErr("create container "+s.location(), err)
	}
	existed := map[string]int64{}
	pager := s.cc.NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, storageErr("list container "+s.location(), err)
		}
		for _, b := range page.Segment.BlobItems {
			if b.Name != nil && b.Properties != nil && b.Properties.ContentLength != nil {
				existed[*b.Name] = *b.Properties.ContentLength
			}
		}
	}
	return existed, nil
}

func (s containerSink) create(ctx context.Context, name string) error {
	_, err := s.cc.NewAppendBlobClient(name).Create(ctx, &appendblob.CreateOptions{AccessConditions: &blob.AccessConditions{
		ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: ptr(azcore.ETagAny)}}})
	if err != nil {
		return storageErr("create append blob "+name, err)
	}
	return nil
}

func (s containerSink) append(ctx context.Context, name string, pos int64, data []byte) (int32, error) {
	resp, err := s.cc.NewAppendBlobClient(name).AppendBlock(ctx, azstreaming.NopCloser(bytes.NewReader(data)), &appendblob.AppendBlockOptions{
		AppendPositionAccessConditions: &appendblob.AppendPositionAccessConditions{AppendPosition: &pos}})
	if err != nil {
		return 0, storageErr(fmt.Sprintf("append %d bytes to %s at byte %d", len(data), name, pos), err)
	}
	if resp.BlobCommittedBlockCount == nil {
		return 0, nil
	}
	return *resp.BlobCommittedBlockCount, nil
}

// folderSink writes the blobs as files under dir (the container's folder), appending the way the
// append blobs grow.
type folderSink struct{ dir string }

func (s *folderSink) location() string { return s.dir }

func (s *folderSink) path(name string) string { return filepath.Join(s.dir, filepath.FromSlash(name)) }

func (s *folderSink) prepare(ctx context.Context) (map[string]int64, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("create folder: %w", err)
	}
	existed := map[string]int64{}
	err := filepath.WalkDir(s.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(s.dir, path)
		existed[filepath.ToSlash(rel)] = fi.Size()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list folder %s: %w", s.dir, err)
	}
	return existed, nil
}

func (s *folderSink) create(_ context.Context, name string) error {
	path := s.path(name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create file %s: %w", name, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create file %s: %w", name, err)
	}
	return f.Close()
}

func (s *folderSink) append(_ context.Context, name string, pos int64, data []byte) (n int32, err error) {
	f, err := os.OpenFile(s.path(name), os.O_WRONLY, 0)
	if err != nil {
		return 0, fmt.Errorf("append to %s: %w", name, err)
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	fi, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("append to %s: %w", name, err)
	}
	if fi.Size() != pos {
		return 0, fmt.Errorf("append to %s at byte %d: the file has %d bytes: is another writer appending to it?", name, pos, fi.Size())
	}
	if _, err := f.WriteAt(data, pos); err != nil {
		return 0, fmt.Errorf("append to %s at byte %d: %w", name, pos, err)
	}
	return 0, nil // no count kept: the writer counts its own appends
}
