package objstore

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// The environment variables Azure credentials come from, in this order; the names are the
// Azure CLI's, so a shell set up for `az storage` works as is. Without any of them,
// azidentity's DefaultAzureCredential is used (AZURE_CLIENT_ID/…, workload identity, managed
// identity, Azure CLI).
const (
	EnvAzureConnectionString = "AZURE_STORAGE_CONNECTION_STRING"
	EnvAzureSASToken         = "AZURE_STORAGE_SAS_TOKEN"
	EnvAzureKey              = "AZURE_STORAGE_KEY"
)

// Blob size limits. A single Put Blob takes up to 5000 MiB on current API versions, but the
// SDK's and older emulators' limit is 256 MiB; larger files go up in blocks.
const (
	azureSingleMax = blockblob.MaxUploadBlobBytes
	azureBlockSize = 64 << 20
)

type azureStore struct {
	loc  Location
	cont *container.Client
	// secrets are cut from error texts.
	secrets []string
	// singleMax and blockSize are variables so tests can send a small file in blocks.
	singleMax, blockSize int64
}

// openAzure builds a container client with the first credential the environment offers.
func openAzure(loc Location, o Options) (*azureStore, error) {
	s := &azureStore{loc: loc, singleMax: azureSingleMax, blockSize: azureBlockSize}
	containerURL := loc.ServiceURL + "/" + loc.Bucket
	getenv := o.Getenv
	opts := &container.ClientOptions{}
	if o.Retries != 0 {
		opts.Retry.MaxRetries = int32(o.Retries)
	}
	var err error
	switch {
	case getenv(EnvAzureConnectionString) != "":
		cs := getenv(EnvAzureConnectionString)
		s.secrets = append(s.secrets, cs)
		fields := parseConnectionString(cs)
		s.secrets = append(s.secrets, fields["accountkey"], fields["sharedaccesssignature"])
		if name := fields["accountname"]; name != "" && name != loc.Account {
			return nil, fmt.Errorf("open %s: %s is for account %q, the URL names %q", loc, EnvAzureConnectionString, name, loc.Account)
		}
		switch {
		case fields["accountkey"] != "":
			s.cont, err = sharedKeyClient(containerURL, loc.Account, fields["accountkey"], opts)
		case fields["sharedaccesssignature"] != "":
			s.cont, err = container.NewClientWithNoCredential(containerURL+"?"+strings.TrimPrefix(fields["sharedaccesssignature"], "?"), opts)
		default:
			return nil, fmt.Errorf("open %s: %s has neither AccountKey nor SharedAccessSignature", loc, EnvAzureConnectionString)
		}
	case getenv(EnvAzureSASToken) != "":
		sas := strings.TrimPrefix(getenv(EnvAzureSASToken), "?")
		s.secrets = append(s.secrets, sas)
		s.cont, err = container.NewClientWithNoCredential(containerURL+"?"+sas, opts)
	case getenv(EnvAzureKey) != "":
		s.secrets = append(s.secrets, getenv(EnvAzureKey))
		s.cont, err = sharedKeyClient(containerURL, loc.Account, getenv(EnvAzureKey), opts)
	default:
		var cred azcore.TokenCredential
		cred, err = azidentity.NewDefaultAzureCredential(nil)
		if err == nil {
			s.cont, err = container.NewClient(containerURL, cred, opts)
		}
	}
	if err != nil {
		return nil, newError("open", loc.String(), err, answer{}, s.secrets)
	}
	return s, nil
}

func sharedKeyClient(containerURL, account, key string, opts *container.ClientOptions) (*container.Client, error) {
	cred, err := container.NewSharedKeyCredential(account, key)
	if err != nil {
		return nil, err
	}
	return container.NewClientWithSharedKeyCredential(containerURL, cred, opts)
}

// parseConnectionString reads an Azure Storage connection string (key=value pairs separated by
// ';'; a value may hold '='), with lowercased keys.
func parseConnectionString(cs string) map[string]string {
	out := map[string]string{}
	for _, part := range strings.Split(cs, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k != "" {
			out[strings.ToLower(k)] = v
		}
	}
	return out
}

func (s *azureStore) Location() Location { return s.loc }

func (s *azureStore) fail(op, key string, err error) error {
	var a answer
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		a = answer{status: re.StatusCode, code: re.ErrorCode}
	}
	return newError(op, s.objectURL(key), err, a, s.secrets)
}

