package objstore

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
)

// Kind says which service a Location is on.
type Kind string

// The services a Store talks to.
const (
	KindAzure Kind = "azblob" // Azure Blob Storage and ADLS Gen2 (through the Blob API)
	KindS3    Kind = "s3"     // S3 and S3-compatible storage
)

// Location is where a dataset lives: a container (Azure) or bucket (S3) and a prefix inside it.
// It holds no credential: those come from the environment (see Open).
type Location struct {
	Kind Kind
	// Account is the Azure storage account ("" for S3).
	Account string
	// ServiceURL is the Azure Blob service endpoint: https://ACCOUNT.blob.core.windows.net, or
	// an emulator's path-style http://127.0.0.1:PORT/ACCOUNT ("" for S3).
	ServiceURL string
	// Bucket is the Azure container or the S3 bucket.
	Bucket string
	// Prefix is the folder inside the bucket, without leading or trailing slash ("" for the root).
	Prefix string
}

// ErrBadURL is wrapped by every ParseURL failure.
var ErrBadURL = errors.New("bad storage url")

// ErrNoRegion: S3 storage was opened without a region (most S3-compatible servers take any value).
var ErrNoRegion = errors.New("no S3 region")

// The forms ParseURL accepts, for error messages.
const urlForms = "azblob://ACCOUNT/CONTAINER/PREFIX, https://ACCOUNT.blob.core.windows.net/CONTAINER/PREFIX, " +
	"abfss://CONTAINER@ACCOUNT.dfs.core.windows.net/PREFIX, http://127.0.0.1:PORT/ACCOUNT/CONTAINER/PREFIX (an emulator) or s3://BUCKET/PREFIX"

