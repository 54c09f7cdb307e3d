package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/tenant"
)

// Environment variables the simulator takes its credentials from, so they stay off command lines.
const (
	envSimToken        = "MCAS_SIM_TOKEN"
	envSimClientSecret = "MCAS_SIM_CLIENT_SECRET"
)

func (e *env) simCommand() *cli.Command {
	return &cli.Command{
		Name:  "sim",
		Usage: "serve a simulated Defender for Cloud Apps activities API on loopback",
		Description: "Generates a deterministic synthetic tenant from --seed and serves it like the real API: " +
			"scan paging with nextQueryFilters, the 30 requests/minute budget, HTML error pages and, on " +
			"request, faults, tie bursts and page latency. It prints its URL and the credentials it accepts, " +
			"then runs until interrupted. The legacy token is random unless " + envSimToken + " is set " +
			"(the Entra client secret likewise from " + envSimClientSecret + "). See docs/simulator.md.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8080", Usage: "listen `HOST:PORT` (port 0 picks a free one)"},
			&cli.BoolFlag{Name: "allow-remote", Usage: "allow listening on a non-loopback address"},
			&cli.GenericFlag{Name: "token", Value: &secretValue{}, Usage: "accepted legacy API token (prefer " + envSimToken + "; random when neither is set)"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "data generator seed"},
			&cli.IntFlag{Name: "days", Value: 37, Usage: "days of data, ending now (or at --end)"},
			&cli.IntFlag{Name: "users", Value: 500, Usage: "ordinary users"},
			&cli.IntFlag{Name: "records", Usage: "exact number of activities (default: about 200k for 500 users × 37 days)"},
			&cli.StringFlag{Name: "end", Usage: "newest activity time, RFC 3339 (default: now)"},
			&cli.BoolFlag{Name: "incidents", Usage: "plant one incident and one near-miss decoy per investigation"},
			&cli.BoolFlag{Name: "lookalikes", Usage: "add the benign look-alikes to the normal population (default: with --incidents; --lookalikes=false leaves them out)"},
			&cli.StringSliceFlag{Name: "tie-burst", Usage: "add `SIZE@RFC3339[,FIELD]` records sharing one millisecond (FIELD: timestamp, created or both)"},
			&cli.Float64Flag{Name: "late-arrivals", Usage: "share of records created hours after they happened (default 0.01; negative for none)"},
			&cli.IntFlag{Name: "rate-limit", Value: simulator.DefaultRateLimit, Usage: "requests per --rate-window (0 turns throttling off)"},
			&cli.DurationFlag{Name: "rate-window", Value: simulator.DefaultRateWindow, Usage: "sliding window of the rate limit"},
			&cli.BoolFlag{Name: "no-retry-after", Usage: "leave the Retry-After header off 429 responses"},
			&cli.BoolFlag{Name: "return-oversized-ties", Usage: "return a tie group larger than the page instead of stalling"},
			&cli.IntFlag{Name: "deep-offset-ceiling", Value: simulator.DefaultDeepOffsetCeiling, Usage: "largest skip+limit of a non-scan request"},
			&cli.StringFlag{Name: "page-latency", Value: "0", Usage: "wait per 5000-record page, `D` or MIN-MAX (e.g. 1s-3s), scaled by page size"},
			&cli.StringSliceFlag{Name: "fault-rate", Usage: "inject faults: `KIND=RATE` (kinds 500, 502, 504, 429, reset, truncated, slow) or one RATE spread over all kinds"},
			&cli.Uint64Flag{Name: "fault-seed", Value: 1, Usage: "seed of the fault sequence"},
			&cli.DurationFlag{Name: "slow-delay", Value: simulator.DefaultSlowDelay, Usage: "how long a slow fault waits"},
			&cli.DurationFlag{Name: "token-lifetime", Value: simulator.DefaultTokenLifetime, Usage: "lifetime of bearer tokens from the token endpoint"},
			&cli.StringFlag{Name: "tenant-id", Value: simulator.DefaultTenantID, Usage: "tenant of the fake token endpoint /TENANT/oauth2/v2.0/token"},
			&cli.StringFlag{Name: "client-id", Value: simulator.DefaultClientID, Usage: "client id the token endpoint accepts"},
			&cli.StringFlag{Name: "clock-offset", Value: "0s", Usage: "run the service on a clock `D` ahead of this machine's (negative: behind; e.g. -2h, +1y): its Date header, what is visible and the generated data follow it"},
			&cli.StringSliceFlag{Name: "quirk", Usage: "reproduce a reported behaviour of the service: empty-on-tie, ignore-direction or approximate-total; repeat for several"},
			&cli.DurationFlag{Name: "visibility-lag", Usage: "indexing delay: a record becomes visible this long after its created time"},
			&cli.StringFlag{Name: "tls-ca-out", Usage: "serve HTTPS with a new test CA and write its certificate to `FILE` (Entra sign-in needs an https authority: trust it with SSL_CERT_FILE or --ca-file)"},
			&cli.StringFlag{Name: "client-certificate-out", Usage: "register a new application certificate and write it with its key to `FILE` (PEM) for --client-certificate"},
			&cli.StringFlag{Name: "truth", Usage: "write the ground truth (planted incidents, look-alikes, tie bursts) to `FILE`"},
			&cli.StringFlag{Name: "ndjson", Usage: "write the visible records to `FILE` (- for stdout) and exit instead of serving"},
			&cli.StringSliceFlag{Name: "tenants", Usage: "serve several simulated tenants, one `LABEL` each (comma-separated or repeated), each on its own port with its own seed-derived data, domain <label>.com and planted incidents; scan each with --tenant-label LABEL"},
		}, simStreamFlags()...),
		Action: e.runSim,
	}
}

