package testserver_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/mcasload/mcasload/internal/testserver"
)

// TestVersityGWObjects pins what publishing to S3 (issue 25) relies on, against the real gateway
// with the pinned AWS SDK: path-style put, list, get (whole and ranged), a conditional put that
// refuses to overwrite (If-None-Match: *), and delete.
func TestVersityGWObjects(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	gw := testserver.StartVersityGW(t)
	ctx := t.Context()
	cfg, err := config.LoadDefaultConfig(ctx,
		config.WithRegion(gw.Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(gw.AccessKey, gw.SecretKey, "")),
		config.WithSharedConfigFiles([]string{}),
		config.WithSharedCredentialsFiles([]string{}),
	)
	if err != nil {
		t.Fatalf("load config: %v", err)
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(gw.Endpoint)
		o.UsePathStyle = true
		// A ranged GET carries no whole-object checksum; the SDK would log that it skipped
		// validating one.
		o.DisableLogOutputChecksumValidationSkipped = true
	})

	const bucket = "mcasload-publish"
	const key = "tenant=contoso/activities/day=2026-12-06/part-000001.parquet"
	body := []byte("PAR1 not really parquet, but bytes are bytes PAR1")
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	put, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)})
	if err != nil {
		t.Fatalf("put: %v", err)
	}

	// The posix backend stores the object as a file named by its key.
	if onDisk, err := os.ReadFile(filepath.Join(gw.Dir, bucket, filepath.FromSlash(key))); err != nil || !bytes.Equal(onDisk, body) {
		t.Errorf("object on disk: %q, %v; want %q", onDisk, err, body)
	}

	list, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("tenant=contoso/")})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	if len(list.Contents) != 1 || *list.Contents[0].Key != key || *list.Contents[0].Size != int64(len(body)) ||
		*list.Contents[0].ETag != *put.ETag {
		t.Errorf("listed %+v, want one %s of %d bytes with ETag %s", list.Contents, key, len(body), *put.ETag)
	}

	for _, tc := range []struct {
		rng  *string
		want []byte
	}{
		{nil, body},
		{aws.String("bytes=4-11"), body[4:12]},
	} {
		got, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Range: tc.rng})
		if err != nil {
			t.Fatalf("get %v: %v", aws.ToString(tc.rng), err)
		}
		b, err := io.ReadAll(got.Body)
		got.Body.Close()
		if err != nil || !bytes.Equal(b, tc.want) {
			t.Errorf("get %v: %q, %v; want %q", aws.ToString(tc.rng), b, err, tc.want)
		}
	}

	// If-None-Match: * makes a put create-only: remote files are immutable once written.
	_, err = client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader([]byte("other bytes")), IfNoneMatch: aws.String("*")})
	if code := httpStatus(err); code != http.StatusPreconditionFailed {
		t.Errorf("create-only put over an existing key: status %d (%v), want 412", code, err)
	}
	const fresh = "tenant=contoso/manifest/v000002.json"
	if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fresh),
		Body: bytes.NewReader([]byte(`{"version":2}`)), IfNoneMatch: aws.String("*")}); err != nil {
		t.Errorf("create-only put of a new key: %v", err)
	}

	for _, k := range []string{key, fresh} {
		if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			t.Fatalf("delete %s: %v", k, err)
		}
	}
	_, err = client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	var noKey *types.NoSuchKey
	if !errors.As(err, &noKey) {
		t.Errorf("get after delete: %v, want NoSuchKey", err)
	}
	list, err = client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil || len(list.Contents) != 0 {
		t.Errorf("list after delete: %+v, %v; want empty", list.Contents, err)
	}
}

// httpStatus is the HTTP status of an S3 error, 0 if err is nil or carries none.
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}