var (
	azureAccountRE   = regexp.MustCompile(`^[a-z0-9]{3,24}$`)
	azureContainerRE = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$|^\$root$`)
	s3BucketRE       = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
)

// ParseURL reads a storage URL (urlForms). A URL never carries a credential: a query string
// (where a SAS token would go), a user name or password, or a fragment is refused, so that
// secrets stay out of command lines, shell history and logs.
func ParseURL(raw string) (Location, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		// url.Parse quotes the whole input; a stray SAS token would be echoed, so do not.
		return Location{}, fmt.Errorf("%w: cannot parse it; use %s", ErrBadURL, urlForms)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return Location{}, fmt.Errorf("%w: %s://%s… has a query or fragment; credentials never go in the URL: "+
			"a SAS token or key comes from the environment (docs/publish.md)", ErrBadURL, u.Scheme, u.Host)
	}
	if u.Opaque != "" {
		return Location{}, fmt.Errorf("%w: %q: use %s", ErrBadURL, u.Scheme+":"+u.Opaque, urlForms)
	}
	var loc Location
	var path string
	switch strings.ToLower(u.Scheme) {
	case "azblob":
		if u.User != nil {
			return Location{}, noUserInfo(u)
		}
		loc = Location{Kind: KindAzure, Account: u.Host, ServiceURL: "https://" + u.Host + ".blob.core.windows.net"}
		loc.Bucket, path = cutSegment(u.Path)
	case "abfs", "abfss":
		// The form Spark and Databricks use for ADLS Gen2: the container is the user part.
		if u.User == nil || u.User.Username() == "" {
			return Location{}, fmt.Errorf("%w: %s://… needs CONTAINER@ACCOUNT.dfs.core.windows.net", ErrBadURL, u.Scheme)
		}
		if _, has := u.User.Password(); has {
			return Location{}, noUserInfo(u)
		}
		account, suffix, ok := strings.Cut(u.Host, ".dfs.")
		if !ok || suffix == "" {
			return Location{}, fmt.Errorf("%w: %s://…@%s: the host must be ACCOUNT.dfs.<cloud suffix>", ErrBadURL, u.Scheme, u.Host)
		}
		loc = Location{Kind: KindAzure, Account: account, ServiceURL: "https://" + account + ".blob." + suffix, Bucket: u.User.Username()}
		path = u.Path
	case "https", "http":
		if u.User != nil {
			return Location{}, noUserInfo(u)
		}
		loc, path, err = parseAzureHTTP(u)
		if err != nil {
			return Location{}, err
		}
	case "s3":
		if u.User != nil {
			return Location{}, noUserInfo(u)
		}
		loc = Location{Kind: KindS3, Bucket: u.Host}
		path = u.Path
	default:
		return Location{}, fmt.Errorf("%w: scheme %q: use %s", ErrBadURL, u.Scheme, urlForms)
	}
	loc.Prefix, err = cleanPrefix(path)
	if err != nil {
		return Location{}, err
	}
	return loc, loc.validate()
}

// parseAzureHTTP reads the https forms: ACCOUNT.blob.SUFFIX/CONTAINER/PREFIX (or .dfs., the
// same data through the Blob API), or the path style of an emulator on loopback:
// HOST:PORT/ACCOUNT/CONTAINER/PREFIX. Plain http is accepted only on loopback, where Azurite
// runs: elsewhere it would send SAS tokens and signatures in the clear.
func parseAzureHTTP(u *url.URL) (Location, string, error) {
	host := u.Hostname()
	loopback := host == "localhost"
	if ip := net.ParseIP(host); ip != nil {
		loopback = ip.IsLoopback()
	}
	if strings.EqualFold(u.Scheme, "http") && !loopback {
		return Location{}, "", fmt.Errorf("%w: http://%s: plain http is accepted only on loopback (an emulator); use https", ErrBadURL, u.Host)
	}
	scheme := strings.ToLower(u.Scheme)
	if account, rest, ok := strings.Cut(host, "."); ok && net.ParseIP(host) == nil {
		service, suffix, _ := strings.Cut(rest, ".")
		if (service == "blob" || service == "dfs") && suffix != "" {
			endpoint := scheme + "://" + account + ".blob." + suffix
			if u.Port() != "" {
				endpoint += ":" + u.Port()
			}
			loc := Location{Kind: KindAzure, Account: account, ServiceURL: endpoint}
			var path string
			loc.Bucket, path = cutSegment(u.Path)
			return loc, path, nil
		}
	}
	if !loopback {
		return Location{}, "", fmt.Errorf("%w: https://%s is not an Azure Blob endpoint (ACCOUNT.blob.…); "+
			"S3-compatible storage is addressed as s3://BUCKET/PREFIX with its endpoint given apart", ErrBadURL, u.Host)
	}
	account, path := cutSegment(u.Path)
	loc := Location{Kind: KindAzure, Account: account, ServiceURL: scheme + "://" + u.Host + "/" + account}
	loc.Bucket, path = cutSegment(path)
	return loc, path, nil
}

func noUserInfo(u *url.URL) error {
	return fmt.Errorf("%w: %s://… has a user or password; credentials never go in the URL (docs/publish.md)", ErrBadURL, u.Scheme)
}

// cutSegment splits "/first/rest…" into "first" and "/rest…".
func cutSegment(p string) (string, string) {
	p = strings.TrimPrefix(p, "/")
	first, rest, _ := strings.Cut(p, "/")
	return first, rest
}

// cleanPrefix trims slashes and refuses empty, "." and ".." segments, so that the keys a Store
// writes are exactly the ones a reader of the same URL finds.
func cleanPrefix(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return "", fmt.Errorf("%w: prefix %q: no empty, . or .. folder names", ErrBadURL, p)
		}
	}
	return p, nil
}

func (l Location) validate() error {
	switch l.Kind {
	case KindAzure:
		if !azureAccountRE.MatchString(l.Account) {
			return fmt.Errorf("%w: storage account %q: 3 to 24 lowercase letters and digits", ErrBadURL, l.Account)
		}
		if !azureContainerRE.MatchString(l.Bucket) {
			return fmt.Errorf("%w: container %q: 3 to 63 lowercase letters, digits and single hyphens (give azblob://ACCOUNT/CONTAINER/PREFIX)", ErrBadURL, l.Bucket)
		}
	case KindS3:
		if !s3BucketRE.MatchString(l.Bucket) || strings.Contains(l.Bucket, "..") {
			return fmt.Errorf("%w: bucket %q: 3 to 63 lowercase letters, digits, dots and hyphens (give s3://BUCKET/PREFIX)", ErrBadURL, l.Bucket)
		}
	}
	return nil
}

// String is the location as a URL in its canonical form: azblob://ACCOUNT/CONTAINER/PREFIX for
// Azure's public cloud, the service URL followed by CONTAINER/PREFIX for any other endpoint,
// s3://BUCKET/PREFIX for S3. It never holds a secret, so it may be logged.
func (l Location) String() string {
	var b strings.Builder
	switch {
	case l.Kind == KindS3:
		b.WriteString("s3://" + l.Bucket)
	case l.ServiceURL == "https://"+l.Account+".blob.core.windows.net":
		b.WriteString("azblob://" + l.Account + "/" + l.Bucket)
	default:
		b.WriteString(l.ServiceURL + "/" + l.Bucket)
	}
	if l.Prefix != "" {
		b.WriteString("/" + l.Prefix)
	}
	return b.String()
}

// Key is the full object name of key (relative to the prefix) inside the bucket.
func (l Location) Key(key string) string {
	if l.Prefix == "" {
		return key
	}
	return l.Prefix + "/" + key
}

// Relative is the key, relative to the prefix, of a full object name inside the bucket.
func (l Location) Relative(name string) string {
	if l.Prefix == "" {
		return name
	}
	return strings.TrimPrefix(name, l.Prefix+"/")
}
