package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// scanTestToken is the legacy token the test simulators accept; the secrets tests search every
// output and every warehouse file for it.
const scanTestToken = "scanTestToken0f3b9e7c1d2a4b6c8e0f1a3b5c7d9e1f3a5b7c9d1e3f5a7b9c1d3e5f7a9b1c"

// scanTenant is a small tenant whose records are all visible (ended an hour ago, no late
// arrivals), with a 600-record tie burst (more than a 500-record page).
func scanTenant() *synth.Tenant {
	cfg := evenScanConfig()
	cfg.TieBursts = []synth.TieBurst{{At: cfg.End.Add(-30 * time.Hour), Size: 600, Field: "both"}}
	return synth.New(cfg)
}

// evenScanTenant is scanTenant without its tie burst: 3,000 activities over three days.
func evenScanTenant() *synth.Tenant { return synth.New(evenScanConfig()) }

// evenScanConfig generates 3,000 activities of 20 users over the three days up to an hour ago.
func evenScanConfig() synth.Config {
	end := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	return synth.Config{Seed: 5, Users: 20, Days: 3, End: end, Total: 3000, LateArrivals: -1}
}

// startScanSim serves tn on loopback on the real clock, without throttling unless cfg says.
func startScanSim(t *testing.T, tn *synth.Tenant, cfg simulator.Config) *simulator.Server {
	t.Helper()
	cfg.Tenant, cfg.Token = tn, scanTestToken
	if cfg.RateLimit == 0 {
		cfg.RateLimit = simulator.NoRateLimit
	}
	srv := simulator.NewServer(cfg)
	t.Cleanup(srv.Close)
	return srv
}

// runScanCLI runs the CLI in-process with vars as the environment seen through getenv.
func runScanCLI(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	code := e.run(t.Context(), append([]string{"mcasload"}, args...))
	return code, out.String(), errb.String()
}

var tokenEnv = map[string]string{"MCAS_TOKEN": scanTestToken}

