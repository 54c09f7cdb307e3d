package objstore

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// s3SingleMax is the largest object one PutObject takes (5 GiB). The warehouse's files stay far
// below it (compaction writes files of at most 512 MB), so multipart uploads, whose conditional
// completion not every S3-compatible server implements, are not needed.
const s3SingleMax = 5 << 30

type s3Store struct {
	loc    Location
	client *s3.Client
}

// openS3 builds an S3 client from the AWS default chain (environment, shared config and
// credentials files, SSO, web identity, container and instance roles) with the options' endpoint,
// region and addressing. The credentials are retrieved once here, so a missing one is reported
// before any work.
func openS3(ctx context.Context, loc Location, opts Options) (*s3Store, error) {
	var cfgOpts []func(*config.LoadOptions) error
	if opts.Retries > 0 {
		cfgOpts = append(cfgOpts, config.WithRetryMaxAttempts(opts.Retries+1))
	} else if opts.Retries < 0 {
		cfgOpts = append(cfgOpts, config.WithRetryMaxAttempts(1))
	}
	if opts.S3Region != "" {
		cfgOpts = append(cfgOpts, config.WithRegion(opts.S3Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, cfgOpts...)
	if err != nil {
		return nil, newError("open", loc.String(), err, answer{}, nil)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("open %s: %w", loc, ErrNoRegion)
	}
	if _, err := cfg.Credentials.Retrieve(ctx); err != nil {
		e := newError("open", loc.String(), err, answer{}, nil)
		e.kind = ErrAuth
		e.detail = "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with a role (" + e.detail + ")"
		return nil, e
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.S3Endpoint)
		}
		o.UsePathStyle = opts.S3PathStyle
		// Ranged and streamed reads carry no whole-object checksum; do not log that.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return &s3Store{loc: loc, client: client}, nil
}

func (s *s3Store) Location() Location { return s.loc }

func (s *s3Store) fail(op, key string, err error) error {
	var a answer
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		a.status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		a.code = ae.ErrorCode()
	}
	object := s.loc.String()
	if key != "" {
		object += "/" + key
	}
	return newError(op, object, err, a, nil)
}

func (s *s3Store) Create(ctx context.Context, key string, body io.ReaderAt, size int64, sha256 string) error {
	if size > s3SingleMax {
		return fmt.Errorf("create %s/%s: %d bytes is more than one PutObject takes (5 GiB)", s.loc, key, size)
	}
	in := &s3.PutObjectInput{
		Bucket:        aws.String(s.loc.Bucket),
		Key:           aws.String(s.loc.Key(key)),
		Body:          io.NewSectionReader(body, 0, size),
		ContentLength: aws.Int64(size),
		IfNoneMatch:   aws.String("*"),
		Metadata:      map[string]string{shaMetadataKey: sha256},
	}
	// The service checks the bytes it received against our digest and refuses a mismatch.
	if raw, err := hex.DecodeString(sha256); err == nil && len(raw) == 32 {
		in.ChecksumSHA256 = aws.String(base64.StdEncoding.EncodeToString(raw))
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		return s.fail("create", key, err)
	}
	return nil
}

func (s *s3Store) Replace(ctx context.Context, key string, data []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.loc.Bucket), Key: aws.String(s.loc.Key(key)),
		Body: strings.NewReader(string(data)), ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		return s.fail("replace", key, err)
	}
	return nil
}

func (s *s3Store) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.loc.Bucket), Key: aws.String(s.loc.Key(key))})
	if err != nil {
		return nil, s.fail("get", key, err)
	}
	return &body{r: out.Body, fail: func(err error) error { return s.fail("get", key, err) }}, nil
}

func (s *s3Store) Stat(ctx context.Context, key string) (Object, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.loc.Bucket), Key: aws.String(s.loc.Key(key))})
	if err != nil {
		return Object{}, s.fail("stat", key, err)
	}
	o := Object{Key: key, Size: aws.ToInt64(out.ContentLength), SHA256: out.Metadata[shaMetadataKey]}
	if out.LastModified != nil {
		o.Modified = *out.LastModified
	}
	return o, nil
}

func (s *s3Store) List(ctx context.Context, prefix string, fn func(Object) error) error {
	full := s.loc.Key(prefix)
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: aws.String(s.loc.Bucket), Prefix: aws.String(full)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return s.fail("list", prefix, err)
		}
		for _, c := range page.Contents {
			o := Object{Key: s.loc.Relative(aws.ToString(c.Key)), Size: aws.ToInt64(c.Size)}
			if c.LastModified != nil {
				o.Modified = *c.LastModified
			}
			if err := fn(o); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *s3Store) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.loc.Bucket), Key: aws.String(s.loc.Key(key))})
	if err != nil {
		if e := s.fail("delete", key, err); !errors.Is(e, ErrNotFound) {
			return e
		}
	}
	return nil
}
