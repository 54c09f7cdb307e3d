package streaming

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/mcasload/mcasload/mcas"
)

// DefaultContainer is the container the Streaming API writes CloudAppEvents to: one container per
// table, named insights-logs-advancedhunting-<table> (Azure Monitor's insights-logs-<category>
// convention with the category AdvancedHunting-CloudAppEvents, lower-cased).
const DefaultContainer = "insights-logs-advancedhunting-cloudappevents"

// Credential is how to reach the storage account: exactly one of a connection string (account
// key or SAS inside), a SAS token for AccountURL, or an Entra ID token credential (from
// mcas.EntraAuth.TokenCredential) for AccountURL. Secrets are mcas.Secret, so they print as
// "[redacted]" wherever they end up.
type Credential struct {
	ConnectionString mcas.Secret
	SAS              mcas.Secret
	Token            azcore.TokenCredential
	// TokenKind names the token credential in messages, e.g. "entra managed identity".
	TokenKind string
}

// Kind names the credential for messages and summaries.
func (c Credential) Kind() string {
	switch {
	case !c.ConnectionString.Empty():
		return "connection string"
	case !c.SAS.Empty():
		return "SAS token"
	case c.Token != nil && c.TokenKind != "":
		return c.TokenKind
	case c.Token != nil:
		return "entra token"
	}
	return "none"
}

// Config says which container to read and how.
type Config struct {
	// AccountURL is the Blob service endpoint, e.g. https://ACCOUNT.blob.core.windows.net (Azurite:
	// http://127.0.0.1:10000/devstoreaccount1). A connection string carries its own endpoint;
	// AccountURL may then be empty, else it must name the same one.
	AccountURL string
	// Container defaults to DefaultContainer.
	Container  string
	Credential Credential
	// HTTPClient carries requests (its TLS roots, proxy); nil means http.DefaultTransport's
	// settings with a 60 s limit on waiting for an answer's headers. It must set no overall
	// Timeout: a blob's body is read while the caller commits batch after batch.
	HTTPClient *http.Client
	// Retries is how often a failed request is tried again (0: 3; negative: never).
	Retries int
}

// Store reads the blobs of one container: in a storage account (Open), or copied to a local
// folder (OpenFolder). It is safe for concurrent use.
type Store struct {
	cc        *container.Client // nil for a folder
	dir       string            // the folder's absolute path, "" for a storage account
	container string
	endpoint  string // the account URL without credentials (a folder's file:// URL), for messages and cursor keys
	redact    *redactor
}

// Open checks cfg and returns a Store; it sends no request.
func Open(cfg Config) (*Store, error) {
	cc, endpoint, r, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	return &Store{cc: cc, container: cmp.Or(cfg.Container, DefaultContainer), endpoint: endpoint, redact: r}, nil
}

// ContainerClient returns the SDK's client of cfg's container, checked as Open checks it, for a
// writer: the simulator appends its stream through it.
func ContainerClient(cfg Config) (*container.Client, error) {
	cc, _, _, err := newClient(cfg)
	return cc, err
}

