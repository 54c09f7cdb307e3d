// Package simulator is a simulator of the Microsoft Defender for Cloud Apps activities API, in the
// spirit of net/http/httptest: NewServer starts one on loopback for a test, NewHandler serves it
// behind any listener (mcasload sim). It reproduces what makes real clients lose or duplicate
// data: scan paging that drops boundary tie groups and stalls on big ones, records that appear
// only once their created time has passed on a virtual clock, a sliding-window rate limit with
// upper-case 429s, HTML error pages and injected faults. Data comes from package synth.
package simulator

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/simulator/synth"
)

// Defaults, as observed for the real service.
const (
	DefaultRateLimit         = 30
	DefaultRateWindow        = time.Minute
	DefaultDeepOffsetCeiling = 5000
	DefaultTokenLifetime     = time.Hour
	DefaultSlowDelay         = 65 * time.Second
	DefaultTenantID          = "00000000-0000-4000-8000-00000000c0de"
	DefaultClientID          = "11111111-2222-4333-8444-555555555555"
)

// NoRateLimit turns throttling off when used as Config.RateLimit.
const NoRateLimit = -1

// Config configures a simulator. The zero value serves a default synthetic tenant on the real
// clock with the service's limits.
type Config struct {
	// Tenant is the data served; when nil, synth.New(Synth) builds it.
	Tenant *synth.Tenant
	Synth  synth.Config

	// Token is the accepted legacy API token; random (64 hex digits) when empty.
	Token string
	// TenantID, ClientID and ClientSecret are what the fake Entra ID token endpoint accepts at
	// POST /<TenantID>/oauth2/v2.0/token. The secret is random when empty.
	TenantID, ClientID, ClientSecret string
	// TokenLifetime is how long issued bearer tokens live on Clock (default 1 h).
	TokenLifetime time.Duration
	// Identity is what else Entra ID accepts: certificates, federated subjects, managed identities.
	Identity IdentityConfig

	// Clock is the service's clock: it stamps the Date header of every response and decides
	// which records are visible (created <= now − VisibilityLag), the rate window, token
	// expiry and gte_ndays/lte_ndays; a generated tenant ends at its time. Default: the real
	// clock. A clock.Offset gives a service whose clock differs from the client's.
	Clock clock.Clock
	// VisibilityLag is the service's indexing delay: a record is visible only this long after
	// its created time.
	VisibilityLag time.Duration
	// Quirks switches on reported behaviours of the real service (see Quirks).
	Quirks []Quirk

	// RateLimit is the number of requests allowed per RateWindow (default 30 per 60 s);
	// NoRateLimit turns throttling off.
	RateLimit  int
	RateWindow time.Duration
	// NoRetryAfter leaves the Retry-After header off 429 responses (the body still says when).
	NoRetryAfter bool

	// ReturnOversizedTies answers a scan whose page is one tie group by returning the whole group
	// and continuing past it, instead of the service's stall (empty page, same filters).
	ReturnOversizedTies bool
	// DeepOffsetCeiling is the largest skip+limit a non-scan request may ask for (default 5000).
	DeepOffsetCeiling int

	// PageLatency is the time a 5000-record page takes before its first byte, scaled by the page
	// size; with PageLatencyMax > PageLatency it is drawn uniformly between the two. Real time.
	PageLatency, PageLatencyMax time.Duration

	// FaultRates gives, per fault kind, the share of API requests that fail that way; FaultSeed
	// makes the sequence reproducible. Handler.FailNext forces faults deterministically.
	FaultRates map[Fault]float64
	FaultSeed  uint64
	// SlowDelay is how long a FaultSlow response waits (real time, default 65 s).
	SlowDelay time.Duration

	// Logger, when set, gets one debug line per request (method, path, status); never a credential.
	Logger *slog.Logger
}

// Stats counts what a handler served.
type Stats struct {
	Requests  int64 // API requests (activities routes), whatever their outcome
	Throttled int64 // 429s served, injected ones included
	Faults    int64 // injected faults served
	Pages     int64 // successful list and scan responses
	Records   int64 // records in those responses
	Tokens    int64 // bearer tokens issued
}

