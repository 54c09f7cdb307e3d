package testserver_test

import (
	"bytes"
	"context"
	"io"
	"strconv"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/appendblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/mcasload/mcasload/internal/testserver"
)

// TestAzuriteAppendBlob pins what the streaming loader (issue 23) relies on, against the real
// emulator with the pinned azblob SDK: an append blob that grows, ranged reads of its new bytes,
// ETags that change on every append, a creation time that does not, and the errors for a read
// past the end and for an append at the wrong offset.
func TestAzuriteAppendBlob(t *testing.T) {
	az := testserver.StartAzurite(t)
	ctx := t.Context()
	client, err := azblob.NewClientFromConnectionString(az.ConnectionString(), nil)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	const containerName = "insights-logs-advancedhunting-cloudappevents"
	const blobName = "tenantId=00000000-0000-0000-0000-000000000001/y=2026/m=12/d=06/h=12/m=00/PT1H.json"
	if _, err := client.CreateContainer(ctx, containerName, nil); err != nil {
		t.Fatalf("create container: %v", err)
	}
	ab := client.ServiceClient().NewContainerClient(containerName).NewAppendBlobClient(blobName)
	if _, err := ab.Create(ctx, nil); err != nil {
		t.Fatalf("create append blob: %v", err)
	}
	created := blobProperties(ctx, t, ab.BlobClient())

	lines := []string{
		`{"time":"2026-12-06T12:00:01Z","category":"AdvancedHunting-CloudAppEvents","properties":{"ReportId":"1"}}` + "\n",
		`{"time":"2026-12-06T12:00:02Z","category":"AdvancedHunting-CloudAppEvents","properties":{"ReportId":"2"}}` + "\n",
	}
	var offset int64
	etags := map[string]bool{string(*created.ETag): true}
	for i, line := range lines {
		resp, err := ab.AppendBlock(ctx, streaming.NopCloser(bytes.NewReader([]byte(line))), nil)
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		// The service says where each block landed: the blob's length before the append.
		if got := *resp.BlobAppendOffset; got != strconv.FormatInt(offset, 10) {
			t.Errorf("append %d landed at offset %s, want %d", i, got, offset)
		}
		if got := *resp.BlobCommittedBlockCount; got != int32(i+1) {
			t.Errorf("append %d: committed blocks %d, want %d", i, got, i+1)
		}
		if etags[string(*resp.ETag)] {
			t.Errorf("append %d: ETag %s seen before; each append must change it", i, *resp.ETag)
		}
		etags[string(*resp.ETag)] = true
		offset += int64(len(line))
	}

	props := blobProperties(ctx, t, ab.BlobClient())
	if *props.ContentLength != offset {
		t.Errorf("blob length %d, want %d", *props.ContentLength, offset)
	}
	if *props.BlobType != blob.BlobTypeAppendBlob {
		t.Errorf("blob type %s, want AppendBlob", *props.BlobType)
	}
	if !props.CreationTime.Equal(*created.CreationTime) {
		t.Errorf("creation time changed by appends: %s, was %s", *props.CreationTime, *created.CreationTime)
	}

	// Listing by the hour prefix finds the blob with its type and current length.
	pager := client.NewListBlobsFlatPager(containerName, &container.ListBlobsFlatOptions{Prefix: ptr("tenantId=")})
	var listed []string
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatalf("list blobs: %v", err)
		}
		for _, b := range page.Segment.BlobItems {
			listed = append(listed, *b.Name)
			if *b.Properties.BlobType != blob.BlobTypeAppendBlob || *b.Properties.ContentLength != offset {
				t.Errorf("listed %s as %s of %d bytes, want AppendBlob of %d",
					*b.Name, *b.Properties.BlobType, *b.Properties.ContentLength, offset)
			}
		}
	}
	if len(listed) != 1 || listed[0] != blobName {
		t.Errorf("listed %q, want [%q]", listed, blobName)
	}

	// Reading from a committed offset returns exactly the bytes appended after it; Count 0 means
	// "to the end".
	second := int64(len(lines[0]))
	for _, r := range []blob.HTTPRange{{Offset: second, Count: int64(len(lines[1]))}, {Offset: second}} {
		if got := download(ctx, t, client, containerName, blobName, r); got != lines[1] {
			t.Errorf("range %+v read %q, want %q", r, got, lines[1])
		}
	}
	// A read starting at the end (nothing new yet): Azure answers 416 InvalidRange; Azurite
	// answers 206 with an empty body. A reader must take both as "nothing new".
	if got := download(ctx, t, client, containerName, blobName, blob.HTTPRange{Offset: offset}); got != "" {
		t.Errorf("read at end of blob: %q, want empty", got)
	}
	// Past the end (a blob that shrank or was replaced) both refuse.
	_, err = client.DownloadStream(ctx, containerName, blobName, &azblob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: offset + 1}})
	if !bloberror.HasCode(err, bloberror.InvalidRange) {
		t.Errorf("read past end of blob: err %v, want InvalidRange (416)", err)
	}

	// An append that expects another length is refused, so a writer never doubles a line.
	_, err = ab.AppendBlock(ctx, streaming.NopCloser(bytes.NewReader([]byte(lines[1]))), &appendblob.AppendBlockOptions{
		AppendPositionAccessConditions: &appendblob.AppendPositionAccessConditions{AppendPosition: &second},
	})
	if !bloberror.HasCode(err, bloberror.AppendPositionConditionNotMet) {
		t.Errorf("append at stale position: err %v, want AppendPositionConditionNotMet", err)
	}
}

func blobProperties(ctx context.Context, t *testing.T, b *blob.Client) blob.GetPropertiesResponse {
	t.Helper()
	props, err := b.GetProperties(ctx, nil)
	if err != nil {
		t.Fatalf("get properties: %v", err)
	}
	return props
}

func download(ctx context.Context, t *testing.T, client *azblob.Client, containerName, blobName string, r blob.HTTPRange) string {
	t.Helper()
	resp, err := client.DownloadStream(ctx, containerName, blobName, &azblob.DownloadStreamOptions{Range: r})
	if err != nil {
		t.Fatalf("download %+v: %v", r, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %+v: %v", r, err)
	}
	return string(b)
}

func ptr[T any](v T) *T { return &v }
