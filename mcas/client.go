// Package mcas is the client of the Microsoft Defender for Cloud Apps Activities API: legacy
// token and Entra ID authentication, the one rate limiter every request waits on, the one retry
// policy, non-scan paging (List) and scan iteration (Scan) that fetches every activity exactly
// once even when thousands of them share one millisecond.
package mcas

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
)

// Config says where the API is, how to authenticate and how patient to be. Only URL and Auth
// are required.
type Config struct {
	// URL is the tenant's API URL from the portal's About page, e.g.
	// https://contoso.eu2.portal.cloudappsecurity.com (a path up to /api/v1/activities/ is kept).
	// Plain http is accepted only for loopback hosts (the simulator).
	URL  string
	Auth Auth

	// Transport replaces the client's own TLS-verifying, proxy-honouring transport (CAFile and
	// Proxy are then ignored). Tests and the simulator use it.
	Transport http.RoundTripper
	// CAFile adds PEM certificates of private CAs to the system roots. TLS is always verified.
	CAFile string
	// Proxy chooses a proxy per request; nil means http.ProxyFromEnvironment (HTTPS_PROXY,
	// NO_PROXY), which never proxies loopback, hence injectable for tests.
	Proxy func(*http.Request) (*url.URL, error)

	// Limiter is the process-wide budget; share one between every client and scan slice. Nil
	// creates a private one with the defaults on Clock.
	Limiter *Limiter
	Clock   clock.Clock // nil means the wall clock
	Retry   RetryPolicy
	// RequestTimeout bounds one attempt (connect to last byte); default 120 s.
	RequestTimeout time.Duration
	// DeepOffsetCeiling is the largest skip+limit the service serves outside scan mode;
	// default 5000.
	DeepOffsetCeiling int
	Logger            *slog.Logger
	UserAgent         string // default "mcasload"
	// Jitter returns a number in [0, 1) that spreads retry delays; default math/rand/v2.
	Jitter func() float64
}

// String describes the config without secrets.
func (c Config) String() string {
	auth := "none"
	if c.Auth != nil {
		auth = fmt.Sprint(c.Auth)
	}
	return fmt.Sprintf("mcas.Config{URL:%s Auth:%s CAFile:%q}", redactURL(c.URL), auth, c.CAFile)
}

// GoString describes the config without secrets.
func (c Config) GoString() string { return c.String() }

// RetryPolicy is the one retry policy: 5xx answers, connection resets, timeouts and truncated or
// invalid JSON are retried with exponential backoff and jitter; 429 waits as the service says.
type RetryPolicy struct {
	MaxAttempts   int           // sends per request, the first included; default 6
	BaseDelay     time.Duration // delay before the first retry; default 1 s, doubling each time
	MaxDelay      time.Duration // cap of one delay; default 60 s
	MaxThrottles  int           // 429 answers tolerated for one request; default 20
	MaxRetryAfter time.Duration // cap of one 429 wait; default 15 min
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 6
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = time.Second
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = time.Minute
	}
	if p.MaxThrottles <= 0 {
		p.MaxThrottles = 20
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = 15 * time.Minute
	}
	return p
}

// backoff is the delay before retry number n (1-based): BaseDelay·2^(n-1), capped, with the
// upper half jittered so parallel slices do not retry in lockstep.
func (p RetryPolicy) backoff(n int, jitter func() float64) time.Duration {
	d := p.BaseDelay
	for i := 1; i < n && d < p.MaxDelay; i++ {
		d *= 2
	}
	d = min(d, p.MaxDelay)
	return d/2 + time.Duration(jitter()*float64(d/2))
}

// Client talks to one tenant's Activities API. It is safe for concurrent use.
type Client struct {
	endpoint string
	http     *http.Client
	auth     Auth
	cred     credentialSource
	limiter  *Limiter
	clock    clock.Clock
	retry    RetryPolicy
	timeout  time.Duration
	ceiling  int
	log      *slog.Logger
	ua       string
	jitter   func() float64
	proxy    func(*http.Request) (*url.URL, error)
	scrub    scrubber
	stats    counters
	noDate   sync.Once // logs the first answer without a usable Date header
	reorder  sync.Once // logs the first scan whose pages come in the other order
}

type counters struct {
	requests, throttled, retries, bytes, tokenFetches, stalls, emptyEnds atomic.Int64
}

// Stats are the client's counters for a run summary.
type Stats struct {
	Requests     int64         // requests sent, retries included
	Throttled    int64         // 429 answers
	Retries      int64         // requests sent again after a failure
	Bytes        int64         // response bytes read
	TokenFetches int64         // Entra tokens fetched
	Stalls       int64         // tie groups fetched outside scan mode
	EmptyEnds    int64         // empty last pages that were not the end (see Scan)
	ThrottleWait time.Duration // time spent waiting for the shared limiter's budget (measured; see Limiter.Waited)
	// RateWait is how long until the first caller waiting for the budget may send, and
	// RateWaiting whether one waits now (see Limiter.Waiting).
	RateWait    time.Duration
	RateWaiting bool
}