// Handler is the simulator as an http.Handler.
type Handler struct {
	cfg     Config
	tenant  *synth.Tenant
	idx     *index
	clk     clock.Clock
	auth    *authority
	limiter *limiter
	faults  *faultInjector
	ceiling int
	quirks  map[Quirk]bool

	latMu  sync.Mutex
	latRng *rand.Rand

	requests, throttled, faultCount, pages, records atomic.Int64

	bufs sync.Pool // *[]byte render buffers
	idss sync.Pool // *[]int32 page index buffers
}

// NewHandler builds the simulator's handler, generating the tenant if Config.Tenant is nil.
func NewHandler(cfg Config) *Handler {
	if cfg.Clock == nil {
		cfg.Clock = clock.Real{}
	}
	if cfg.Tenant == nil {
		if cfg.Synth.End.IsZero() {
			cfg.Synth.End = cfg.Clock.Now() // the data follows the service's clock
		}
		cfg.Tenant = synth.New(cfg.Synth)
	}
	if cfg.Token == "" {
		cfg.Token = randomHex(32)
	}
	if cfg.TenantID == "" {
		cfg.TenantID = DefaultTenantID
	}
	if cfg.ClientID == "" {
		cfg.ClientID = DefaultClientID
	}
	if cfg.ClientSecret == "" {
		cfg.ClientSecret = randomHex(20)
	}
	if cfg.TokenLifetime <= 0 {
		cfg.TokenLifetime = DefaultTokenLifetime
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = DefaultRateLimit
	}
	if cfg.RateWindow <= 0 {
		cfg.RateWindow = DefaultRateWindow
	}
	if cfg.DeepOffsetCeiling <= 0 {
		cfg.DeepOffsetCeiling = DefaultDeepOffsetCeiling
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = DefaultSlowDelay
	}
	h := &Handler{
		cfg:    cfg,
		tenant: cfg.Tenant,
		idx:    newIndex(cfg.Tenant),
		clk:    cfg.Clock,
		auth: &authority{token: cfg.Token, tenantID: cfg.TenantID, clientID: cfg.ClientID, secret: cfg.ClientSecret,
			lifetime: cfg.TokenLifetime, clk: cfg.Clock, bearers: map[string]time.Time{}, grants: map[string]int64{},
			ids: newIdentities(cfg.Identity)},
		limiter: &limiter{limit: cfg.RateLimit, window: cfg.RateWindow},
		faults:  newFaultInjector(cfg.FaultSeed, cfg.FaultRates),
		ceiling: cfg.DeepOffsetCeiling,
		latRng:  rand.New(rand.NewPCG(cfg.FaultSeed, 0x6c6174)),
		quirks:  map[Quirk]bool{},
	}
	for _, q := range cfg.Quirks {
		h.quirks[q] = true
	}
	return h
}

// Token is the accepted legacy API token.
func (h *Handler) Token() string { return h.cfg.Token }

// TenantID is the tenant segment of the token endpoint's path.
func (h *Handler) TenantID() string { return h.cfg.TenantID }

// ClientID is the client id the token endpoint accepts.
func (h *Handler) ClientID() string { return h.cfg.ClientID }

// ClientSecret is the client secret the token endpoint accepts.
func (h *Handler) ClientSecret() string { return h.cfg.ClientSecret }

// Tenant is the data served.
func (h *Handler) Tenant() *synth.Tenant { return h.tenant }

// Clock is the clock deciding visibility, throttling and token expiry.
func (h *Handler) Clock() clock.Clock { return h.clk }

// FailNext makes the next n API requests (after authentication) fail with f.
func (h *Handler) FailNext(n int, f Fault) { h.faults.force(n, f) }

// Stats returns the counters so far.
func (h *Handler) Stats() Stats {
	return Stats{Requests: h.requests.Load(), Throttled: h.throttled.Load(), Faults: h.faultCount.Load(),
		Pages: h.pages.Load(), Records: h.records.Load(), Tokens: h.auth.issued.Load()}
}