// newClient checks cfg and builds the container client, the account's endpoint (for messages)
// and the redactor of the credential's secrets.
func newClient(cfg Config) (*container.Client, string, *redactor, error) {
	cfg.Container = cmp.Or(cfg.Container, DefaultContainer)
	cred := cfg.Credential
	n := 0
	for _, set := range []bool{!cred.ConnectionString.Empty(), !cred.SAS.Empty(), cred.Token != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, "", nil, fmt.Errorf("open storage: give exactly one credential (a connection string, a SAS token or an Entra ID sign-in), got %d", n)
	}
	r := newRedactor(cred)
	hc := cfg.HTTPClient
	if hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.ResponseHeaderTimeout = 60 * time.Second
		hc = &http.Client{Transport: tr}
	}
	opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: quietTransport{hc},
		Retry:     policy.RetryOptions{MaxRetries: int32(cmp.Or(cfg.Retries, 3)), RetryDelay: time.Second, MaxRetryDelay: 10 * time.Second},
		Telemetry: policy.TelemetryOptions{ApplicationID: "mcasload"},
	}}
	var cc *container.Client
	var err error
	if !cred.ConnectionString.Empty() {
		cc, err = container.NewClientFromConnectionString(cred.ConnectionString.Reveal(), cfg.Container, opts)
		if err != nil {
			return nil, "", nil, fmt.Errorf("open storage: the connection string is not usable: %s (want DefaultEndpointsProtocol=https;AccountName=…;AccountKey=… or BlobEndpoint=…;SharedAccessSignature=…)", r.text(err.Error()))
		}
	} else if cc, err = urlClient(cfg, cred, opts); err != nil {
		return nil, "", nil, err
	}
	u, err := url.Parse(cc.URL())
	if err != nil {
		return nil, "", nil, fmt.Errorf("open storage: %s", r.text(err.Error()))
	}
	endpoint := u.Scheme + "://" + u.Host + strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"+cfg.Container), "/")
	if err := checkEndpoint(u, cfg.AccountURL, endpoint); err != nil {
		return nil, "", nil, err
	}
	return cc, endpoint, r, nil
}

// urlClient builds the client of AccountURL with a SAS token or a token credential.
func urlClient(cfg Config, cred Credential, opts *container.ClientOptions) (*container.Client, error) {
	u, err := url.Parse(cfg.AccountURL)
	if cfg.AccountURL == "" || err != nil || u.Host == "" {
		return nil, fmt.Errorf("open storage: the account URL %q is not a URL: want https://ACCOUNT.blob.core.windows.net", redactQuery(cfg.AccountURL))
	}
	if u.RawQuery != "" {
		return nil, fmt.Errorf("open storage: the account URL %s carries a query: give a SAS token through the environment or a file, never in a URL on a command line", redactQuery(cfg.AccountURL))
	}
	containerURL := strings.TrimSuffix(cfg.AccountURL, "/") + "/" + cfg.Container
	if cred.Token != nil {
		if u.Scheme != "https" {
			return nil, fmt.Errorf("open storage: refusing %s: an Entra ID token would travel unencrypted; use https", cfg.AccountURL)
		}
		return container.NewClient(containerURL, cred.Token, opts)
	}
	return container.NewClientWithNoCredential(containerURL+"?"+strings.TrimPrefix(cred.SAS.Reveal(), "?"), opts)
}