// Stats returns the counters so far.
func (c *Client) Stats() Stats {
	s := Stats{
		Requests:     c.stats.requests.Load(),
		Throttled:    c.stats.throttled.Load(),
		Retries:      c.stats.retries.Load(),
		Bytes:        c.stats.bytes.Load(),
		TokenFetches: c.stats.tokenFetches.Load(),
		Stalls:       c.stats.stalls.Load(),
		EmptyEnds:    c.stats.emptyEnds.Load(),
		ThrottleWait: c.limiter.Waited(),
	}
	s.RateWait, s.RateWaiting = c.limiter.Waiting()
	return s
}

// Limiter returns the limiter the client waits on.
func (c *Client) Limiter() *Limiter { return c.limiter }

// Endpoint returns the activities URL requests go to.
func (c *Client) Endpoint() string { return c.endpoint }

// NewClient checks cfg and builds a client. Nothing is sent until the first request.
func NewClient(cfg Config) (*Client, error) {
	endpoint, err := activitiesEndpoint(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Auth == nil {
		return nil, newAuthError(kindErrorf(ErrNoCredentials, "new client: no credentials: set Config.Auth to a TokenAuth or an EntraAuth"))
	}
	if err := cfg.Auth.validate(); err != nil {
		return nil, err
	}
	c := &Client{
		endpoint: endpoint,
		auth:     cfg.Auth,
		limiter:  cfg.Limiter,
		clock:    cfg.Clock,
		retry:    cfg.Retry.withDefaults(),
		timeout:  cfg.RequestTimeout,
		ceiling:  cfg.DeepOffsetCeiling,
		log:      cfg.Logger,
		ua:       cfg.UserAgent,
		jitter:   cfg.Jitter,
		proxy:    cfg.Proxy,
	}
	if c.clock == nil {
		c.clock = clock.Real{}
	}
	if c.limiter == nil {
		c.limiter = NewLimiter(c.clock, 0, 0)
	}
	if c.timeout <= 0 {
		c.timeout = 120 * time.Second
	}
	if c.ceiling <= 0 {
		c.ceiling = 5000
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.ua == "" {
		c.ua = "mcasload"
	}
	if c.jitter == nil {
		c.jitter = rand.Float64
	}
	if c.proxy == nil {
		c.proxy = http.ProxyFromEnvironment
	}
	transport := cfg.Transport
	if transport == nil {
		transport, err = newTransport(cfg.CAFile, c.proxy)
		if err != nil {
			return nil, err
		}
	}
	c.http = &http.Client{Transport: transport}
	c.cred = cfg.Auth.newSource(c)
	return c, nil
}

// activitiesEndpoint turns the configured URL into the activities endpoint.
func activitiesEndpoint(raw string) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("new client: no API URL: want the tenant's API URL from the portal (Settings > Cloud Apps > About)")
	}
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("new client: bad API URL %s: want https://<tenant>.<region>.portal.cloudappsecurity.com", redactURL(raw))
	}
	if u.User != nil {
		return "", kindErrorf(ErrURLCredentials, "new client: the API URL %s must not contain credentials: they belong in Config.Auth", redactURL(raw))
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return "", fmt.Errorf("new client: refusing plain http to %s: the token would travel unencrypted; use https", u.Host)
		}
	default:
		return "", fmt.Errorf("new client: bad API URL scheme %q: use https", u.Scheme)
	}
	u.RawQuery, u.Fragment = "", ""
	p := strings.TrimRight(u.Path, "/")
	if i := strings.Index(p, "/api/v1/activities"); i >= 0 {
		p = p[:i]
	}
	u.Path = p + "/api/v1/activities/"
	u.RawPath = ""
	return u.String(), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newTransport is a clone of the default transport that always verifies TLS, with caFile's
// certificates added to the system roots.
func newTransport(caFile string, proxy func(*http.Request) (*url.URL, error)) (*http.Transport, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = proxy
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("new client: read CA file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("new client: CA file %s holds no PEM certificate", caFile)
		}
		tlsCfg.RootCAs = pool
	}
	tr.TLSClientConfig = tlsCfg
	return tr, nil
}

// redactURL shows a URL without user info and query, which may carry credentials.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparseable URL]"
	}
	u.User = nil
	u.RawQuery = ""
	u.Fragment = ""
	return u.String()
}

// transportError drops the URL that net/http puts into its errors (it may carry credentials)
// and secrets any lower layer echoed, keeping the cause for errors.Is.
func transportError(err error, s *scrubber) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return s.scrubErr(err)
}