// ServeHTTP routes a request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cfg.Logger != nil {
		sw := &statusWriter{ResponseWriter: w}
		w = sw
		start := time.Now()
		defer func() {
			h.cfg.Logger.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "elapsed", time.Since(start))
		}()
	}
	// The service's clock stamps the answer (net/http would stamp the machine's).
	w.Header().Set("Date", h.clk.Now().UTC().Format(http.TimeFormat))
	path := r.URL.Path
	if strings.HasPrefix(path, "/cas/api/") { // the generic host's prefix
		path = strings.TrimPrefix(path, "/cas")
	}
	if h.auth.route(w, r, path) {
		return
	}
	const base = "/api/v1/activities"
	rest, ok := strings.CutPrefix(path, base)
	if !ok || (rest != "" && rest[0] != '/') {
		writeHTML(w, http.StatusNotFound, "Page not found")
		return
	}
	rest = strings.Trim(rest, "/")
	id, action, _ := strings.Cut(rest, "/")
	switch {
	case rest == "" && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		h.api(w, r, h.serveList)
	case rest != "" && action == "" && r.Method == http.MethodGet:
		h.api(w, r, func(w http.ResponseWriter, r *http.Request) { h.serveFetch(w, r, id) })
	case action == "feedback" && r.Method == http.MethodPost:
		h.api(w, r, func(w http.ResponseWriter, r *http.Request) { h.serveFeedback(w, r, id) })
	case rest == "" || (action == "" || action == "feedback"):
		writeHTML(w, http.StatusMethodNotAllowed, "Method not allowed")
	default:
		writeHTML(w, http.StatusNotFound, "Page not found")
	}
}

// api runs the checks every API request passes in the service's order: authentication, the
// tenant's rate budget, then (here) injected faults.
func (h *Handler) api(w http.ResponseWriter, r *http.Request, serve http.HandlerFunc) {
	h.requests.Add(1)
	if f := h.auth.check(r); f != nil {
		writeError(w, f.status, f.code, f.message)
		return
	}
	if ok, wait := h.limiter.allow(h.clk.Now()); !ok {
		h.throttle(w, wait)
		return
	}
	fault := h.faults.next()
	if fault != "" {
		h.faultCount.Add(1)
	}
	switch fault {
	case FaultInternalError:
		writeHTML(w, http.StatusInternalServerError, "Internal error")
		return
	case FaultBadGateway:
		writeHTML(w, http.StatusBadGateway, "Bad gateway")
		return
	case FaultGatewayTimeout:
		writeHTML(w, http.StatusGatewayTimeout, "Gateway timeout")
		return
	case FaultThrottle:
		h.throttle(w, h.cfg.RateWindow)
		return
	case FaultSlow:
		if sleepCtx(r.Context(), h.cfg.SlowDelay) != nil {
			return // the client gave up
		}
	case FaultReset, FaultTruncated:
		cw := &captureWriter{header: http.Header{}, status: http.StatusOK}
		serve(cw, r)
		body := cw.body
		if cw.status != http.StatusOK || len(body) < 2 {
			copyCaptured(w, cw)
			return
		}
		cut := body[:len(body)/2]
		for k, v := range cw.header {
			w.Header()[k] = v
		}
		if fault == FaultTruncated {
			// A well-framed HTTP body holding half a JSON document.
			w.Header().Set("Content-Length", strconv.Itoa(len(cut)))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(cut)
			return
		}
		// Announce the full length, send half, then drop the connection.
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(cut)
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		panic(http.ErrAbortHandler)
	}
	serve(w, r)
}

// throttle answers 429 with the service's upper-case reason phrase when the connection can be
// taken over, the JSON body clients parse, and Retry-After unless switched off.
func (h *Handler) throttle(w http.ResponseWriter, wait time.Duration) {
	h.throttled.Add(1)
	secs := int((wait + time.Second - 1) / time.Second)
	secs = max(secs, 1)
	body, _ := json.Marshal(map[string]any{"error": map[string]string{"code": "TooManyRequests",
		"message": fmt.Sprintf("Request was throttled. Expected available in %d seconds.", secs)}})
	hdr := http.Header{}
	hdr.Set("Content-Type", "application/json")
	hdr.Set("X-Status-Reason", "TOO MANY REQUESTS")
	if !h.cfg.NoRetryAfter {
		hdr.Set("Retry-After", strconv.Itoa(secs))
	}
	if hj, ok := unwrapHijacker(w); ok {
		if conn, bw, err := hj.Hijack(); err == nil {
			defer conn.Close()
			hdr.Set("Date", h.clk.Now().UTC().Format(http.TimeFormat))
			writeRawResponse(bw, http.StatusTooManyRequests, "TOO MANY REQUESTS", hdr, body)
			return
		}
	}
	for k, v := range hdr {
		w.Header()[k] = v
	}
	w.WriteHeader(http.StatusTooManyRequests)
	_, _ = w.Write(body)
}