func TestScanCommand(t *testing.T) {
	tn := scanTenant()
	srv := startScanSim(t, tn, simulator.Config{})
	dir := filepath.Join(t.TempDir(), "wh")
	scan := func(extra ...string) (int, string, string) {
		args := append([]string{"scan", "--url", srv.URL, "-w", dir, "--limit", "500", "--progress=false", "--rate-limit", "6000", "--threads", "2"}, extra...)
		return runScanCLI(t, tokenEnv, args...)
	}

	code, out, errs := scan("--parallel", "3")
	if code != exitOK {
		t.Fatalf("first scan exit %d\n%s%s", code, out, errs)
	}
	sinks.ExactlyOnce(t, dir, sinks.WantTenant(tn, time.Time{}))
	for _, want := range []string{"scan done", "new", "pages in", "429", "retries", "days touched", "watermark now"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "mode=first") {
		t.Errorf("log does not say this is a first run:\n%s", errs)
	}

	// The summary is in the run log as JSON, for monitoring.
	st, err := warehouse.ReadStatus(t.Context(), warehouse.ReaderOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	var logged struct {
		Command  string           `json:"command"`
		New      int              `json:"new"`
		Days     []string         `json:"days_touched"`
		Counters map[string]int64 `json:"counters"`
	}
	if len(st.Runs) == 0 || json.Unmarshal([]byte(st.Runs[0].Summary), &logged) != nil {
		t.Fatalf("no JSON summary in the run log: %+v", st.Runs)
	}
	if logged.Command != "scan" || logged.New != tn.Len() || logged.Counters["pages"] == 0 || len(logged.Days) < 3 {
		t.Errorf("run log summary %+v, want a scan of %d new rows over 3+ days", logged, tn.Len())
	}
	if len(st.Tenants) != 1 || st.Tenants[0].Tenant != "simulator" || st.Tenants[0].Source != "simulator" {
		t.Errorf("warehouse tenants %+v, want one, simulator, from the simulator (a loopback URL)", st.Tenants)
	}

	// The second run is incremental and finds nothing new.
	code, out, errs = scan()
	if code != exitOK || !strings.Contains(out, ": 0 new") || !strings.Contains(errs, "mode=incremental") {
		t.Fatalf("second scan exit %d, want 0 new and incremental\n%s%s", code, out, errs)
	}

	// state show lists the watermark; reset forgets it; the next scan is a first run again.
	code, out, errs = runScanCLI(t, nil, "state", "show", "-w", dir, "--format", "json")
	if code != exitOK {
		t.Fatalf("state show exit %d: %s", code, errs)
	}
	var shown struct {
		Meta struct {
			Command string `json:"command"`
		} `json:"meta"`
		Rows []struct {
			Key       string     `json:"key"`
			URL       string     `json:"url"`
			Watermark *time.Time `json:"watermark"`
		} `json:"rows"`
	}
	err = json.Unmarshal([]byte(out), &shown)
	marks := shown.Rows
	if err != nil || shown.Meta.Command != "state show" || len(marks) != 1 || marks[0].Watermark == nil {
		t.Fatalf("state show: %v %s", err, out)
	}
	if time.Since(*marks[0].Watermark) > time.Minute || marks[0].URL != srv.URL {
		t.Errorf("watermark %v for %s; want about now for %s", marks[0].Watermark, marks[0].URL, srv.URL)
	}
	if code, out, _ := runScanCLI(t, nil, "state", "show", "-w", dir); code != exitOK || !strings.Contains(out, marks[0].Key) {
		t.Errorf("state show table exit %d:\n%s", code, out)
	}
	if code, _, errs := runScanCLI(t, nil, "state", "reset", "-w", dir, "--key", "scan nope {}"); code != exitUsage || !strings.Contains(errs, marks[0].Key) {
		t.Errorf("reset of an unknown key: exit %d, want 2 listing the known keys: %s", code, errs)
	}
	if code, out, errs := runScanCLI(t, nil, "state", "reset", "-w", dir, "--key", marks[0].Key); code != exitOK || !strings.Contains(out, "reset") {
		t.Fatalf("state reset exit %d: %s%s", code, out, errs)
	}
	if code, out, _ := runScanCLI(t, nil, "state", "show", "-w", dir); code != exitOK || !strings.Contains(out, "reset") {
		t.Errorf("state show after reset:\n%s", out)
	}
	code, out, errs = scan("--since", "2d")
	if code != exitOK || !strings.Contains(errs, "mode=first") || !strings.Contains(out, ": 0 new") {
		t.Fatalf("scan after reset: exit %d, want a first run adding nothing new\n%s%s", code, out, errs)
	}
	sinks.ExactlyOnce(t, dir, sinks.WantTenant(tn, time.Time{}))

	// A filtered scan keeps its own watermark and leaves the unfiltered one alone.
	code, out, errs = scan("--service", "20893", "--full", "--since", "1d")
	if code != exitOK || !strings.Contains(errs, "mode=full") {
		t.Fatalf("full filtered scan exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = runScanCLI(t, nil, "state", "show", "-w", dir, "--format", "json")
	if code != exitOK || strings.Count(out, `"key"`) != 1 {
		t.Errorf("a --full scan stored a watermark:\n%s", out)
	}
}

func TestScanCommandJSONLogs(t *testing.T) {
	srv := startScanSim(t, scanTenant(), simulator.Config{})
	code, _, errs := runScanCLI(t, tokenEnv, "scan", "--url", srv.URL, "-w", filepath.Join(t.TempDir(), "wh"),
		"--progress=false", "--rate-limit", "6000", "--log-format", "json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil || m["msg"] == nil {
			t.Fatalf("log line is not a JSON record: %q", l)
		}
	}
	if !strings.Contains(errs, `"msg":"scan finished"`) {
		t.Errorf("no scan finished record:\n%s", errs)
	}
}

func TestScanUsageErrors(t *testing.T) {
	srv := startScanSim(t, scanTenant(), simulator.Config{})
	dir := filepath.Join(t.TempDir(), "wh")
	base := []string{"scan", "--url", srv.URL, "-w", dir, "--progress=false"}
	tests := []struct {
		name string
		vars map[string]string
		args []string
		code int
		want string
	}{
		{"no url", tokenEnv, []string{"scan", "-w", dir}, exitUsage, "--url"},
		{"no credential", nil, base, exitUsage, "MCAS_TOKEN"},
		{"wrong token", map[string]string{"MCAS_TOKEN": "wrong-token-0123456789"}, base, exitAuth, "403"},
		{"limit too small", tokenEnv, append(base, "--limit", "100"), exitUsage, "500"},
		{"bad filter json", tokenEnv, append(base, "--filter", "{service"), exitUsage, "--filter"},
		{"unknown filter key", tokenEnv, append(base, "--filter", `{"colour":{"eq":["red"]}}`), exitUsage, "colour"},
		{"date in filter", tokenEnv, append(base, "--filter", `{"date":{"gte":1}}`), exitUsage, "--since/--until"},
		{"filter and shortcut clash", tokenEnv, append(base, "--filter", `{"service":{"eq":[11161]}}`, "--service", "20893"), exitUsage, "twice"},
		{"bad service", tokenEnv, append(base, "--service", "office"), exitUsage, "numeric app ID"},
		{"since after until", tokenEnv, append(base, "--since", "1d", "--until", "2d"), exitUsage, "before --until"},
		{"bad since", tokenEnv, append(base, "--since", "yesterday"), exitUsage, "--since"},
		{"parallel zero", tokenEnv, append(base, "--parallel", "0"), exitUsage, "--parallel"},
		{"arguments", tokenEnv, append(base, "extra"), exitUsage, "no arguments"},
		{"rate limit zero", tokenEnv, append(base, "--rate-limit", "0"), exitUsage, "--rate-limit"},
		{"reset without key", nil, []string{"state", "reset", "-w", dir}, exitUsage, "--key"},
		{"state show format", nil, []string{"state", "show", "-w", dir, "--format", "xml"}, exitUsage, "--format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runScanCLI(t, tt.vars, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Fatalf("exit %d, want %d with %q in stderr:\n%s%s", code, tt.code, tt.want, out, errs)
			}
		})
	}
}