// secretValue is a flag value that never prints itself (help text, errors) and, being a generic
// flag, gets no MCAS_* environment variable: MCAS_TOKEN belongs to real tenants.
type secretValue struct{ v string }

func (s *secretValue) Set(v string) error { s.v = v; return nil }
func (s *secretValue) String() string     { return "" }

func (e *env) runSim(c *cli.Context) error {
	ctx := c.Context
	cfg, err := e.simConfig(c)
	if err != nil {
		return err
	}
	log, err := e.logger(c)
	if err != nil {
		return err
	}
	cfg.Logger = log // one debug line per request with --log-level debug
	if len(c.StringSlice("tenants")) > 0 {
		return e.runSimTenants(c, cfg)
	}
	start := time.Now()
	if cfg.Synth.End.IsZero() {
		cfg.Synth.End = cfg.Clock.Now() // the data ends at the service's now
	}
	cfg.Tenant = synth.New(cfg.Synth)
	tn := cfg.Tenant
	log.Info("generated tenant", "activities", tn.Len(), "elapsed", time.Since(start).Round(time.Millisecond))

	stream, err := e.newSimStream(c, tn, cfg.Clock, log)
	if err != nil {
		return err
	}
	if path := c.String("truth"); path != "" {
		if err := writeSimFile(path, func(f *os.File) error { return tn.GroundTruth().WriteJSON(f) }); err != nil {
			return fmt.Errorf("write ground truth: %w", err)
		}
	}
	if stream != nil {
		n, err := stream.write(ctx)
		if err != nil {
			return fmt.Errorf("write stream: %w", err)
		}
		fmt.Fprintf(e.stdout, "%s%s (%d lines received through %s)\n", simStreamPrefix, stream.target, n, cfg.Clock.Now().UTC().Format(time.RFC3339))
		if c.Bool("stream-only") {
			return nil
		}
		streamCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); stream.run(streamCtx) }()
		defer func() { stop(); <-done }()
	}
	if path := c.String("ndjson"); path != "" {
		return e.simNDJSON(ctx, tn, path, cfg.Clock.Now().Add(-cfg.VisibilityLag))
	}

	addr := c.String("addr")
	if err := checkLoopback(addr, c.Bool("allow-remote")); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return withCode(exitFailure, fmt.Errorf("listen on %s: %w", addr, err), "pick a free port with --addr 127.0.0.1:0 or stop what holds it")
	}
	h := simulator.NewHandler(cfg)
	// Generation leaves a few hundred MB of garbage behind; hand it back before serving. Serving
	// allocates little (render buffers are pooled), so a low GC target keeps the resident size
	// near the tenant's own at a negligible CPU cost.
	debug.FreeOSMemory()
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	srv, err := e.serveSim(c, ln, h)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "mcasload sim: serving %d activities at %s\n", tn.Len(), srv.URL)
	if off := c.String("clock-offset"); off != "0s" || len(cfg.Quirks) > 0 || cfg.VisibilityLag > 0 {
		fmt.Fprintf(e.stdout, "service clock %s (offset %s), quirks %v, visibility lag %s\n",
			cfg.Clock.Now().UTC().Format(time.RFC3339), off, cfg.Quirks, cfg.VisibilityLag)
	}
	fmt.Fprintf(e.stdout, "%s%s/api/v1/activities/\n", simURLPrefix, srv.URL)
	if cfg.Token != "" {
		fmt.Fprintf(e.stdout, "token: (from --token or %s)\n", envSimToken)
	} else {
		fmt.Fprintf(e.stdout, "%s%s\n", simTokenPrefix, h.Token())
	}
	fmt.Fprintf(e.stdout, "entra: token url %s, client id %s, scope %s\n", srv.TokenURL(), h.ClientID(), simulator.APIScope)
	if cfg.ClientSecret != "" {
		fmt.Fprintf(e.stdout, "entra client secret: (from %s)\n", envSimClientSecret)
	} else {
		fmt.Fprintf(e.stdout, "entra client secret: %s\n", h.ClientSecret())
	}
	fmt.Fprintf(e.stdout, "managed identity: IDENTITY_ENDPOINT=%s IDENTITY_HEADER=%s\n", srv.IdentityEndpoint(), h.IdentityHeader())
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(shutdownCtx)
	st := h.Stats()
	log.Info("simulator stopped", "requests", st.Requests, "pages", st.Pages, "records", st.Records, "throttled", st.Throttled, "faults", st.Faults)
	return nil
}