func unwrapHijacker(w http.ResponseWriter) (http.Hijacker, bool) {
	for {
		if hj, ok := w.(http.Hijacker); ok {
			if _, isStatus := w.(*statusWriter); !isStatus {
				return hj, true
			}
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return nil, false
		}
		w = u.Unwrap()
	}
}

// writeRawResponse writes a complete HTTP/1.1 response on a hijacked connection; the connection
// is closed afterwards, which the Connection header announces.
func writeRawResponse(bw *bufio.ReadWriter, status int, reason string, hdr http.Header, body []byte) {
	fmt.Fprintf(bw, "HTTP/1.1 %d %s\r\n", status, reason)
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	hdr.Set("Connection", "close")
	_ = hdr.Write(bw)
	_, _ = bw.WriteString("\r\n")
	_, _ = bw.Write(body)
	_ = bw.Flush()
}

// serveList answers GET|POST /api/v1/activities/.
func (h *Handler) serveList(w http.ResponseWriter, r *http.Request) {
	params, err := readParams(r)
	if err != nil {
		writeBadRequest(w, err)
		return
	}
	q, err := parseListQuery(params)
	if err != nil {
		writeBadRequest(w, err)
		return
	}
	if h.has(QuirkIgnoreDirection) {
		q.desc = true
	}
	now := h.clk.Now()
	m, err := compileFilters(q.filters, now)
	if err != nil {
		writeBadRequest(w, err)
		return
	}
	bufp := h.getBuf()
	defer h.bufs.Put(bufp)
	idsp := h.getIDs()
	defer h.idss.Put(idsp)

	p := h.idx.plan(m, q.sortField == "created", q.desc, h.visibleAt(now))
	var res pageResult
	switch {
	case q.isScan && h.emptyOnTie(q, p, bufp):
		res = pageResult{ids: (*idsp)[:0], total: p.count(bufp)}
	case q.isScan:
		res = h.scanPage(q, p, bufp, *idsp)
	default:
		if res, err = h.listPage(q, p, bufp, *idsp); err != nil {
			writeBadRequest(w, err)
			return
		}
	}
	res.total = h.approximate(res.total)
	*idsp = res.ids[:0]
	if err := h.latency(r.Context(), len(res.ids)); err != nil {
		return
	}
	h.pages.Add(1)
	h.records.Add(int64(len(res.ids)))
	h.writePage(w, &res, bufp)
}

// flushSize is how much rendered JSON collects before it is written out.
const flushSize = 256 << 10

// writePage streams the envelope: records are rendered one by one into a reused buffer.
func (h *Handler) writePage(w http.ResponseWriter, res *pageResult, bufp *[]byte) {
	w.Header().Set("Content-Type", "application/json")
	buf := appendEnvelopeHead((*bufp)[:0], res)
	for j, i := range res.ids {
		if j > 0 {
			buf = append(buf, ',')
		}
		buf = h.tenant.AppendJSON(buf, int(i))
		if len(buf) >= flushSize {
			if _, err := w.Write(buf); err != nil {
				*bufp = buf
				return
			}
			buf = buf[:0]
		}
	}
	buf = appendEnvelopeTail(buf, res)
	_, _ = w.Write(buf)
	*bufp = buf
}

// serveFetch answers GET /api/v1/activities/<id>/ with the bare record.
func (h *Handler) serveFetch(w http.ResponseWriter, r *http.Request, id string) {
	i := h.idx.lookup(id)
	if i < 0 || h.tenant.Activity(i).Created > h.visibleAt(h.clk.Now()) {
		writeError(w, http.StatusNotFound, "NotFound", "activity not found")
		return
	}
	bufp := h.getBuf()
	defer h.bufs.Put(bufp)
	*bufp = append(h.tenant.AppendJSON((*bufp)[:0], i), '\n')
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(*bufp)
}