// checkEndpoint refuses plain http beyond loopback (a key or SAS would travel unencrypted) and an
// AccountURL that disagrees with the connection string's endpoint.
func checkEndpoint(u *url.URL, accountURL, endpoint string) error {
	if u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())) {
		return fmt.Errorf("open storage: refusing %s: credentials would travel unencrypted; use https (plain http only to a local emulator on loopback)", endpoint)
	}
	if accountURL != "" && strings.TrimSuffix(accountURL, "/") != endpoint {
		return fmt.Errorf("open storage: the account URL %s and the connection string's endpoint %s differ: give one", redactQuery(accountURL), endpoint)
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Container is the container's name.
func (s *Store) Container() string { return s.container }

// Endpoint is the account's Blob endpoint, without credentials; for a folder its file:// URL.
func (s *Store) Endpoint() string { return s.endpoint }

// Location is where the container's blobs are, for messages: ACCOUNT-URL/CONTAINER, or the
// container's folder.
func (s *Store) Location() string {
	if s.dir != "" {
		return filepath.Join(s.dir, s.container)
	}
	return s.endpoint + "/" + s.container
}

// Blob is one blob of the container as a listing saw it.
type Blob struct {
	Name string
	// Hour is the hour its path names (PathTime), zero when it names none.
	Hour    time.Time
	Size    int64
	Created time.Time
	ETag    string
	Type    string // AppendBlob (the export's), BlockBlob or PageBlob
}

// List lists the container's blobs in the window, ordered by the hour their paths name, then by
// name; blobs whose paths name no hour come last, by name. It descends the y=/m=/d=/h= folders
// only into those that meet the window, so an incremental run lists a few days, not the
// container's whole history.
func (s *Store) List(ctx context.Context, w Window) ([]Blob, error) {
	var out []Blob
	walk := s.walk
	if s.dir != "" {
		walk = s.walkFolder
	}
	if err := walk(ctx, "", pathTime{}, w, &out); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b Blob) int {
		switch {
		case a.Hour.IsZero() != b.Hour.IsZero():
			if a.Hour.IsZero() {
				return 1
			}
			return -1
		case !a.Hour.Equal(b.Hour):
			return a.Hour.Compare(b.Hour)
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// walk lists below prefix, whose folders named pt so far.
func (s *Store) walk(ctx context.Context, prefix string, pt pathTime, w Window, out *[]Blob) error {
	if start, end, ok := pt.span(); w.open() || ok && w.covers(start, end) {
		return s.listFlat(ctx, prefix, w, out) // nothing below can be pruned: one paged listing
	}
	type sub struct {
		prefix string
		pt     pathTime
	}
	var subs []sub
	pager := s.cc.NewListBlobsHierarchyPager("/", &container.ListBlobsHierarchyOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return s.fail("list blobs under "+quoted(prefix), err)
		}
		for _, p := range page.Segment.BlobPrefixes {
			seg := strings.TrimSuffix(strings.TrimPrefix(*p.Name, prefix), "/")
			next, isTime := pt.next(seg)
			if start, end, _ := next.span(); isTime && !w.overlaps(start, end) {
				continue
			}
			subs = append(subs, sub{*p.Name, next})
		}
		for _, item := range page.Segment.BlobItems {
			s.add(out, item, w)
		}
	}
	for _, sb := range subs {
		if err := s.walk(ctx, sb.prefix, sb.pt, w, out); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) listFlat(ctx context.Context, prefix string, w Window, out *[]Blob) error {
	pager := s.cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return s.fail("list blobs under "+quoted(prefix), err)
		}
		for _, item := range page.Segment.BlobItems {
			s.add(out, item, w)
		}
	}
	return nil
}

func (s *Store) add(out *[]Blob, item *container.BlobItem, w Window) {
	if item.Name == nil || !w.holds(*item.Name) {
		return
	}
	b := Blob{Name: *item.Name}
	b.Hour, _ = PathTime(b.Name)
	if p := item.Properties; p != nil {
		if p.ContentLength != nil {
			b.Size = *p.ContentLength
		}
		if p.CreationTime != nil {
			b.Created = p.CreationTime.UTC()
		}
		if p.ETag != nil {
			b.ETag = bareETag(string(*p.ETag))
		}
		if p.BlobType != nil {
			b.Type = string(*p.BlobType)
		}
	}
	*out = append(*out, b)
}

func quoted(prefix string) string {
	if prefix == "" {
		return "the container"
	}
	return prefix
}

// bareETag drops the quotes around an ETag: the listing's XML carries it bare ("0x8DD…"), the
// ETag header quoted, and the two must compare equal.
func bareETag(e string) string { return strings.Trim(e, `"`) }

// quietTransport is the HTTP client as azcore's transport, with the URL taken out of transport
// errors: a SAS token rides in the query string, and net/http puts the whole URL into its errors.
type quietTransport struct{ c *http.Client }

func (t quietTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := t.c.Do(req)
	var ue *url.Error
	if errors.As(err, &ue) {
		err = fmt.Errorf("%s %s%s: %w", req.Method, req.URL.Host, req.URL.EscapedPath(), ue.Err)
	}
	return resp, err
}

// redactQuery drops a URL's query for messages.
func redactQuery(raw string) string {
	if i := strings.IndexByte(raw, '?'); i >= 0 {
		return raw[:i] + "?[redacted]"
	}
	return raw
}