// simConfig turns the flags into a simulator configuration.
func (e *env) simConfig(c *cli.Context) (simulator.Config, error) {
	sc := synth.Config{
		Seed:         c.Int64("seed"),
		Days:         c.Int("days"),
		Users:        c.Int("users"),
		Total:        c.Int("records"),
		Incidents:    c.Bool("incidents"),
		LateArrivals: c.Float64("late-arrivals"),
	}
	if c.IsSet("lookalikes") {
		sc.Lookalikes = synth.LookalikesOff
		if c.Bool("lookalikes") {
			sc.Lookalikes = synth.LookalikesOn
		}
	}
	if sc.Days <= 0 || sc.Users <= 0 || sc.Total < 0 {
		return simulator.Config{}, usageErrorf("--days and --users must be positive and --records not negative")
	}
	if s := c.String("end"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return simulator.Config{}, usageErrorf("--end %q: want RFC 3339, e.g. 2026-11-01T00:00:00Z", s)
		}
		sc.End = t
	}
	for _, tb := range c.StringSlice("tie-burst") {
		b, err := parseTieBurst(tb)
		if err != nil {
			return simulator.Config{}, usageErrorf("--tie-burst: %v", err)
		}
		sc.TieBursts = append(sc.TieBursts, b)
	}
	cfg := simulator.Config{
		Synth:               sc,
		TenantID:            c.String("tenant-id"),
		ClientID:            c.String("client-id"),
		ClientSecret:        e.getenv(envSimClientSecret),
		TokenLifetime:       c.Duration("token-lifetime"),
		RateLimit:           c.Int("rate-limit"),
		RateWindow:          c.Duration("rate-window"),
		NoRetryAfter:        c.Bool("no-retry-after"),
		ReturnOversizedTies: c.Bool("return-oversized-ties"),
		DeepOffsetCeiling:   c.Int("deep-offset-ceiling"),
		FaultSeed:           c.Uint64("fault-seed"),
		SlowDelay:           c.Duration("slow-delay"),
	}
	if tok := c.Generic("token").(*secretValue).v; tok != "" {
		cfg.Token = tok
	} else {
		cfg.Token = e.getenv(envSimToken)
	}
	switch {
	case cfg.RateLimit == 0:
		cfg.RateLimit = simulator.NoRateLimit
	case cfg.RateLimit < 0:
		return simulator.Config{}, usageErrorf("--rate-limit must be 0 (off) or positive")
	}
	var err error
	if cfg.PageLatency, cfg.PageLatencyMax, err = parseLatency(c.String("page-latency")); err != nil {
		return simulator.Config{}, usageErrorf("--page-latency: %v", err)
	}
	if cfg.FaultRates, err = parseFaultRates(c.StringSlice("fault-rate")); err != nil {
		return simulator.Config{}, usageErrorf("--fault-rate: %v", err)
	}
	offset, err := timearg.ParseDuration(c.String("clock-offset"))
	if err != nil {
		return simulator.Config{}, usageErrorf("--clock-offset: %v", err)
	}
	cfg.Clock = clock.NewOffset(clock.Real{}, offset)
	for _, item := range c.StringSlice("quirk") {
		for _, name := range strings.Split(item, ",") {
			q, err := simulator.ParseQuirk(name)
			if err != nil {
				return simulator.Config{}, usageErrorf("--quirk: %v", err)
			}
			cfg.Quirks = append(cfg.Quirks, q)
		}
	}
	if cfg.VisibilityLag = c.Duration("visibility-lag"); cfg.VisibilityLag < 0 {
		return simulator.Config{}, usageErrorf("--visibility-lag must not be negative")
	}
	return cfg, nil
}