// leakyAPI wraps the simulator and answers the first requests with an error page that echoes
// the Authorization header, as a misconfigured proxy might: the client must not pass it on.
type leakyAPI struct {
	next  http.Handler
	leaks int
}

func (l *leakyAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/api/") && l.leaks > 0 {
		l.leaks--
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html><body>upstream refused request with Authorization: "+r.Header.Get("Authorization")+"</body></html>")
		return
	}
	l.next.ServeHTTP(w, r)
}

// TestScanSecretsNeverLeak runs scans on loopback with debug logging, faults, an error page
// echoing the credential, a wrong token and an Entra app, and searches every output, error and
// warehouse file for the token and the client secret.
func TestScanSecretsNeverLeak(t *testing.T) {
	const clientSecret = "clientSecretQ8w2e4r6t8y0u2i4o6p8a0s2d4f6"
	h := simulator.NewHandler(simulator.Config{
		Tenant: scanTenant(), Token: scanTestToken, ClientSecret: clientSecret, RateLimit: simulator.NoRateLimit,
		FaultSeed: 4, FaultRates: map[simulator.Fault]float64{simulator.FaultInternalError: 0.04, simulator.FaultTruncated: 0.04},
	})
	srv := httptest.NewTLSServer(&leakyAPI{next: h, leaks: 1}) // the authority must be HTTPS
	t.Cleanup(srv.Close)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	dir := filepath.Join(t.TempDir(), "wh")
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(clientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badFile := filepath.Join(t.TempDir(), "bad")
	if err := os.WriteFile(badFile, []byte("not-the-secret-but-long-enough\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	common := []string{"scan", "--url", srv.URL, "-w", dir, "--progress=true", "--rate-limit", "6000", "--log-level", "debug", "--limit", "500", "--ca-file", serverCAFile(t, srv)}
	entra := []string{"--tenant-id", h.TenantID(), "--client-id", h.ClientID(), "--authority-url", srv.URL}
	runs := []struct {
		name string
		vars map[string]string
		args []string
		code int
	}{
		{"legacy token", tokenEnv, common, exitOK},
		{"token with json logs", tokenEnv, append(common, "--log-format", "json", "--full"), exitOK},
		{"wrong token", map[string]string{"MCAS_TOKEN": scanTestToken[:40] + "0000"}, common, exitAuth},
		{"entra secret from env", map[string]string{"MCAS_CLIENT_SECRET": clientSecret}, append(common, entra...), exitOK},
		{"entra secret from file", nil, append(append(common, entra...), "--client-secret-file", secretFile, "--full"), exitOK},
		{"entra wrong secret", nil, append(append(common, entra...), "--client-secret-file", badFile), exitAuth},
		{"token file", nil, append(common, "--token-file", secretFile), exitAuth},
	}
	for _, r := range runs {
		t.Run(r.name, func(t *testing.T) {
			code, out, errs := runScanCLI(t, r.vars, r.args...)
			if code != r.code {
				t.Fatalf("exit %d, want %d:\n%s%s", code, r.code, out, errs)
			}
			for _, s := range []string{scanTestToken, clientSecret} {
				if strings.Contains(out+errs, s) {
					t.Fatalf("a secret appears in the output:\n%s%s", out, errs)
				}
			}
			if !strings.Contains(errs, "level=DEBUG") && !strings.Contains(errs, `"level":"DEBUG"`) {
				t.Errorf("no debug logging; the test would prove less than it says")
			}
		})
	}
	// No file of the warehouse holds a secret (run log, lock, DuckDB pages, Parquet).
	for _, hit := range testkit.FilesHolding(t, dir, scanTestToken, clientSecret) {
		t.Errorf("a secret appears in %s", hit)
	}
}

// TestTimeArgumentsAgree pins the forms scan and query once disagreed on: 2w (query only),
// 1d12h (scan only) and epoch seconds (read as milliseconds, i.e. 1970, by both). Scan resolves
// relative times on the service's clock: its plan shows the date bound it sent.
func TestTimeArgumentsAgree(t *testing.T) {
	tn := scanTenant()
	srv := startScanSim(t, tn, simulator.Config{})
	epoch := time.Now().Add(-50 * time.Hour).Truncate(time.Second).UTC()
	cases := []struct {
		arg  string
		ago  time.Duration // before the service's now (the simulator's clock is the machine's here)
		want time.Time     // or this absolute time
	}{
		{arg: "2w", ago: 14 * 24 * time.Hour},
		{arg: "1d12h", ago: 36 * time.Hour},
		{arg: strconv.FormatInt(epoch.Unix(), 10), want: epoch},
	}
	dateFrom := regexp.MustCompile(`date_from=(\S+)`)
	dir, _ := loadedWarehouse(t)
	for _, tc := range cases {
		t.Run(tc.arg, func(t *testing.T) {
			if tc.ago > 0 {
				tc.want = time.Now().Add(-tc.ago)
			}
			code, out, errs := runScanCLI(t, tokenEnv, "scan", "--url", srv.URL, "-w", filepath.Join(t.TempDir(), "wh"), "--full",
				"--since", tc.arg, "--progress=false", "--rate-limit", "6000")
			if code != exitOK {
				t.Fatalf("scan --since %s: exit %d\n%s%s", tc.arg, code, out, errs)
			}
			m := dateFrom.FindStringSubmatch(errs)
			if m == nil {
				t.Fatalf("no date_from in the plan:\n%s", errs)
			}
			got, err := time.Parse(time.RFC3339Nano, m[1])
			if err != nil || got.Sub(tc.want).Abs() > 2*time.Second {
				t.Errorf("scan --since %s sent date >= %s, want %s", tc.arg, m[1], tc.want)
			}
			// query reads the same forms: --until in epoch seconds would be 1970 as milliseconds,
			// before --since, and refused. The warehouse's rows are of February, so the window is
			// read and found empty (exit 7, naming the window it parsed), not refused.
			until := strconv.FormatInt(time.Now().Unix(), 10)
			code, _, errs = runMcasload(t, nil, "query", "activity-spike", "-w", dir, "--since", tc.arg, "--until", until, "-f", "csv")
			if code != exitNoData || !strings.Contains(errs, "nothing in "+tc.want.UTC().Format("2006-01-02")) {
				t.Errorf("query --since %s --until %s: exit %d: %s; want %d for the window from %s", tc.arg, until, code, errs, exitNoData, tc.want)
			}
		})
	}
}