// isCertError reports a failed certificate verification, which no retry can fix.
func isCertError(err error) bool {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr x509.CertificateInvalidError
	return errors.As(err, &verr) || errors.As(err, &uerr) || errors.As(err, &herr) || errors.As(err, &cerr)
}

// requestBody is what the Activities endpoint reads from a JSON POST.
type requestBody struct {
	Filters       json.RawMessage `json:"filters"`
	Skip          int             `json:"skip,omitempty"`
	Limit         int             `json:"limit"`
	SortField     string          `json:"sortField"`
	SortDirection string          `json:"sortDirection"`
	IsScan        bool            `json:"isScan,omitempty"`
}

// envelope is the response to a list or scan request.
type envelope struct {
	Total   int               `json:"total"`
	HasNext bool              `json:"hasNext"`
	Data    []json.RawMessage `json:"data"`
	Next    json.RawMessage   `json:"nextQueryFilters"`
	bytes   int
	// The answer's Date header (the service's clock) and the local time it arrived.
	date     time.Time
	dateOK   bool
	dateRaw  string
	received time.Time
}

// callOptions tune one call.
type callOptions struct {
	op      string // for logs: "scan", "list", "check"
	noRetry bool   // Check: report the first failure instead of waiting or retrying
}

// errInvalidResponse marks a 200 whose body is not the envelope (truncated, HTML, bad JSON).
var errInvalidResponse = errors.New("invalid response")

// call sends body and decodes the envelope, waiting on the limiter before every send and
// applying the retry policy.
func (c *Client) call(ctx context.Context, body requestBody, opts callOptions) (*envelope, error) {
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode request: %w", err)
	}
	attempts, throttles := 0, 0
	refreshed := false
	for {
		if err := c.limiter.Wait(ctx); err != nil {
			return nil, err
		}
		attempts++
		env, status, msg, retryAfter, err := c.send(ctx, payload, opts.op, attempts)
		if err == nil {
			return env, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, ErrAuth) && status == 0 {
			return nil, err // no credential to send: retrying cannot help
		}
		if isCertError(err) {
			if errors.Is(err, ErrUntrustedCertificate) {
				return nil, err // the sign-in's authority: the error says so
			}
			return nil, kindErrorf(ErrUntrustedCertificate, "mcas: the server's TLS certificate is not trusted: %w", err)
		}
		switch {
		case status == http.StatusTooManyRequests:
			c.stats.throttled.Add(1)
			throttles++
			attempts-- // waiting out the budget is not a failed attempt
			wait := min(retryAfter, c.retry.MaxRetryAfter)
			c.limiter.Throttled(wait)
			c.log.InfoContext(ctx, "throttled by the service; every request waits", "op", opts.op, "wait", wait)
			if opts.noRetry || throttles > c.retry.MaxThrottles {
				return nil, &APIError{Status: status, Message: msg, Attempts: throttles}
			}
			continue
		case status == http.StatusUnauthorized:
			if !refreshed && !opts.noRetry && c.cred.invalidate() {
				refreshed = true
				attempts--
				c.log.InfoContext(ctx, "the service refused the token; fetching a new one", "op", opts.op)
				continue
			}
			return nil, &APIError{Status: status, Message: msg, Attempts: attempts}
		case status >= 400 && status < 500:
			return nil, &APIError{Status: status, Message: msg, Attempts: attempts}
		}
		// 5xx, transport failures and invalid bodies are worth another try.
		if opts.noRetry || attempts >= c.retry.MaxAttempts {
			if status >= 500 {
				return nil, &APIError{Status: status, Message: msg, Attempts: attempts}
			}
			return nil, kindErrorf(ErrUnreachable, "mcas: request failed after %d attempts: %w", attempts, err)
		}
		delay := c.retry.backoff(attempts, c.jitter)
		c.stats.retries.Add(1)
		c.log.WarnContext(ctx, "request failed; retrying", "op", opts.op, "attempt", attempts, "status", status, "error", err.Error(), "delay", delay)
		if err := c.clock.Sleep(ctx, delay); err != nil {
			return nil, err
		}
	}
}

