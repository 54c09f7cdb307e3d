package reliability

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// The secrets of the secrets tests. Each is long and unique so a match cannot be a coincidence.
const (
	secretToken       = "secretLegacyToken9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b"
	secretWrongToken  = "secretWrongToken1f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a79881f2e3d4c5b6a7988"
	secretClient      = "secretClientSecret~Zq8Yx7Wv6Ut5Sr4Qp3On2Ml1"
	secretWrongClient = "secretWrongClient~Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8"
	secretProxyPass   = "secretProxyPassword-7Hh6Gg5Ff4"
	secretPFXPass     = "secretPfxPassword-Kk3Jj2Hh1Gg0Ff9"
	// Every client assertion azidentity signs with a certificate starts with this encoded header
	// ({"alg":"PS256","typ":"JWT",…); every federated token of the simulator with the next one
	// ({"alg":"RS256",…). Neither may appear, whatever the token's value.
	assertionHead = "eyJhbGciOiJQUzI1NiIs"
	federatedHead = "eyJhbGciOiJSUzI1NiIs"
	// The subject of the federated credential the simulator trusts.
	secretsSubject = "system:serviceaccount:secops:mcasload"
)

// jwtHead is the encoded header every bearer token of the simulator starts with
// ({"typ":"JWT","alg":"RS256"}), so no issued token may appear either. (A bare "eyJ" is too short:
// compressed Parquet holds it by chance.)
const jwtHead = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9"

// allSecrets are the strings that must never appear in output or files.
var allSecrets = []string{secretToken, secretWrongToken, secretClient, secretWrongClient, secretProxyPass, jwtHead,
	secretPFXPass, assertionHead, federatedHead}

