package delivery

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// The headers of a webhook request (docs/detect.md, "Webhook requests").
const (
	HeaderFindingID    = "X-Mcasload-Finding-Id"
	HeaderNotification = "X-Mcasload-Notification"
	HeaderTimestamp    = "X-Mcasload-Timestamp"
	HeaderSignature    = "X-Mcasload-Signature"
	// HeaderIdempotencyKey is "<id>.<notification>", the same on every retry of one delivery
	// (draft-ietf-httpapi-idempotency-key-header).
	HeaderIdempotencyKey = "Idempotency-Key"
)

// minKeyBytes is the shortest HMAC key accepted: shorter keys are guessable.
const minKeyBytes = 16

// webhookSink POSTs one finding per request, so the receiver's status code is the answer for
// exactly that finding: 2xx is accepted; 408, 429, 5xx, timeouts and broken connections are
// retried with backoff (429 and 503 after the Retry-After they ask for); anything else fails at
// once. After a finding fails for a reason that is the receiver's (down, refusing, gone), the
// rest of the run's findings are not tried: they are kept for the next run.
type webhookSink struct {
	spec   Spec
	opts   Options
	client *http.Client
	key    []byte
}

func newWebhookSink(sp Spec, opts Options) (*webhookSink, error) {
	w := &webhookSink{spec: sp, opts: opts}
	if sp.SecretFile != "" {
		data, err := readPrivateFile(sp.SecretFile, "secret file")
		if err != nil {
			return nil, &SpecError{Sink: sp.String(), Err: err}
		}
		w.key = bytes.TrimSpace(data)
		if len(w.key) < minKeyBytes {
			return nil, specErrorf(sp.String(), "secret file %s holds %d bytes: an HMAC key needs %d at least; "+
				"write 32 random bytes, for example: head -c 32 /dev/urandom | base64 > %s", sp.SecretFile, len(w.key), minKeyBytes, sp.SecretFile)
		}
	}
	tlsCfg, err := tlsConfig(sp)
	if err != nil {
		return nil, err
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = http.ProxyFromEnvironment
	tr.TLSClientConfig = tlsCfg
	w.client = &http.Client{
		Transport: tr,
		// A redirect would re-send a signed finding to a URL nobody configured.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return w, nil
}

// tlsConfig is TLS 1.2 or later, verifying the receiver against the system's roots plus CAFile,
// with a client certificate when the spec gives one.
func tlsConfig(sp Spec) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: sp.ServerName}
	if sp.CAFile != "" {
		pem, err := os.ReadFile(sp.CAFile)
		if err != nil {
			return nil, specErrorf(sp.String(), "read CA file: %w: fix ca=", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, specErrorf(sp.String(), "CA file %s holds no PEM certificate: give the CA's certificate (-----BEGIN CERTIFICATE-----)", sp.CAFile)
		}
		cfg.RootCAs = pool
	}
	if sp.CertFile != "" {
		keyPEM, err := readPrivateFile(sp.KeyFile, "TLS key file")
		if err != nil {
			return nil, &SpecError{Sink: sp.String(), Err: err}
		}
		certPEM, err := os.ReadFile(sp.CertFile)
		if err != nil {
			return nil, specErrorf(sp.String(), "read certificate file: %w: fix cert=", err)
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, specErrorf(sp.String(), "certificate %s and key %s do not make a key pair (are both PEM, and do they match?)", sp.CertFile, sp.KeyFile)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

func (w *webhookSink) ID() string     { return w.spec.ID() }
func (w *webhookSink) String() string { return w.spec.String() }

func (w *webhookSink) Close() error {
	w.client.CloseIdleConnections()
	return nil
}

func (w *webhookSink) Deliver(ctx context.Context, findings []Finding) []error {
	errs := make([]error, len(findings))
	var down string
	for i := range findings {
		f := &findings[i]
		if err := ctx.Err(); err != nil {
			errs[i] = fmt.Errorf("not sent: stopped (%w); kept for the next run", err)
			continue
		}
		if down != "" {
			errs[i] = fmt.Errorf("not sent: the receiver failed finding %s earlier in this run; kept for the next run", down)
			continue
		}
		var receiverFault bool
		receiverFault, errs[i] = w.send(ctx, f)
		if errs[i] != nil && receiverFault {
			down = f.ID
		}
	}
	return errs
}

// attempt is the outcome of one request.
type attempt struct {
	err error
	// retry: another attempt may succeed. receiver: the failure is the receiver's, not this
	// finding's, so later findings would fail alike.
	retry, receiver bool
	// wait is what Retry-After asked for, when hasWait.
	wait    time.Duration
	hasWait bool
}

// send tries one finding up to Attempts times; receiverFault tells Deliver to stop.
func (w *webhookSink) send(ctx context.Context, f *Finding) (receiverFault bool, err error) {
	body, err := w.payload(f)
	if err != nil {
		return false, fmt.Errorf("encode finding: %w", err)
	}
	for n := 1; ; n++ {
		a := w.post(ctx, f, body)
		if a.err == nil {
			return false, nil
		}
		of := fmt.Sprintf(" (attempt %d of %d)", n, w.spec.Attempts)
		if ctx.Err() != nil {
			return true, fmt.Errorf("stopped: %w; kept for the next run", ctx.Err())
		}
		if !a.retry || n >= w.spec.Attempts {
			return a.receiver, fmt.Errorf("%w%s; kept for the next run", a.err, of)
		}
		wait := backoff(n, w.opts.Jitter)
		if a.hasWait {
			if a.wait > w.spec.MaxWait {
				return true, fmt.Errorf("%w%s, and asks to wait %s, longer than max-wait=%s; kept for the next run",
					a.err, of, a.wait, w.spec.MaxWait)
			}
			wait = a.wait
		}
		w.opts.Log.Warn("webhook delivery failed, retrying", "sink", w.spec.String(), "finding", f.ID,
			"attempt", n, "of", w.spec.Attempts, "error", a.err.Error(), "retry_in", wait.String())
		if err := w.opts.Clock.Sleep(ctx, wait); err != nil {
			return true, fmt.Errorf("stopped: %w; kept for the next run", err)
		}
	}
}

func (w *webhookSink) payload(f *Finding) ([]byte, error) {
	switch w.spec.Format {
	case "teams":
		return encodeJSON(teamsMessage(f))
	case "slack":
		return encodeJSON(slackMessage(f))
	}
	return f.MarshalJSON()
}

// Sign is the signature header's value for a body sent at timestamp (Unix seconds):
// "sha256=" and the hex HMAC-SHA256, under key, of the timestamp, a '.', and the body.
func Sign(key []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(timestamp))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends the finding once.
func (w *webhookSink) post(ctx context.Context, f *Finding, body []byte) attempt {
	rctx, cancel := context.WithTimeout(ctx, w.spec.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, w.spec.URL, bytes.NewReader(body))
	if err != nil {
		return attempt{err: errors.New("build the request: the URL is not usable (check the sink)"), receiver: true}
	}
	ts := strconv.FormatInt(w.opts.Clock.Now().Unix(), 10)
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "mcasload/"+w.opts.Version)
	h.Set(HeaderFindingID, f.ID)
	h.Set(HeaderNotification, strconv.Itoa(f.Notification))
	h.Set(HeaderIdempotencyKey, f.ID+"."+strconv.Itoa(f.Notification))
	h.Set(HeaderTimestamp, ts)
	if w.key != nil {
		h.Set(HeaderSignature, Sign(w.key, ts, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return w.transportFailure(ctx, rctx, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return attempt{}
	}
	return w.statusFailure(resp, w.clean(snippet))
}

// transportFailure explains a request that got no answer. The error of net/http names the URL,
// which is a secret: only the cause underneath is shown.
func (w *webhookSink) transportFailure(ctx, rctx context.Context, err error) attempt {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err
	}
	cause := w.clean([]byte(err.Error()))
	switch {
	case ctx.Err() != nil:
		return attempt{err: ctx.Err(), receiver: true}
	case rctx.Err() != nil:
		return attempt{err: fmt.Errorf("no answer within timeout=%s: the receiver hangs or is slow; check it, or raise timeout=", w.spec.Timeout),
			retry: true, receiver: true}
	case isCertError(err):
		return attempt{err: fmt.Errorf("the receiver's TLS certificate is not trusted (%s): if it comes from a private CA, give ca=/PATH/ca.pem", cause),
			receiver: true}
	}
	return attempt{err: fmt.Errorf("could not reach the receiver: %s", cause), retry: true, receiver: true}
}

func isCertError(err error) bool {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	return errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify)
}

// statusFailure explains an answer other than 2xx and says whether to retry.
func (w *webhookSink) statusFailure(resp *http.Response, body string) attempt {
	code := resp.StatusCode
	status := strconv.Itoa(code) + " " + http.StatusText(code)
	if body != "" {
		status += ": " + body
	}
	wait, hasWait := retryAfter(resp.Header.Get("Retry-After"), w.opts.Clock.Now())
	a := attempt{receiver: true, wait: wait, hasWait: hasWait && (code == 429 || code == 503)}
	switch {
	case code == http.StatusTooManyRequests:
		a.err, a.retry = fmt.Errorf("the receiver throttled the request (%s)", status), true
	case code == http.StatusRequestTimeout || code >= 500:
		a.err, a.retry = fmt.Errorf("the receiver failed (%s)", status), true
	case code >= 300 && code < 400:
		a.err = fmt.Errorf("the receiver redirected (%s to %s): give the final URL in the sink", strconv.Itoa(code), w.redirectHost(resp))
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		a.err = fmt.Errorf("the receiver refused the request (%s): check the URL, and that the receiver holds the key in secret=", status)
	case code == http.StatusNotFound || code == http.StatusGone:
		a.err = fmt.Errorf("the webhook is gone (%s): the workflow or webhook was deleted or turned off; make a new one and update the sink", status)
	case code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge || code == http.StatusUnprocessableEntity:
		a.err, a.receiver = fmt.Errorf("the receiver refused the payload (%s): check that format=%s is what it expects", status, w.spec.Format), false
	default:
		a.err = fmt.Errorf("the receiver answered %s", status)
	}
	return a
}

func (w *webhookSink) redirectHost(resp *http.Response) string {
	loc, err := resp.Location()
	if err != nil {
		return "nowhere"
	}
	return loc.Scheme + "://" + loc.Host + "/…"
}

// clean makes a receiver's text fit for an error message: printable, one line, short, and
// without the URL's secret parts or the key should a receiver echo them.
func (w *webhookSink) clean(b []byte) string {
	s := strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, string(b))
	s = strings.Join(strings.Fields(s), " ")
	if u, err := url.Parse(w.spec.URL); err == nil {
		for _, secret := range []string{w.spec.URL, u.RawQuery, u.EscapedPath(), u.Path} {
			if len(secret) > 1 {
				s = strings.ReplaceAll(s, secret, "[redacted]")
			}
		}
	}
	if len(w.key) > 0 {
		s = strings.ReplaceAll(s, string(w.key), "[redacted]")
	}
	return shorten(s, 200)
}