func (s *azureStore) objectURL(key string) string {
	if key == "" {
		return s.loc.String()
	}
	return s.loc.String() + "/" + key
}

// ifAbsent makes a write fail when the blob exists (If-None-Match: *).
func ifAbsent() *blob.AccessConditions {
	etag := azcore.ETagAny
	return &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &etag}}
}

func (s *azureStore) Create(ctx context.Context, key string, body io.ReaderAt, size int64, sha256 string) error {
	meta := map[string]*string{shaMetadataKey: &sha256}
	bb := s.cont.NewBlockBlobClient(s.loc.Key(key))
	if size <= s.singleMax {
		_, err := bb.Upload(ctx, streaming.NopCloser(io.NewSectionReader(body, 0, size)),
			&blockblob.UploadOptions{Metadata: meta, AccessConditions: ifAbsent()})
		if err != nil {
			return s.fail("create", key, err)
		}
		return nil
	}
	// The SDK's UploadFile drops access conditions when it commits blocks, so stage them here and
	// commit with If-None-Match: * ourselves. Staged blocks of a blob that is never committed
	// are discarded by the service after a week.
	prefix := make([]byte, 8)
	if _, err := rand.Read(prefix); err != nil {
		return s.fail("create", key, err)
	}
	var ids []string
	for off := int64(0); off < size; off += s.blockSize {
		n := min(s.blockSize, size-off)
		id := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "%s-%08d", hex.EncodeToString(prefix), len(ids)))
		if _, err := bb.StageBlock(ctx, id, streaming.NopCloser(io.NewSectionReader(body, off, n)), nil); err != nil {
			return s.fail("create", key, err)
		}
		ids = append(ids, id)
	}
	_, err := bb.CommitBlockList(ctx, ids, &blockblob.CommitBlockListOptions{Metadata: meta, AccessConditions: ifAbsent()})
	if err != nil {
		return s.fail("create", key, err)
	}
	return nil
}

func (s *azureStore) Replace(ctx context.Context, key string, data []byte) error {
	_, err := s.cont.NewBlockBlobClient(s.loc.Key(key)).UploadBuffer(ctx, data, nil)
	if err != nil {
		return s.fail("replace", key, err)
	}
	return nil
}

func (s *azureStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	resp, err := s.cont.NewBlobClient(s.loc.Key(key)).DownloadStream(ctx, nil)
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	return &body{r: resp.NewRetryReader(ctx, nil), fail: func(err error) error { return s.fail("get", key, err) }}, nil
}

func (s *azureStore) Stat(ctx context.Context, key string) (Object, error) {
	p, err := s.cont.NewBlobClient(s.loc.Key(key)).GetProperties(ctx, nil)
	if err != nil {
		return Object{}, s.fail("stat", key, err)
	}
	o := Object{Key: key, SHA256: metadataSHA(p.Metadata)}
	if p.ContentLength != nil {
		o.Size = *p.ContentLength
	}
	if p.LastModified != nil {
		o.Modified = *p.LastModified
	}
	return o, nil
}

// metadataSHA finds the stored digest; Azure may return metadata names in another case.
func metadataSHA(meta map[string]*string) string {
	for k, v := range meta {
		if strings.EqualFold(k, shaMetadataKey) && v != nil {
			return *v
		}
	}
	return ""
}

func (s *azureStore) List(ctx context.Context, prefix string, fn func(Object) error) error {
	full := s.loc.Key(prefix)
	pager := s.cont.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &full, Include: container.ListBlobsInclude{Metadata: true}})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return s.fail("list", prefix, err)
		}
		for _, b := range page.Segment.BlobItems {
			if b.Name == nil || b.Properties == nil {
				continue
			}
			o := Object{Key: s.loc.Relative(*b.Name), SHA256: metadataSHA(b.Metadata)}
			if b.Properties.ContentLength != nil {
				o.Size = *b.Properties.ContentLength
			}
			if b.Properties.LastModified != nil {
				o.Modified = *b.Properties.LastModified
			}
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *azureStore) Delete(ctx context.Context, key string) error {
	_, err := s.cont.NewBlobClient(s.loc.Key(key)).Delete(ctx, nil)
	if err != nil {
		if e := s.fail("delete", key, err); !errors.Is(e, ErrNotFound) {
			return e
		}
	}
	return nil
}