// writeSecretFile writes a one-line secret file (0600).
func writeSecretFile(t *testing.T, secret string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// leakyAPI answers every request with an error that echoes the credentials it received: the
// Authorization header in the body and a header, the client secret and the client assertion (a
// certificate's signed JWT or a federated token) in the token error.
func leakyAPI(status int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tenant, ok := strings.CutSuffix(r.URL.Path, "/v2.0/.well-known/openid-configuration"); ok {
			base := "https://" + r.Host + tenant
			_ = json.NewEncoder(w).Encode(map[string]string{"token_endpoint": base + "/oauth2/v2.0/token",
				"authorization_endpoint": base + "/oauth2/v2.0/authorize", "issuer": base + "/v2.0"})
			return
		}
		if strings.Contains(r.URL.Path, "oauth2") {
			_ = r.ParseForm()
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client credential provided: %s %s"}`,
				r.Form.Get("client_secret"), r.Form.Get("client_assertion"))
			return
		}
		auth := r.Header.Get("Authorization")
		w.Header().Set("X-Echo", auth)
		if status >= 500 {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(status)
			fmt.Fprintf(w, "<html><body><h1>Error</h1><p>request with %s failed</p></body></html>", auth)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"detail":"Invalid token %s","error":%q}`, auth, auth)
	})
}

// secretCase is one run of the binary whose output and warehouse must hold no secret.
type secretCase struct {
	name  string
	tls   bool // against the HTTPS simulator (every Entra sign-in needs an https authority)
	env   []string
	args  []string
	codes []int // accepted exit codes
}

// TestReliabilitySecrets drives every auth, TLS and error path of scan and check with debug
// logging and proves that no token, client secret, proxy password or issued bearer token appears
// in stdout, stderr (logs, errors, progress) or any file of the warehouse.
func TestReliabilitySecrets(t *testing.T) {
	binary(t)
	row := record(t, "secrets", "`scan` and `check` with --log-level debug over: legacy token (env, file), wrong token, Entra client secret (env, file) with 2 s tokens, wrong client secret, certificate PFX (password from file and env, wrong password), workload identity (trusted and untrusted federated token), servers echoing credentials in 400/401/403/500 bodies and headers and the client secret, certificate assertion and federated token in token errors, TLS without and with --ca-file, injected API faults; then grep of stdout, stderr and every warehouse file")
	tn := synth.New(synth.Config{Seed: 23, Users: 10, Days: 2, End: time.Now().Add(-time.Hour).UTC(), Total: 1200, LateArrivals: -1})
	clientCert, err := simulator.NewClientCertificate("mcasload secrets test", time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	simCfg := simulator.Config{Tenant: tn, Token: secretToken, ClientSecret: secretClient, RateLimit: simulator.NoRateLimit,
		TokenLifetime: 2 * time.Second, RateWindow: time.Second,
		Identity: simulator.IdentityConfig{Certificates: []*x509.Certificate{clientCert.Cert}, FederatedSubjects: []string{secretsSubject}}}
	plain := simulator.NewServer(simCfg)
	t.Cleanup(plain.Close)
	h := simulator.NewHandler(simCfg)
	tlsSrv, ca := testkit.TLSServer(t, h) // refused handshakes are the point

	base := func(url, dir string, extra ...string) []string {
		return append([]string{"scan", "--url", url, "-w", dir, "--log-level", "debug", "--limit", "500", "--rate-limit", "60000"}, extra...)
	}
	entra := func(url string) []string {
		return []string{"--tenant-id", h.TenantID(), "--client-id", h.ClientID(), "--authority-url", url}
	}
	pfx := writePFX(t, clientCert, secretPFXPass)
	pfxPass := writeSecretFile(t, secretPFXPass)
	fedFile := writeSecretFile(t, h.IssueFederatedToken(secretsSubject, time.Hour))
	strangerFile := writeSecretFile(t, h.IssueFederatedToken("system:serviceaccount:other:intruder", time.Hour))
	workload := func(file string) []string {
		return []string{"AZURE_TENANT_ID=" + h.TenantID(), "AZURE_CLIENT_ID=" + h.ClientID(), "AZURE_FEDERATED_TOKEN_FILE=" + file}
	}
	overTLS := func(extra ...string) []string {
		return append(append(entra(tlsSrv.URL), "--ca-file", ca), extra...)
	}
	cases := []secretCase{
		{name: "legacy token from env", env: []string{"MCAS_TOKEN=" + secretToken}, codes: []int{0}},
		{name: "legacy token from file", args: []string{"--token-file", writeSecretFile(t, secretToken)}, codes: []int{0}},
		{name: "wrong legacy token", env: []string{"MCAS_TOKEN=" + secretWrongToken}, codes: []int{5}},
		{name: "entra from env, tokens expiring", tls: true, env: []string{"MCAS_CLIENT_SECRET=" + secretClient}, args: overTLS(), codes: []int{0}},
		{name: "entra from file", tls: true, args: overTLS("--client-secret-file", writeSecretFile(t, secretClient)), codes: []int{0}},
		{name: "wrong client secret", tls: true, env: []string{"MCAS_CLIENT_SECRET=" + secretWrongClient}, args: overTLS(), codes: []int{5}},
		{name: "certificate pfx with password file", tls: true, args: overTLS("--client-certificate", pfx, "--client-certificate-password-file", pfxPass), codes: []int{0}},
		{name: "certificate pfx with password env", tls: true, env: []string{"MCAS_CLIENT_CERTIFICATE_PASSWORD=" + secretPFXPass}, args: overTLS("--client-certificate", pfx), codes: []int{0}},
		{name: "certificate pfx with wrong password", tls: true, env: []string{"MCAS_CLIENT_CERTIFICATE_PASSWORD=" + secretWrongClient}, args: overTLS("--client-certificate", pfx), codes: []int{5}},
		{name: "workload identity", tls: true, env: workload(fedFile), args: overTLS("--auth", "workload-identity"), codes: []int{0}},
		{name: "workload identity, untrusted subject", tls: true, env: workload(strangerFile), args: overTLS("--auth", "workload-identity"), codes: []int{5}},
	}
	var ran atomic.Int64
	check := func(t *testing.T, dir string, r testkit.Result) {
		t.Helper()
		ran.Add(1)
		if l := leaks(allSecrets, map[string]string{"stdout": r.Stdout, "stderr": r.Stderr}); len(l) > 0 {
			t.Errorf("a secret appears in %v: %s", l, r)
		}
		if strings.Contains(r.Stderr, "panic") || strings.Contains(r.Stderr, "goroutine ") {
			t.Errorf("panic: %s", r)
		}
		if _, err := os.Stat(dir); err == nil {
			if hits := testkit.FilesHolding(t, dir, allSecrets...); len(hits) > 0 {
				t.Errorf("a secret is stored in %v", hits)
			}
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wh")
			url := plain.URL
			if c.tls {
				url = tlsSrv.URL
			}
			r := run(t, c.env, base(url, dir, c.args...)...)
			if !containsInt(c.codes, r.Code) {
				t.Errorf("want exit %v: %s", c.codes, r)
			}
			if r.Code == 0 && !strings.Contains(r.Stderr, "level=DEBUG") {
				t.Errorf("no debug line was logged; the test would not see a leak through debug logs: %s", r)
			}
			check(t, dir, r)
			cr := run(t, c.env, append([]string{"check", "--url", url, "--log-level", "debug"}, c.args...)...)
			check(t, dir, cr)
		})
	}
	t.Run("api faults with debug logs", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "wh")
		// Each forced fault fails the first request once more, with real backoff in between:
		// the short run takes four kinds, the long one every kind.
		kinds := []simulator.Fault{simulator.FaultThrottle, simulator.FaultInternalError, simulator.FaultReset, simulator.FaultTruncated}
		if long {
			kinds = simulator.Faults()
		}
		for _, f := range kinds {
			plain.FailNext(1, f)
		}
		r := run(t, []string{"MCAS_TOKEN=" + secretToken}, base(plain.URL, dir)...)
		if r.Code != 0 {
			t.Errorf("want exit 0 after retries: %s", r)
		}
		check(t, dir, r)
	})
	for _, status := range []int{400, 401, 403, 500} {
		if status == 500 && !long {
			continue // six attempts with backoff: half a minute
		}
		t.Run(fmt.Sprintf("server echoing credentials in a %d", status), func(t *testing.T) {
			leak, ca := testkit.TLSServer(t, leakyAPI(status))
			leakCA := []string{"--ca-file", ca}
			dir := filepath.Join(t.TempDir(), "wh")
			r := run(t, []string{"MCAS_TOKEN=" + secretToken}, base(leak.URL, dir, leakCA...)...)
			if r.Code == 0 {
				t.Errorf("want a failure: %s", r)
			}
			check(t, dir, r)
			for name, signin := range map[string]struct{ env, args []string }{
				"client secret":     {env: []string{"MCAS_CLIENT_SECRET=" + secretClient}},
				"certificate":       {args: []string{"--client-certificate", pfx, "--client-certificate-password-file", pfxPass}},
				"workload identity": {env: workload(fedFile), args: []string{"--auth", "workload-identity"}},
			} {
				r = run(t, signin.env, base(leak.URL, dir, append(append(entra(leak.URL), leakCA...), signin.args...)...)...)
				if r.Code != 5 {
					t.Errorf("%s: token endpoint refusing: want exit 5: %s", name, r)
				}
				check(t, dir, r)
			}
			check(t, dir, run(t, []string{"MCAS_TOKEN=" + secretToken}, append([]string{"check", "--url", leak.URL, "--log-level", "debug"}, leakCA...)...))
		})
	}
	t.Run("tls self-signed", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "wh")
		r := run(t, []string{"MCAS_TOKEN=" + secretToken}, base(tlsSrv.URL, dir)...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "certificate") || !strings.Contains(r.Stderr, "--ca-file") {
			t.Errorf("a self-signed server without --ca-file: want a failure naming the certificate and --ca-file: %s", r)
		}
		check(t, dir, r)
		r = run(t, []string{"MCAS_TOKEN=" + secretToken}, base(tlsSrv.URL, dir, "--ca-file", ca)...)
		if r.Code != 0 {
			t.Fatalf("with --ca-file: %s", r)
		}
		check(t, dir, r)
		sinks.ExactlyOnce(t, dir, sinks.WantTenant(tn, time.Time{}))
		dir2 := filepath.Join(t.TempDir(), "wh")
		r = run(t, []string{"MCAS_CLIENT_SECRET=" + secretClient}, base(tlsSrv.URL, dir2, append(entra(tlsSrv.URL), "--ca-file", ca)...)...)
		if r.Code != 0 {
			t.Fatalf("entra over TLS with --ca-file: %s", r)
		}
		check(t, dir2, r)
		r = run(t, []string{"MCAS_CLIENT_SECRET=" + secretClient}, base(tlsSrv.URL, dir2, entra(tlsSrv.URL)...)...)
		if r.Code == 0 {
			t.Errorf("entra over TLS without --ca-file: want a failure: %s", r)
		}
		check(t, dir2, r)
	})
	t.Run("plain http to a remote host refused", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "wh")
		r := run(t, []string{"MCAS_TOKEN=" + secretToken}, base("http://192.0.2.1", dir)...)
		if r.Code == 0 || !strings.Contains(strings.ToLower(r.Stderr), "http") {
			t.Errorf("want a refusal of plain http to a non-loopback host: %s", r)
		}
		check(t, dir, r)
	})
	t.Run("formatting and logging of the config", func(t *testing.T) {
		ran.Add(1)
		loadedPFX, err := mcas.LoadCertificate(pfx, mcas.NewSecret(secretPFXPass))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(clientCert.KeyPEM)
		key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		keyDigits := key.(*rsa.PrivateKey).D.String()[:40] // how fmt would print the key
		for _, v := range []any{loadedPFX, *loadedPFX, struct{ C mcas.Certificate }{*loadedPFX}} {
			js, _ := json.Marshal(v)
			var logs bytes.Buffer
			slog.New(slog.NewTextHandler(&logs, nil)).Info("cert", "v", v)
			if text := fmt.Sprintf("%v %+v %#v %s", v, v, v, v) + string(js) + logs.String(); strings.Contains(text, keyDigits) || !strings.Contains(text, loadedPFX.Thumbprint()) {
				t.Errorf("the certificate prints its key or not its thumbprint: %s", text)
			}
		}
		cfgs := []mcas.Config{
			{URL: "https://user:" + secretProxyPass + "@example.com", Auth: mcas.TokenAuth{Token: mcas.NewSecret(secretToken)}},
			{URL: "https://example.com", Auth: mcas.EntraAuth{TenantID: "t", ClientID: "c", Secret: mcas.NewSecret(secretClient)}},
			{URL: "https://example.com", Auth: mcas.EntraAuth{Method: mcas.ClientCertificate, TenantID: "t", ClientID: "c", Certificate: loadedPFX}},
		}
		for _, cfg := range cfgs {
			var logs bytes.Buffer
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", cfg, "auth", cfg.Auth)
			slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "cfg", cfg, "auth", cfg.Auth)
			js, _ := json.Marshal(cfg)
			texts := map[string]string{
				"%v": fmt.Sprintf("%v", cfg), "%+v": fmt.Sprintf("%+v", cfg), "%#v": fmt.Sprintf("%#v", cfg),
				"%s": fmt.Sprintf("%s", cfg), "auth %+v": fmt.Sprintf("%+v", cfg.Auth), "auth %#v": fmt.Sprintf("%#v", cfg.Auth),
				"json": string(js), "slog": logs.String(), "panic": panicText(cfg), "panic auth": panicText(cfg.Auth),
			}
			if l := leaks(allSecrets, texts); len(l) > 0 {
				t.Errorf("a secret appears in %v", l)
			}
		}
	})
	row.set(int(ran.Load()), "no secret (token, client secret, wrong ones, proxy password, certificate password, client assertions, federated tokens, issued JWTs) in any stdout, stderr, error, panic value or warehouse file; TLS refused without --ca-file and exact with it; plain http to a remote host refused")
}

// panicText is what the runtime prints for panic(v): Error() or String() when v has them.
func panicText(v any) (text string) {
	defer func() {
		r := recover()
		switch x := r.(type) {
		case error:
			text = x.Error()
		case fmt.Stringer:
			text = x.String()
		default:
			text = fmt.Sprintf("%v", x)
		}
	}()
	panic(v)
}

func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// TestReliabilityProxy scans a TLS simulator through a local CONNECT proxy chosen by an injected
// proxy function (Go never proxies loopback from HTTPS_PROXY): every request tunnels through it,
// the result is exact, and the proxy password appears in no log or error, also when the proxy
// refuses the credentials.
func TestReliabilityProxy(t *testing.T) {
	row := record(t, "secrets: HTTPS proxy", "scan of a TLS simulator through a loopback CONNECT proxy with Basic credentials, injected through mcas.Config.Proxy; then with a wrong proxy password; then the real binary with HTTPS_PROXY and --log-level debug")
	tn := synth.New(synth.Config{Seed: 29, Users: 10, Days: 2, End: hostileEnd, Total: 1500, LateArrivals: -1})
	h := simulator.NewHandler(simulator.Config{Tenant: tn, Token: secretToken, RateLimit: simulator.NoRateLimit})
	api, ca := testkit.TLSServer(t, h)
	proxy := &testkit.ConnectProxy{User: "scanner", Pass: secretProxyPass}
	ps := httptest.NewServer(proxy)
	t.Cleanup(ps.Close)

	scan := func(pass string) (string, error, string) {
		pu, _ := url.Parse(ps.URL)
		pu.User = url.UserPassword("scanner", pass)
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		client, err := mcas.NewClient(mcas.Config{
			URL: api.URL, Auth: mcas.TokenAuth{Token: mcas.NewSecret(secretToken)}, CAFile: ca, Logger: log,
			Proxy:  func(*http.Request) (*url.URL, error) { return pu, nil },
			Retry:  mcas.RetryPolicy{MaxAttempts: 2, BaseDelay: 10 * time.Millisecond},
			Jitter: func() float64 { return 0 },
		})
		if err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "wh")
		w, err := warehouse.Open(t.Context(), warehouse.Options{Dir: dir, Source: "simulator", Threads: 1, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		_, serr := loader.Scan(t.Context(), client, w, loader.ScanOptions{URL: api.URL, Limit: 500, Since: timearg.At(hostileEnd.Add(-72 * time.Hour)),
			Until: timearg.At(hostileEnd.Add(time.Hour)), Full: true, Logger: log, Pipeline: loader.Options{Workers: 1, Allocator: mem}})
		if err := w.Close(context.WithoutCancel(t.Context())); err != nil {
			t.Fatal(err)
		}
		return dir, serr, logs.String()
	}
	dir, err, logs := scan(secretProxyPass)
	if err != nil {
		t.Fatalf("scan through the proxy: %v", err)
	}
	sinks.ExactlyOnce(t, dir, sinks.WantTenant(tn, time.Time{}))
	if proxy.Tunnels.Load() == 0 {
		t.Errorf("no request went through the proxy")
	}
	if l := leaks(allSecrets, map[string]string{"logs": logs}); len(l) > 0 {
		t.Errorf("a secret appears in the debug logs")
	}
	if hits := testkit.FilesHolding(t, dir, allSecrets...); len(hits) > 0 {
		t.Errorf("a secret is stored in %v", hits)
	}
	_, err, logs = scan(secretProxyPass + "-wrong")
	if err == nil {
		t.Fatalf("a proxy refusing the credentials: want an error")
	}
	if l := leaks(append(allSecrets, secretProxyPass+"-wrong"), map[string]string{"error": err.Error(), "logs": logs}); len(l) > 0 {
		t.Errorf("the proxy password appears in %v: %v", l, err)
	}
	if proxy.Refused.Load() == 0 {
		t.Errorf("the proxy never refused the wrong password")
	}
	// The real binary honours HTTPS_PROXY. Go never proxies loopback, so the binary is sent to
	// https://example.com:PORT (a name the test certificate holds), which only the proxy resolves,
	// to the simulator.
	if !testing.Short() {
		_, port, _ := net.SplitHostPort(strings.TrimPrefix(api.URL, "https://"))
		proxy.Route = func(string) string { return "127.0.0.1:" + port }
		before := proxy.Tunnels.Load()
		pu, _ := url.Parse(ps.URL)
		pu.User = url.UserPassword("scanner", secretProxyPass)
		bdir := filepath.Join(t.TempDir(), "wh")
		r := run(t, []string{"MCAS_TOKEN=" + secretToken, "HTTPS_PROXY=" + pu.String(), "NO_PROXY="},
			"scan", "--url", "https://example.com:"+port, "-w", bdir, "--ca-file", ca, "--log-level", "debug", "--limit", "500",
			"--rate-limit", "60000", "--since", hostileEnd.Add(-72*time.Hour).Format(time.RFC3339), "--until", hostileEnd.Add(time.Hour).Format(time.RFC3339))
		if r.Code != 0 {
			t.Fatalf("scan through HTTPS_PROXY: %s", r)
		}
		if proxy.Tunnels.Load() == before {
			t.Errorf("the binary did not use HTTPS_PROXY")
		}
		if l := leaks(allSecrets, map[string]string{"stdout": r.Stdout, "stderr": r.Stderr}); len(l) > 0 {
			t.Errorf("a secret appears in %v: %s", l, r)
		}
		if hits := testkit.FilesHolding(t, bdir, allSecrets...); len(hits) > 0 {
			t.Errorf("a secret is stored in %v", hits)
		}
		sinks.ExactlyOnce(t, bdir, sinks.WantTenant(tn, time.Time{}))
	}
	t.Logf("tunnels %d to %v; refused %d; error with a wrong password: %v", proxy.Tunnels.Load(), proxy.Targets(), proxy.Refused.Load(), err)
	row.set(int(proxy.Tunnels.Load()+proxy.Refused.Load()), "%d tunnels (library and binary with HTTPS_PROXY), both scans exact (%d ids), no secret in debug logs or files; wrong proxy password refused (%d times) with an error naming no password", proxy.Tunnels.Load(), tn.Len(), proxy.Refused.Load())
}

// TestReliabilityPermissions checks that everything a load, a scan, a repair and a compaction
// write is 0600 (files) or 0700 (folders), whatever the umask.
func TestReliabilityPermissions(t *testing.T) {
	binary(t)
	row := record(t, "access: file modes", "walk every file and folder of warehouses written by load (with rejects), scan, compaction, repair, under umask 000")
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	tn := crashTenant()
	srv := simulator.NewServer(simulator.Config{Tenant: tn, Token: crashToken, RateLimit: simulator.NoRateLimit})
	t.Cleanup(srv.Close)
	ts := time.Now().Add(-2 * time.Hour).UnixMilli()
	file := filepath.Join(t.TempDir(), "bad.ndjson")
	if err := os.WriteFile(file, []byte(badRecords(ts)[0].line+"\n"+quirkyRecords(ts)[1]+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "wh")
	steps := [][]string{
		{"scan", "--url", srv.URL, "-w", dir, "--limit", "500", "--batch-rows", "300", "--progress=false", "--rate-limit", "60000", "--compact-over", "1"},
		{"load", "-w", dir, "--progress=false", "--allow-mixed-sources", file},
		{"repair", "-w", dir, "--from", "duckdb"},
		{"verify", "-w", dir},
	}
	for _, s := range steps {
		if r := run(t, []string{"MCAS_TOKEN=" + crashToken}, s...); r.Code != 0 && r.Code != 3 {
			t.Fatalf("%s: %s", s[0], r)
		}
	}
	checked, bad := testkit.CheckModes(t, dir)
	if _, err := os.Stat(filepath.Join(dir, warehouse.RejectedDir)); err != nil {
		t.Errorf("the load made no rejects folder; the walk did not cover it")
	}
	row.set(checked, "%d files and folders walked, %d with a wrong mode", checked, bad)
}

// TestReliabilitySQLInjection passes injection payloads through every string and list parameter
// of every investigation, and through scan filters: no statement runs, no file appears, the
// warehouse is unchanged, and nothing fails with an SQL syntax error (which would mean the value
// reached the SQL text).
func TestReliabilitySQLInjection(t *testing.T) {
	binary(t)
	row := record(t, "access: SQL injection", "payloads (quote breaks, stacked DROP/COPY/ATTACH, comments, placeholders) through every string/list --param of every investigation, through `sql` and through scan --filter/--user")
	tn := crashTenant()
	srv := simulator.NewServer(simulator.Config{Tenant: tn, Token: crashToken, RateLimit: simulator.NoRateLimit})
	t.Cleanup(srv.Close)
	dir := filepath.Join(t.TempDir(), "wh")
	env := []string{"MCAS_TOKEN=" + crashToken}
	scanArgs := []string{"scan", "--url", srv.URL, "-w", dir, "--limit", "500", "--progress=false", "--rate-limit", "60000"}
	if r := run(t, env, scanArgs...); r.Code != 0 {
		t.Fatalf("scan: %s", r)
	}
	want := sinks.WantTenant(tn, time.Time{})
	canary := filepath.Join(t.TempDir(), "pwned")
	payloads := []string{
		`x' OR '1'='1`,
		`x'); DROP TABLE activities; --`,
		`x'; COPY (SELECT 1) TO '` + canary + `'; --`,
		`x' UNION SELECT * FROM duckdb_settings() --`,
		`'; ATTACH '` + canary + `.db' AS p; --`,
		`$1 ? %s \' "`,
	}
	if !long {
		payloads = payloads[:3]
	}
	tried, syntax := 0, 0
	for _, inv := range queries.All() {
		for _, p := range inv.Params {
			if p.Type != "string" && p.Type != "list" {
				continue
			}
			for _, payload := range payloads {
				args := []string{"query", inv.Name, "-w", dir, "--format", "csv", "--since", "3650d", "--param", p.Name + "=" + payload}
				if p.Name != "ip" {
					if q, ok := inv.Param("ip"); ok && q.Required {
						args = append(args, "--param", "ip=10.0.0.1")
					}
				}
				r := run(t, nil, args...)
				tried++
				if r.Code != 0 && r.Code != 2 {
					if strings.Contains(r.Stderr, "Parser Error") || strings.Contains(r.Stderr, "syntax error") {
						syntax++
					}
					t.Errorf("%s --param %s=%q: %s", inv.Name, p.Name, payload, r)
				}
			}
		}
	}
	for _, stmt := range []string{"DROP TABLE activities", "COPY (SELECT 1) TO '" + canary + "'", "ATTACH '" + canary + ".db' AS p",
		"SELECT 1; DROP TABLE activities", "INSTALL httpfs", "SELECT * FROM read_text('/etc/passwd')", "SET enable_external_access = true"} {
		r := run(t, nil, "sql", "-w", dir, stmt)
		tried++
		if r.Code == 0 {
			t.Errorf("sql %q ran: %s", stmt, r)
		}
	}
	for _, f := range []string{`{"user.username":{"eq":["x' OR '1'='1"]}}`, `{"user.username":{"eq":["x\"); DROP TABLE activities; --"]}}`} {
		r := run(t, env, append(scanArgs, "--full", "--filter", f)...)
		tried++
		if r.Code != 0 && r.Code != 2 {
			t.Errorf("scan --filter %s: %s", f, r)
		}
	}
	r := run(t, env, append(scanArgs, "--full", "--user", `' OR 1=1; DROP TABLE activities; --`)...)
	tried++
	if r.Code != 0 && r.Code != 2 {
		t.Errorf("scan --user with a payload: %s", r)
	}
	if _, err := os.Stat(canary); err == nil {
		t.Errorf("a payload wrote %s", canary)
	}
	if _, err := os.Stat(canary + ".db"); err == nil {
		t.Errorf("a payload attached %s.db", canary)
	}
	sinks.ExactlyOnce(t, dir, want)
	row.set(tried, "no payload ran a statement, wrote a file or changed a row (warehouse still exact, %d ids); %d SQL syntax errors", len(want), syntax)
}

