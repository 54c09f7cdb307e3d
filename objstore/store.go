// Package objstore is a small store of immutable objects in a cloud bucket: Azure Blob Storage
// (and ADLS Gen2 through the Blob API) with Microsoft's azblob SDK, and S3-compatible storage with
// AWS's SDK v2. It knows nothing of datasets or manifests (package remote does); it gives the
// few operations exactly-once publishing needs, the same on both services: a create that refuses
// to overwrite, get, stat, list and delete.
//
// Credentials come from the environment only, never from a URL or a flag (see Open), and no
// error this package returns carries a secret: errors are rebuilt from the status and error code
// the service sent, with URLs' query strings cut, and they wrap only this package's sentinels,
// never the SDK's error (whose text may hold a request URL with a SAS token).
package objstore

import (
	"context"
	"errors"
	"io"
	"time"
)

// Store holds objects under one Location. Keys are relative to the location's prefix,
// slash-separated ("activities/day=2026-12-06/part-1-1.parquet").
type Store interface {
	// Create writes the object key with the size bytes of body, only if no object has that key:
	// otherwise it returns an error wrapping ErrExists and changes nothing. sha256 (lowercase hex
	// of the bytes) is stored with the object as metadata, so a later Stat or List can compare
	// without downloading.
	Create(ctx context.Context, key string, body io.ReaderAt, size int64, sha256 string) error
	// Replace writes the object key whether or not it exists. Only small mutable pointers use it.
	Replace(ctx context.Context, key string, data []byte) error
	// Get opens the object key for reading; ErrNotFound if there is none.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Stat returns the object key's size, time and stored sha256; ErrNotFound if there is none.
	Stat(ctx context.Context, key string) (Object, error)
	// List calls fn for each object whose key starts with prefix, in key order.
	List(ctx context.Context, prefix string, fn func(Object) error) error
	// Delete removes the object key; deleting a missing object is not an error.
	Delete(ctx context.Context, key string) error
	// Location is where the store is.
	Location() Location
}

// Object describes a stored object.
type Object struct {
	Key      string // relative to the location's prefix
	Size     int64
	Modified time.Time // the service's clock
	// SHA256 is the hex digest stored by Create; "" when the listing does not carry metadata
	// (S3 listings never do; Stat has it) or the object was written by someone else.
	SHA256 string
}

// The sentinels callers branch on; every error of a Store wraps at most one of them.
var (
	ErrNotFound = errors.New("object not found")
	ErrExists   = errors.New("object already exists")
	// ErrNoBucket: the container or bucket does not exist.
	ErrNoBucket = errors.New("container or bucket not found")
	// ErrAuth: the service refused the credentials or their permissions (401, 403), or none were found.
	ErrAuth = errors.New("storage authentication or permission failure")
)

// shaMetadataKey is the metadata name of the stored digest (x-amz-meta-sha256 on S3; Azure
// metadata names are case-insensitive).
const shaMetadataKey = "sha256"

// body is a download's stream whose read errors (straight from the SDK, possibly naming a
// request URL) are given the store's sanitized form.
type body struct {
	r    io.ReadCloser
	fail func(error) error
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && err != io.EOF {
		err = b.fail(err)
	}
	return n, err
}

func (b *body) Close() error { return b.r.Close() }