// simNDJSON writes the records visible now and reports how many; a signal stops it (the file is
// then not written at all).
func (e *env) simNDJSON(ctx context.Context, tn *synth.Tenant, path string, now time.Time) error {
	if path == "-" {
		n, err := tn.WriteNDJSON(stopWriter{ctx, e.stdout}, now)
		if err != nil {
			return fmt.Errorf("write records: %w", err)
		}
		fmt.Fprintf(e.stderr, "mcasload sim: wrote %d records\n", n)
		return nil
	}
	var n int
	err := writeSimFile(path, func(f *os.File) error {
		var err error
		n, err = tn.WriteNDJSON(stopWriter{ctx, f}, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("write records: %w", err)
	}
	fmt.Fprintf(e.stdout, "mcasload sim: wrote %d records to %s\n", n, path)
	return nil
}

// writeSimFile writes through a temporary file renamed into place, so a reader never sees half.
func writeSimFile(path string, write func(f *os.File) error) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	werr := write(f)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// checkLoopback refuses to serve beyond this machine unless told: the simulator's token is printed.
func checkLoopback(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErrorf("--addr %q: want HOST:PORT, e.g. 127.0.0.1:8080", addr)
	}
	if allowRemote {
		return nil
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return usageErrorf("--addr %q is not a loopback address: use 127.0.0.1, or pass --allow-remote to serve other machines", addr)
}

// parseTieBurst reads SIZE@RFC3339[,FIELD].
func parseTieBurst(s string) (synth.TieBurst, error) {
	size, rest, ok := strings.Cut(s, "@")
	if !ok {
		return synth.TieBurst{}, fmt.Errorf("%q: want SIZE@RFC3339[,FIELD]", s)
	}
	n, err := strconv.Atoi(size)
	if err != nil || n <= 0 {
		return synth.TieBurst{}, fmt.Errorf("%q: size must be a positive integer", s)
	}
	at, field, _ := strings.Cut(rest, ",")
	t, err := time.Parse(time.RFC3339Nano, at)
	if err != nil {
		return synth.TieBurst{}, fmt.Errorf("%q: time must be RFC 3339, e.g. 2026-11-01T10:00:00.123Z", s)
	}
	switch field {
	case "", "both", "timestamp", "created":
	default:
		return synth.TieBurst{}, fmt.Errorf("%q: field must be timestamp, created or both", s)
	}
	return synth.TieBurst{At: t, Size: n, Field: field}, nil
}

// parseLatency reads "D" or "MIN-MAX".
func parseLatency(s string) (time.Duration, time.Duration, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	a, err := time.ParseDuration(lo)
	if err != nil && lo != "0" {
		return 0, 0, fmt.Errorf("%q: want a duration such as 2s, or a range such as 1s-3s", s)
	}
	if !isRange {
		return a, a, nil
	}
	b, err := time.ParseDuration(hi)
	if err != nil || b < a {
		return 0, 0, fmt.Errorf("%q: want MIN-MAX with MIN <= MAX, such as 1s-3s", s)
	}
	return a, b, nil
}

// parseFaultRates reads KIND=RATE items, or a lone RATE spread evenly over every kind.
func parseFaultRates(items []string) (map[simulator.Fault]float64, error) {
	if len(items) == 0 {
		return nil, nil
	}
	rates := map[simulator.Fault]float64{}
	total := 0.0
	for _, item := range items {
		for _, part := range strings.Split(item, ",") {
			k, v, hasKind := strings.Cut(strings.TrimSpace(part), "=")
			if !hasKind {
				r, err := strconv.ParseFloat(k, 64)
				if err != nil || r < 0 || r > 1 {
					return nil, fmt.Errorf("%q: want KIND=RATE or a rate between 0 and 1", part)
				}
				for _, f := range simulator.Faults() {
					rates[f] += r / float64(len(simulator.Faults()))
				}
				total += r
				continue
			}
			f, err := simulator.ParseFault(k)
			if err != nil {
				return nil, err
			}
			r, err := strconv.ParseFloat(v, 64)
			if err != nil || r < 0 || r > 1 {
				return nil, fmt.Errorf("%q: rate must be between 0 and 1", part)
			}
			rates[f] += r
			total += r
		}
	}
	if total > 1 {
		return nil, fmt.Errorf("fault rates add up to %.2f, more than 1", total)
	}
	return rates, nil
}

// Lines sim prints that tests and scripts read.
const (
	simURLPrefix    = "url: "
	simTokenPrefix  = "token: "
	simStreamPrefix = "stream: "
)

// serveSim serves h on ln, over HTTPS with a new test CA when --tls-ca-out is set, and registers
// a new application certificate when --client-certificate-out is set.
func (e *env) serveSim(c *cli.Context, ln net.Listener, h *simulator.Handler) (*simulator.Server, error) {
	if path := c.String("client-certificate-out"); path != "" {
		cert, err := simulator.NewClientCertificate("mcasload simulator client", time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
		if err == nil {
			err = writeSimFile(path, func(f *os.File) error { _, err := f.Write(cert.PEM()); return err })
		}
		if err != nil {
			return nil, fmt.Errorf("write client certificate: %w", err)
		}
		h.RegisterCertificate(cert.Cert)
		fmt.Fprintf(e.stdout, "client certificate: %s (registered)\n", path)
	}
	path := c.String("tls-ca-out")
	if path == "" {
		return simulator.Serve(ln, h), nil
	}
	ca, err := simulator.NewTestCA()
	if err == nil {
		err = ca.WriteFile(path)
	}
	if err != nil {
		return nil, err
	}
	srv, err := simulator.ServeTLS(ln, h, ca)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(e.stdout, "tls: test CA in %s; entra: --authority-url %s\n", path, srv.URL)
	return srv, nil
}

// runSimTenants serves one simulated tenant per --tenants label, each on its own listener (the
// real service gives each tenant its own host), with data from synth.ForTenant: its own seed,
// domain and planted incidents. Every tenant accepts the same credentials.
func (e *env) runSimTenants(c *cli.Context, cfg simulator.Config) error {
	labels, err := tenant.ParseSelection(c.StringSlice("tenants"))
	if err != nil {
		return usageErrorf("--tenants: %v", err)
	}
	for _, f := range []string{"tls-ca-out", "client-certificate-out", "stream-to"} {
		if c.String(f) != "" {
			return usageErrorf("--%s serves one tenant: drop --tenants for it", f)
		}
	}
	host, port, err := net.SplitHostPort(c.String("addr"))
	if err != nil {
		return usageErrorf("--addr %q: want HOST:PORT, e.g. 127.0.0.1:8080", c.String("addr"))
	}
	if err := checkLoopback(c.String("addr"), c.Bool("allow-remote")); err != nil {
		return err
	}
	first, _ := strconv.Atoi(port)
	base := cfg.Synth
	if base.End.IsZero() {
		base.End = cfg.Clock.Now()
	}
	var servers []*simulator.Server
	defer func() {
		for _, srv := range servers {
			_ = srv.Shutdown(context.WithoutCancel(c.Context))
		}
	}()
	fmt.Fprintf(e.stdout, "mcasload sim: serving %d tenants on loopback\n", len(labels))
	var h *simulator.Handler
	for i, label := range labels {
		tc := cfg
		tc.Synth = synth.ForTenant(base, label)
		tc.Tenant = synth.New(tc.Synth)
		if err := e.simFiles(c, tc.Tenant, label, cfg.Clock.Now().Add(-cfg.VisibilityLag)); err != nil {
			return err
		}
		if c.String("ndjson") != "" {
			continue
		}
		addr := net.JoinHostPort(host, "0")
		if first > 0 {
			addr = net.JoinHostPort(host, strconv.Itoa(first+i))
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return withCode(exitFailure, fmt.Errorf("listen on %s: %w", addr, err), "pick free ports with --addr 127.0.0.1:0 or stop what holds them")
		}
		if h != nil { // every tenant accepts the first one's credentials
			tc.Token, tc.ClientSecret = h.Token(), h.ClientSecret()
		}
		h = simulator.NewHandler(tc)
		srv := simulator.Serve(ln, h)
		servers = append(servers, srv)
		fmt.Fprintf(e.stdout, "tenant %s: %d activities at %s (domain %s)\n", label, tc.Tenant.Len(), srv.URL, tc.Synth.Domain)
		fmt.Fprintf(e.stdout, "url %s: %s/api/v1/activities/\n", label, srv.URL)
	}
	if c.String("ndjson") != "" {
		return nil
	}
	if cfg.Token != "" {
		fmt.Fprintf(e.stdout, "token: (from --token or %s; every tenant accepts it)\n", envSimToken)
	} else {
		fmt.Fprintf(e.stdout, "%s%s\n", simTokenPrefix, h.Token())
	}
	fmt.Fprintf(e.stdout, "scan each: MCAS_TOKEN=<token> mcasload scan --url <its url> --tenant-label <its label> -w DIR\n")
	<-c.Context.Done()
	return nil
}

// simFiles writes a tenant's --truth and --ndjson files: FILE for one tenant, FILE-<label>.ext
// for one of several.
func (e *env) simFiles(c *cli.Context, tn *synth.Tenant, label string, visible time.Time) error {
	if path := c.String("truth"); path != "" {
		if err := writeSimFile(tenantPath(path, label), func(f *os.File) error { return tn.GroundTruth().WriteJSON(f) }); err != nil {
			return fmt.Errorf("write ground truth: %w", err)
		}
	}
	if path := c.String("ndjson"); path != "" {
		if path == "-" {
			return usageErrorf("--ndjson - serves one tenant; give a FILE, written once per tenant")
		}
		return e.simNDJSON(c.Context, tn, tenantPath(path, label), visible)
	}
	return nil
}

// tenantPath is path with -<label> before its extension.
func tenantPath(path, label string) string {
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + "-" + label + ext
}
