// Package objstoretest gives tests a Store on a real server: Azurite (Azure Blob) and versitygw
// (S3), started on loopback by internal/testserver with an empty container or bucket. Like
// net/http/httptest it is imported by tests only.
package objstoretest

import (
	"context"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/mcasload/mcasload/internal/testserver"
	"github.com/mcasload/mcasload/objstore"
)

// Bucket is the container (Azure) or bucket (S3) every server here starts with.
const Bucket = "mcasload-test"

// Server is a running storage server with one empty bucket, and what a client needs to reach it.
type Server struct {
	// Name is "azurite" or "versitygw".
	Name string
	// Env is the environment a client needs (credentials; for S3 also the region and no
	// metadata lookups), as KEY=VALUE.
	Env []string
	// Options are the Open options besides the environment (the S3 endpoint and path style).
	Options objstore.Options
	// Flags are the same options as mcasload flags.
	Flags []string
	base  string // the bucket's URL without a prefix
}

// URL is the storage URL of prefix in the server's bucket.
func (s *Server) URL(prefix string) string {
	if prefix == "" {
		return s.base
	}
	return s.base + "/" + prefix
}

// Setenv sets the server's environment for the rest of the test (the AWS SDK reads the process
// environment), so tests using it cannot run in parallel.
func (s *Server) Setenv(t testing.TB) {
	t.Helper()
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Getenv looks a variable up in the server's environment only.
func (s *Server) Getenv(key string) string {
	for _, kv := range s.Env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// Open opens the store of prefix with the server's credentials (and sets them in the process
// environment, see Setenv).
func (s *Server) Open(t testing.TB, prefix string) objstore.Store {
	t.Helper()
	s.Setenv(t)
	loc, err := objstore.ParseURL(s.URL(prefix))
	if err != nil {
		t.Fatal(err)
	}
	opts := s.Options
	opts.Getenv = s.Getenv
	st, err := objstore.Open(context.Background(), loc, opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Azurite starts Azurite with the container Bucket; clients authenticate with the
// emulator's connection string (account key).
func Azurite(t testing.TB) (*Server, *testserver.Azurite) {
	t.Helper()
	az := testserver.StartAzurite(t)
	client, err := azblob.NewClientFromConnectionString(az.ConnectionString(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateContainer(t.Context(), Bucket, nil); err != nil {
		t.Fatalf("create container: %v", err)
	}
	return &Server{
		Name: "azurite",
		Env:  []string{objstore.EnvAzureConnectionString + "=" + az.ConnectionString()},
		base: az.BlobEndpoint + "/" + Bucket,
	}, az
}

// VersityGW starts versitygw with the bucket Bucket; clients use static keys from the
// environment, path-style addressing and no EC2 metadata lookups.
func VersityGW(t testing.TB) (*Server, *testserver.VersityGW) {
	t.Helper()
	gw := testserver.StartVersityGW(t)
	s := &Server{
		Name:    "versitygw",
		Env:     gw.Env(),
		Options: objstore.Options{S3Endpoint: gw.Endpoint, S3PathStyle: true},
		Flags:   []string{"--s3-endpoint", gw.Endpoint, "--s3-path-style"},
		base:    "s3://" + Bucket,
	}
	s.Setenv(t)
	client := S3Client(t, s)
	if _, err := client.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(Bucket)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return s, gw
}

// S3Client is a plain SDK client of the server, for tests that look behind the Store.
func S3Client(t testing.TB, s *Server) *s3.Client {
	t.Helper()
	env := map[string]string{}
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return s3.New(s3.Options{
		Region:       env["AWS_REGION"],
		BaseEndpoint: aws.String(s.Options.S3Endpoint),
		UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: env["AWS_ACCESS_KEY_ID"], SecretAccessKey: env["AWS_SECRET_ACCESS_KEY"]}, nil
		}),
	})
}

// Each runs fn as a subtest ("azurite", "versitygw") against each server, started for it.
func Each(t *testing.T, fn func(t *testing.T, srv *Server)) {
	t.Run("azurite", func(t *testing.T) {
		srv, _ := Azurite(t)
		fn(t, srv)
	})
	t.Run("versitygw", func(t *testing.T) {
		srv, _ := VersityGW(t)
		fn(t, srv)
	})
}

// Keys lists every key under prefix with its size.
func Keys(t testing.TB, st objstore.Store, prefix string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := st.List(t.Context(), prefix, func(o objstore.Object) error {
		out[o.Key] = o.Size
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", prefix, err)
	}
	return out
}
