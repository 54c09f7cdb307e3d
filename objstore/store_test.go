package objstore_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/mcasload/mcasload/internal/testserver"
	"github.com/mcasload/mcasload/objstore"
	"github.com/mcasload/mcasload/objstore/objstoretest"
)

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func read(t *testing.T, st objstore.Store, key string) []byte {
	t.Helper()
	r, err := st.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return b
}

// TestStoreOnRealServers runs the Store contract against Azurite and versitygw: create-only
// writes, the stored digest, listing relative to the prefix, deletes, and the sentinels.
func TestStoreOnRealServers(t *testing.T) {
	objstoretest.Each(t, func(t *testing.T, srv *objstoretest.Server) {
		ctx := t.Context()
		st := srv.Open(t, "team/dataset")
		other := srv.Open(t, "team/dataset-2") // a sibling prefix that must not leak into listings
		const key = "activities/day=2026-12-06/part-1-1.parquet"
		body := []byte("PAR1 some bytes PAR1")
		if err := st.Create(ctx, key, bytes.NewReader(body), int64(len(body)), digest(body)); err != nil {
			t.Fatalf("create: %v", err)
		}
		if err := other.Create(ctx, key, bytes.NewReader(body), int64(len(body)), digest(body)); err != nil {
			t.Fatalf("create in sibling prefix: %v", err)
		}
		// Immutable once written: a second create (same or other bytes) is refused and changes nothing.
		for _, b := range [][]byte{body, []byte("other")} {
			err := st.Create(ctx, key, bytes.NewReader(b), int64(len(b)), digest(b))
			if !errors.Is(err, objstore.ErrExists) {
				t.Errorf("create over an existing object: %v, want ErrExists", err)
			}
		}
		if got := read(t, st, key); !bytes.Equal(got, body) {
			t.Errorf("get: %q, want %q", got, body)
		}
		o, err := st.Stat(ctx, key)
		if err != nil || o.Size != int64(len(body)) || o.SHA256 != digest(body) || o.Key != key {
			t.Errorf("stat: %+v, %v; want size %d sha %s", o, err, len(body), digest(body))
		}
		if age := time.Since(o.Modified); age < -time.Minute || age > time.Minute {
			t.Errorf("stat: modified %s, not about now", o.Modified)
		}
		if err := st.Replace(ctx, "_manifests/latest", []byte(`{"version":1}`)); err != nil {
			t.Fatalf("replace: %v", err)
		}
		if err := st.Replace(ctx, "_manifests/latest", []byte(`{"version":2}`)); err != nil {
			t.Fatalf("replace again: %v", err)
		}
		if got := read(t, st, "_manifests/latest"); string(got) != `{"version":2}` {
			t.Errorf("replaced object: %q", got)
		}
		keys := objstoretest.Keys(t, st, "")
		want := map[string]int64{key: int64(len(body)), "_manifests/latest": 13}
		if len(keys) != len(want) || keys[key] != want[key] || keys["_manifests/latest"] != 13 {
			t.Errorf("list: %v, want %v", keys, want)
		}
		if got := objstoretest.Keys(t, st, "activities/"); len(got) != 1 {
			t.Errorf("list activities/: %v, want only %s", got, key)
		}

		for _, err := range []error{
			func() error { _, err := st.Get(ctx, "missing"); return err }(),
			func() error { _, err := st.Stat(ctx, "missing"); return err }(),
		} {
			if !errors.Is(err, objstore.ErrNotFound) {
				t.Errorf("missing object: %v, want ErrNotFound", err)
			}
		}
		if err := st.Delete(ctx, key); err != nil {
			t.Fatalf("delete: %v", err)
		}
		if err := st.Delete(ctx, key); err != nil {
			t.Errorf("delete of a missing object: %v, want nil", err)
		}
		if _, err := st.Stat(ctx, key); !errors.Is(err, objstore.ErrNotFound) {
			t.Errorf("stat after delete: %v", err)
		}
		if got := read(t, other, key); !bytes.Equal(got, body) {
			t.Errorf("sibling prefix lost its object: %q", got)
		}

		// A bucket that does not exist says so.
		loc := st.Location()
		loc.Bucket = "no-such-bucket"
		opts := srv.Options
		opts.Getenv = srv.Getenv
		missing, err := objstore.Open(ctx, loc, opts)
		if err != nil {
			t.Fatal(err)
		}
		err = missing.Create(ctx, "x", bytes.NewReader(body), int64(len(body)), digest(body))
		if !errors.Is(err, objstore.ErrNoBucket) || !strings.Contains(err.Error(), "does not exist") {
			t.Errorf("create in a missing bucket: %v, want ErrNoBucket", err)
		}
	})
}

// TestAzureBlocks sends a blob in blocks (as files over 256 MiB go) and checks that the commit
// is create-only too.
func TestAzureBlocks(t *testing.T) {
	srv, _ := objstoretest.Azurite(t)
	st := srv.Open(t, "blocks")
	objstore.SetAzureBlockSize(t, st, 10, 4)
	body := []byte("0123456789abcdefghijklmnopqrstuvwxyz")
	if err := st.Create(t.Context(), "big", bytes.NewReader(body), int64(len(body)), digest(body)); err != nil {
		t.Fatalf("create in blocks: %v", err)
	}
	if got := read(t, st, "big"); !bytes.Equal(got, body) {
		t.Errorf("blocks read back as %q", got)
	}
	if o, err := st.Stat(t.Context(), "big"); err != nil || o.SHA256 != digest(body) {
		t.Errorf("stat: %+v %v", o, err)
	}
	err := st.Create(t.Context(), "big", bytes.NewReader(body[:20]), 20, digest(body[:20]))
	if !errors.Is(err, objstore.ErrExists) {
		t.Errorf("second commit of blocks: %v, want ErrExists", err)
	}
	if got := read(t, st, "big"); !bytes.Equal(got, body) {
		t.Errorf("refused commit changed the blob: %q", got)
	}
}