// TestReliabilitySimulatorLoopback checks that `mcasload sim` refuses non-loopback addresses
// unless told, serves on loopback, and that the in-process simulator binds 127.0.0.1.
func TestReliabilitySimulatorLoopback(t *testing.T) {
	binary(t)
	row := record(t, "access: simulator binds loopback", "`mcasload sim --addr` 0.0.0.0, [::], a LAN-style address and the default; the in-process simulator's address")
	tried := 0
	for _, addr := range []string{"0.0.0.0:0", "[::]:0", "192.0.2.1:0", ":0"} {
		r := run(t, nil, "sim", "--addr", addr, "--records", "10", "--users", "2", "--days", "1")
		tried++
		if r.Code != 2 || !strings.Contains(r.Stderr, "--allow-remote") {
			t.Errorf("sim --addr %s: want exit 2 naming --allow-remote: %s", addr, r)
		}
	}
	p := start(t, []string{"MCAS_SIM_TOKEN=" + secretToken}, "sim", "--addr", "127.0.0.1:0", "--records", "10", "--users", "2", "--days", "1")
	tried++
	deadline := time.Now().Add(time.Minute)
	var served string
	for served == "" && time.Now().Before(deadline) && p.Running() {
		sc := bufio.NewScanner(strings.NewReader(p.Stdout.String()))
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "url: "); ok {
				served = u
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	u, err := url.Parse(served)
	if err != nil || u.Hostname() != "127.0.0.1" {
		t.Errorf("sim on 127.0.0.1:0 serves %q: %s", served, p.Stdout.String())
	}
	_ = p.Cmd.Process.Signal(os.Interrupt)
	if r := p.Wait(t); r.Code != 0 {
		t.Errorf("sim after SIGINT: %s", r)
	} else if strings.Contains(r.Stdout+r.Stderr, secretToken) {
		t.Errorf("sim printed the token it took from MCAS_SIM_TOKEN")
	}
	srv := simulator.NewServer(simulator.Config{Tenant: synth.New(synth.Config{Seed: 1, Users: 2, Days: 1, Total: 5})})
	defer srv.Close()
	tried++
	if u, _ := url.Parse(srv.URL); u.Hostname() != "127.0.0.1" {
		t.Errorf("simulator.NewServer listens on %s", srv.URL)
	}
	row.set(tried, "non-loopback addresses refused with exit 2 naming --allow-remote; loopback served on 127.0.0.1; the environment token not printed")
}

// writePFX exports a client certificate as a PFX protected by password, with the legacy
// encryption Microsoft's Go library reads; the password goes to openssl in a file, not in argv.
func writePFX(t *testing.T, c *simulator.ClientCertificate, password string) string {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pem"), filepath.Join(dir, "client.pfx")
	if err := os.WriteFile(in, c.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	pass := writeSecretFile(t, password)
	if b, err := exec.Command("openssl", "pkcs12", "-export", "-legacy", "-in", in, "-out", out, "-passout", "file:"+pass).CombinedOutput(); err != nil {
		t.Fatalf("openssl pkcs12: %v\n%s", err, b)
	}
	return out
}