// send makes one attempt. On failure it returns the status (0 when there was no response), the
// server's message and, for 429, how long to wait.
func (c *Client) send(ctx context.Context, payload []byte, op string, attempt int) (env *envelope, status int, msg string, retryAfter time.Duration, err error) {
	auth, err := c.cred.header(ctx)
	if err != nil {
		if errors.Is(err, ErrAuth) {
			return nil, 0, "", 0, err
		}
		return nil, 0, "", 0, fmt.Errorf("get credentials: %w", err) // token endpoint unreachable: retry
	}
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, c.endpoint, bytes.NewReader(payload))
	if err != nil {
		return nil, 0, "", 0, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.ua)
	start := c.clock.Now()
	c.stats.requests.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		c.scrubProxy(req)
		err = transportError(err, &c.scrub)
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("no complete answer within %s: %w", c.timeout, err)
		}
		c.log.DebugContext(ctx, "mcas request failed", "op", op, "url", c.endpoint, "attempt", attempt, "error", err.Error())
		return nil, 0, "", 0, fmt.Errorf("post %s: %w", c.endpoint, err)
	}
	defer resp.Body.Close()
	body, rerr := io.ReadAll(resp.Body)
	c.stats.bytes.Add(int64(len(body)))
	c.log.DebugContext(ctx, "mcas request", "op", op, "url", c.endpoint, "attempt", attempt, "status", resp.StatusCode,
		"bytes", len(body), "elapsed", c.clock.Now().Sub(start))
	if resp.StatusCode != http.StatusOK {
		msg := c.scrub.scrub(serverMessage(body))
		var wait time.Duration
		if resp.StatusCode == http.StatusTooManyRequests {
			wait = throttleWait(resp.Header.Get("Retry-After"), body, c.clock.Now())
		}
		return nil, resp.StatusCode, msg, wait, fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	if rerr != nil {
		return nil, resp.StatusCode, "", 0, fmt.Errorf("read response after %d bytes: %w", len(body), transportError(rerr, &c.scrub))
	}
	env = &envelope{bytes: len(body), dateRaw: resp.Header.Get("Date"), received: c.clock.Now()}
	env.date, env.dateOK = parseDate(env.dateRaw)
	if err := json.Unmarshal(body, env); err != nil {
		return nil, resp.StatusCode, "", 0, fmt.Errorf("%w: %d bytes that are not the activities JSON envelope: %v", errInvalidResponse, len(body), err)
	}
	if env.Data == nil {
		return nil, resp.StatusCode, "", 0, fmt.Errorf("%w: the JSON has no data array", errInvalidResponse)
	}
	return env, 0, "", 0, nil
}

// scrubProxy learns the password of the proxy chosen for req so no error can show it.
func (c *Client) scrubProxy(req *http.Request) {
	if u, err := c.proxy(req); err == nil && u != nil && u.User != nil {
		if p, ok := u.User.Password(); ok {
			c.scrub.add(p)
		}
		c.scrub.add(u.User.String())
	}
}

// serverMessage extracts the human part of an error body: error.message or message or detail
// of a JSON body, else the text with HTML tags removed, shortened.
func serverMessage(body []byte) string {
	var j struct {
		Error   json.RawMessage `json:"error"`
		Message string          `json:"message"`
		Detail  string          `json:"detail"`
	}
	if json.Unmarshal(body, &j) == nil {
		var e struct {
			Message string `json:"message"`
		}
		var s string
		switch {
		case json.Unmarshal(j.Error, &e) == nil && e.Message != "":
			return shorten(e.Message)
		case json.Unmarshal(j.Error, &s) == nil && s != "":
			return shorten(s)
		case j.Message != "":
			return shorten(j.Message)
		case j.Detail != "":
			return shorten(j.Detail)
		}
	}
	return shortText(body)
}

var (
	htmlTag    = regexp.MustCompile(`(?s)<script.*?</script>|<style.*?</style>|<[^>]*>`)
	spaces     = regexp.MustCompile(`\s+`)
	bodySecond = regexp.MustCompile(`(?i)(\d+(?:\.\d+)?)\s*(?:seconds?|secs?\b|s\b)`)
)

// shortText is a body as one short line of text.
func shortText(body []byte) string {
	s := htmlTag.ReplaceAllString(string(body), " ")
	s = strings.TrimSpace(spaces.ReplaceAllString(s, " "))
	if s == "" {
		return "(empty body)"
	}
	return shorten(s)
}

func shorten(s string) string {
	const max = 300
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// throttleWait is how long a 429 asks to wait: Retry-After (seconds or an HTTP date), else the
// seconds in the body ("… available in 42 seconds."), else the documented minute.
func throttleWait(header string, body []byte, now time.Time) time.Duration {
	if h := strings.TrimSpace(header); h != "" {
		if n, err := strconv.ParseFloat(h, 64); err == nil && n >= 0 {
			return max(time.Duration(n*float64(time.Second)), time.Second)
		}
		if t, err := http.ParseTime(h); err == nil {
			return max(t.Sub(now), time.Second)
		}
	}
	if m := bodySecond.FindSubmatch(body); m != nil {
		if n, err := strconv.ParseFloat(string(m[1]), 64); err == nil && n >= 0 {
			return max(time.Duration(n*float64(time.Second)), time.Second)
		}
	}
	return time.Minute
}