// serveFeedback accepts POST /api/v1/activities/<id>/feedback and discards it.
func (h *Handler) serveFeedback(w http.ResponseWriter, r *http.Request, id string) {
	if i := h.idx.lookup(id); i < 0 {
		writeError(w, http.StatusNotFound, "NotFound", "activity not found")
		return
	}
	params, err := readParams(r)
	if err != nil {
		writeBadRequest(w, err)
		return
	}
	if _, ok := params["feedbackValue"]; !ok {
		writeBadRequest(w, badRequestf("feedbackValue is required"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// visibleAt is the newest created time visible at now: the indexing delay holds back the rest.
func (h *Handler) visibleAt(now time.Time) int64 {
	return now.Add(-h.cfg.VisibilityLag).UnixMilli()
}

// latency waits the configured page latency, scaled by page size.
func (h *Handler) latency(ctx context.Context, n int) error {
	lo, hi := h.cfg.PageLatency, h.cfg.PageLatencyMax
	if lo <= 0 && hi <= 0 {
		return nil
	}
	d := lo
	if hi > lo {
		h.latMu.Lock()
		d += time.Duration(h.latRng.Int64N(int64(hi - lo)))
		h.latMu.Unlock()
	}
	return sleepCtx(ctx, d*time.Duration(n)/scanMaxLimit)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	return clock.Real{}.Sleep(ctx, d)
}

func (h *Handler) getBuf() *[]byte {
	if p, ok := h.bufs.Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, 0, flushSize+64<<10)
	return &b
}

func (h *Handler) getIDs() *[]int32 {
	if p, ok := h.idss.Get().(*[]int32); ok {
		return p
	}
	b := make([]int32, 0, scanMaxLimit+1)
	return &b
}

func writeBadRequest(w http.ResponseWriter, err error) {
	writeError(w, http.StatusBadRequest, "BadRequest", err.Error())
}

// writeError answers with the JSON error shape the simulator uses for every API error.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func itoa(n int) string { return strconv.Itoa(n) }

// statusWriter remembers the status for logging and counting.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// captureWriter buffers a whole response so a fault can cut it.
type captureWriter struct {
	header http.Header
	status int
	body   []byte
}

func (c *captureWriter) Header() http.Header  { return c.header }
func (c *captureWriter) WriteHeader(code int) { c.status = code }
func (c *captureWriter) Write(b []byte) (int, error) {
	c.body = append(c.body, b...)
	return len(b), nil
}

func copyCaptured(w http.ResponseWriter, c *captureWriter) {
	for k, v := range c.header {
		w.Header()[k] = v
	}
	w.WriteHeader(c.status)
	_, _ = w.Write(c.body)
}

// Server is a simulator listening on a loopback port, like httptest.Server.
type Server struct {
	*Handler
	// URL is the base URL, e.g. http://127.0.0.1:41234, without a trailing slash.
	URL string
	// Token is the accepted legacy API token.
	Token string
	// CA is the certificate authority of an HTTPS server (NewTLSServer), nil for plain HTTP.
	CA *TestCA

	ln   net.Listener
	srv  *http.Server
	done chan struct{}
}

// NewServer starts a simulator on 127.0.0.1 with a random port. It panics if it cannot listen,
// as httptest.NewServer does; callers close it with Close.
func NewServer(cfg Config) *Server {
	h := NewHandler(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("simulator: listen on loopback: " + err.Error())
	}
	return Serve(ln, h)
}

// Serve serves h on ln in the background and returns the running server.
func Serve(ln net.Listener, h *Handler) *Server {
	s := &Server{Handler: h, URL: "http://" + ln.Addr().String(), Token: h.Token(), ln: ln, done: make(chan struct{}),
		srv: &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: discardLog()}}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s
}

// TokenURL is the fake Entra ID v2 token endpoint of this server.
func (s *Server) TokenURL() string {
	return s.URL + "/" + s.TenantID() + "/oauth2/v2.0/token"
}

// Close stops the server and closes every connection.
func (s *Server) Close() {
	_ = s.srv.Close()
	<-s.done
}

// Shutdown stops the server gracefully, waiting for responses in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}
