package objstore

import (
	"context"
	"fmt"
	"os"
)

// Options are the settings of Open that are not part of a URL. None is a secret.
type Options struct {
	// S3Endpoint is the S3 endpoint (an S3-compatible server: https://…); "" uses AWS's, or
	// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL when set.
	S3Endpoint string
	// S3Region signs S3 requests; "" takes AWS_REGION or the shared config's region.
	S3Region string
	// S3PathStyle addresses buckets as ENDPOINT/BUCKET/KEY instead of BUCKET.ENDPOINT/KEY, which
	// most S3-compatible servers need.
	S3PathStyle bool
	// Retries is how many times a failed request is retried (0: the SDKs' default, 3 with
	// exponential back-off; negative: none).
	Retries int
	// Getenv reads the Azure credential variables (default os.Getenv). The AWS SDK reads the
	// process environment itself.
	Getenv func(string) string
}

// Open returns the Store of loc with credentials from the environment:
//
//   - Azure: AZURE_STORAGE_CONNECTION_STRING (its AccountKey or SharedAccessSignature),
//     AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_KEY (the account's key), else azidentity's
//     DefaultAzureCredential (service principal variables, workload identity, managed identity,
//     Azure CLI), which needs the "Storage Blob Data Contributor" role (Reader to read).
//   - S3: the AWS default credential chain.
//
// Open checks nothing remote except, for S3, that a credential can be found.
func Open(ctx context.Context, loc Location, opts Options) (Store, error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	switch loc.Kind {
	case KindAzure:
		return openAzure(loc, opts)
	case KindS3:
		return openS3(ctx, loc, opts)
	}
	return nil, fmt.Errorf("open %s: unknown storage kind %q", loc, loc.Kind)
}