// TestS3ChecksumRefusesOtherBytes: the digest Create sends is checked by the service, so bytes
// that changed on the way (or a wrong digest) never land.
func TestS3ChecksumRefusesOtherBytes(t *testing.T) {
	srv, _ := objstoretest.VersityGW(t)
	st := srv.Open(t, "sums")
	body := []byte("the bytes we hashed")
	err := st.Create(t.Context(), "k", bytes.NewReader(body), int64(len(body)), digest([]byte("other bytes")))
	if err == nil {
		t.Fatal("create with a wrong digest succeeded")
	}
	if _, err := st.Stat(t.Context(), "k"); !errors.Is(err, objstore.ErrNotFound) {
		t.Errorf("object after a refused create: %v, want none", err)
	}
}

// TestAzureSASNeverInErrors authenticates with a read-only SAS token: a refused write, and a
// request to a stopped server, fail with errors that do not carry the token.
func TestAzureSASNeverInErrors(t *testing.T) {
	srv, az := objstoretest.Azurite(t)
	cred, err := azblob.NewSharedKeyCredential(az.AccountName, az.AccountKey)
	if err != nil {
		t.Fatal(err)
	}
	perms := sas.ContainerPermissions{Read: true, List: true}
	qp, err := sas.BlobSignatureValues{
		Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(time.Hour),
		Permissions: perms.String(), ContainerName: objstoretest.Bucket,
	}.SignWithSharedKey(cred)
	if err != nil {
		t.Fatal(err)
	}
	token := qp.Encode()
	sig := qp.Signature()
	getenv := func(k string) string {
		if k == objstore.EnvAzureSASToken {
			return token
		}
		return ""
	}
	loc, err := objstore.ParseURL(srv.URL("sas"))
	if err != nil {
		t.Fatal(err)
	}
	st, err := objstore.Open(t.Context(), loc, objstore.Options{Getenv: getenv, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	// Reading works with the token.
	if got := objstoretest.Keys(t, st, ""); len(got) != 0 {
		t.Errorf("list with a read SAS: %v", got)
	}
	body := []byte("x")
	err = st.Create(t.Context(), "k", bytes.NewReader(body), 1, digest(body))
	if !errors.Is(err, objstore.ErrAuth) {
		t.Errorf("write with a read-only SAS: %v, want ErrAuth", err)
	}
	az.Stop(t)
	_, err2 := st.Get(t.Context(), "k")
	for _, e := range []error{err, err2} {
		if e == nil {
			t.Fatal("want an error")
		}
		for _, secret := range []string{token, sig, az.AccountKey} {
			if strings.Contains(e.Error(), secret) {
				t.Errorf("error %q holds a secret", e)
			}
		}
	}
	t.Logf("refused write: %v\nstopped server: %v", err, err2)
	if !strings.Contains(err2.Error(), "REDACTED") && !strings.Contains(err2.Error(), "connection refused") {
		t.Errorf("error of a stopped server: %q", err2)
	}
}

// TestS3NoMetadataLookups: with static keys, and with none, the S3 store never asks the
// instance metadata service, which a recording server on loopback stands in for.
func TestS3NoMetadataLookups(t *testing.T) {
	srv, _ := objstoretest.VersityGW(t)
	var calls atomic.Int64
	imds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "no", http.StatusNotFound)
	}))
	defer imds.Close()
	t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.URL)
	st := srv.Open(t, "imds")
	body := []byte("x")
	if err := st.Create(t.Context(), "k", bytes.NewReader(body), 1, digest(body)); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	_, err := objstore.Open(t.Context(), st.Location(), srv.Options)
	if !errors.Is(err, objstore.ErrAuth) || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("open without credentials: %v, want ErrAuth naming the variables", err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("the metadata address was asked %d times", n)
	}
}

// TestConnectionStringAccountMismatch: a connection string for another account is refused
// before any request, naming both accounts but not the key.
func TestConnectionStringAccountMismatch(t *testing.T) {
	loc, err := objstore.ParseURL("azblob://otheraccount/data/x")
	if err != nil {
		t.Fatal(err)
	}
	cs := "AccountName=devstoreaccount1;AccountKey=" + testserver.AzuriteAccountKey
	_, err = objstore.Open(t.Context(), loc, objstore.Options{Getenv: func(k string) string {
		if k == objstore.EnvAzureConnectionString {
			return cs
		}
		return ""
	}})
	if err == nil || !strings.Contains(err.Error(), "devstoreaccount1") || strings.Contains(err.Error(), testserver.AzuriteAccountKey) {
		t.Errorf("mismatched connection string: %v", err)
	}
}

// TestUploadFromFile creates an object from an *os.File, the way datasets are published.
func TestUploadFromFile(t *testing.T) {
	objstoretest.Each(t, func(t *testing.T, srv *objstoretest.Server) {
		st := srv.Open(t, "files")
		path := filepath.Join(t.TempDir(), "f.parquet")
		body := bytes.Repeat([]byte("parquet bytes "), 100_000)
		if err := os.WriteFile(path, body, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := st.Create(t.Context(), "f.parquet", f, int64(len(body)), digest(body)); err != nil {
			t.Fatal(err)
		}
		if got := read(t, st, "f.parquet"); !bytes.Equal(got, body) {
			t.Errorf("read back %d bytes, want %d", len(got), len(body))
		}
	})
}
