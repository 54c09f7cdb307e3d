package mcas

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/testkit"
)

const (
	testClientSecret = "client-s3cret-value-DO-NOT-LEAK"
	testTenant       = "11111111-2222-3333-4444-555555555555"
	testClientID     = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
)

// fakeEntra is a token endpoint that issues numbered tokens and remembers which are valid.
type fakeEntra struct {
	mu       sync.Mutex
	issued   []string
	valid    map[string]bool
	lifetime int    // expires_in seconds
	refuse   string // when set, answer 401 with this AADSTS description
	forms    []string
}

// newFakeEntra serves the token endpoint and the OpenID configuration over TLS (Microsoft's
// library refuses plain HTTP) and returns the server and a CA file trusting it.
func newFakeEntra(t *testing.T) (*fakeEntra, *httptest.Server, string) {
	e := &fakeEntra{valid: map[string]bool{}, lifetime: 3599}
	srv := httptest.NewUnstartedServer(e)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(t.TempDir(), "entra-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return e, srv, caFile
}

func (e *fakeEntra) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/v2.0/.well-known/openid-configuration") {
		base := "https://" + r.Host + "/" + testTenant
		_ = json.NewEncoder(w).Encode(map[string]string{"token_endpoint": base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize", "issuer": base + "/v2.0"})
		return
	}
	_ = r.ParseForm()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.forms = append(e.forms, r.URL.Path+"?"+r.PostForm.Encode())
	if r.URL.Path != "/"+testTenant+"/oauth2/v2.0/token" || r.PostForm.Get("client_secret") != testClientSecret ||
		r.PostForm.Get("grant_type") != "client_credentials" || !strings.HasPrefix(r.PostForm.Get("scope"), DefaultScope) || e.refuse != "" {
		w.WriteHeader(http.StatusUnauthorized)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": "invalid_client", "error_description": e.refuse})
		return
	}
	tok := fmt.Sprintf("eyJ0eXAi.access-token-%d.sig", len(e.issued)+1)
	e.issued = append(e.issued, tok)
	e.valid[tok] = true
	_ = json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": e.lifetime, "ext_expires_in": 0, "access_token": tok})
}

func (e *fakeEntra) check(header string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if tok, ok := strings.CutPrefix(header, "Bearer "); ok && e.valid[tok] {
		return http.StatusOK
	}
	return http.StatusUnauthorized
}

func (e *fakeEntra) revokeAll() {
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.valid)
}

func (e *fakeEntra) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.issued)
}

func entraClient(t *testing.T, apiURL string, authority *httptest.Server, caFile string, clk clock.Clock) (*Client, *testkit.Buffer) {
	return testClient(t, apiURL, clk, func(c *Config) {
		c.Auth = EntraAuth{TenantID: testTenant, ClientID: testClientID, Secret: NewSecret(testClientSecret), AuthorityURL: authority.URL}
		c.CAFile = caFile
	})
}

func TestEntraTokenCachedAndRefreshedBeforeExpiry(t *testing.T) {
	clk := clock.NewVirtual(epoch, true)
	entra, esrv, ca := newFakeEntra(t)
	api, srv := newFakeAPI(t, clk, genRecords(1, epoch.UnixMilli(), nil))
	api.auth = entra.check
	c, _ := entraClient(t, srv.URL, esrv, ca, clk)

	list := func() {
		t.Helper()
		if _, err := c.List(t.Context(), Query{}, 0); err != nil {
			t.Fatalf("List: %v", err)
		}
	}
	list()
	list()
	if n := entra.count(); n != 1 {
		t.Fatalf("%d tokens fetched for two requests, want 1 (cached)", n)
	}
	// The token lives 3599 s; it is still used 54 minutes later…
	clk.Advance(54 * time.Minute)
	list()
	if n := entra.count(); n != 1 {
		t.Fatalf("token refreshed after 54 min, want it kept until 5 min before expiry")
	}
	// …and replaced 5 minutes before it expires, before any request fails.
	clk.Advance(time.Minute)
	list()
	if n := entra.count(); n != 2 {
		t.Fatalf("%d tokens after 55 min, want 2", n)
	}
	reqs := api.log()
	if reqs[len(reqs)-1].Auth != "Bearer "+entra.issued[1] {
		t.Errorf("last request used %q, want the new token", reqs[len(reqs)-1].Auth)
	}
	if s := c.Stats(); s.TokenFetches != 2 {
		t.Errorf("TokenFetches = %d, want 2", s.TokenFetches)
	}
}

func TestEntraRefreshesOnceOn401(t *testing.T) {
	clk := clock.NewVirtual(epoch, true)
	entra, esrv, ca := newFakeEntra(t)
	api, srv := newFakeAPI(t, clk, genRecords(1, epoch.UnixMilli(), nil))
	api.auth = entra.check
	c, _ := entraClient(t, srv.URL, esrv, ca, clk)
	if _, err := c.List(t.Context(), Query{}, 0); err != nil {
		t.Fatal(err)
	}
	entra.revokeAll() // the cached token is now refused: one refresh fixes it
	if _, err := c.List(t.Context(), Query{}, 0); err != nil {
		t.Fatalf("List after the token was revoked: %v", err)
	}
	if n := entra.count(); n != 2 {
		t.Fatalf("%d tokens fetched, want 2", n)
	}

	// A service that refuses every token: exactly one refresh, then an auth error.
	api.auth = func(string) int { return http.StatusUnauthorized }
	before := len(api.log())
	_, err := c.List(t.Context(), Query{}, 0)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("error %v, want ErrAuth", err)
	}
	if n := entra.count(); n != 3 {
		t.Errorf("%d tokens fetched, want 3 (one refresh)", n)
	}
	if n := len(api.log()) - before; n != 2 {
		t.Errorf("%d requests sent, want 2 (first try and one after the refresh)", n)
	}
}

func TestLegacyToken401IsFinal(t *testing.T) {
	clk := clock.NewVirtual(epoch, true)
	api, srv := newFakeAPI(t, clk, nil)
	api.auth = func(string) int { return http.StatusUnauthorized }
	c, _ := testClient(t, srv.URL, clk, nil)
	_, err := c.List(t.Context(), Query{}, 0)
	if !errors.Is(err, ErrAuth) || len(api.log()) != 1 {
		t.Fatalf("error %v after %d requests, want ErrAuth after 1", err, len(api.log()))
	}
}

func TestEntraTokenEndpointRefuses(t *testing.T) {
	clk := clock.NewVirtual(epoch, true)
	entra, esrv, ca := newFakeEntra(t)
	entra.refuse = "AADSTS7000215: Invalid client secret provided."
	api, srv := newFakeAPI(t, clk, nil)
	c, logs := entraClient(t, srv.URL, esrv, ca, clk)
	_, err := c.List(t.Context(), Query{}, 0)
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("error %v, want ErrAuth", err)
	}
	var signIn *SignInError
	if !strings.Contains(err.Error(), "AADSTS7000215") || !errors.As(err, &signIn) || signIn.Method != ClientSecret || len(signIn.Missing) != 0 {
		t.Errorf("error %q should carry Entra's reason and be a SignInError of the client secret method, so the caller can say what to check", err)
	}
	if len(api.log()) != 0 {
		t.Errorf("the API was called without a token")
	}
	assertNoSecrets(t, logs.String()+err.Error(), testClientSecret)
}

func TestTokenFromFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "token")
	if err := os.WriteFile(good, []byte("  "+goodToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a, err := TokenFromFile(good)
	if err != nil || a.Token.Reveal() != goodToken {
		t.Fatalf("TokenFromFile = %v, %v", a, err)
	}
	for _, f := range []string{empty, filepath.Join(dir, "missing")} {
		if _, err := TokenFromFile(f); !errors.Is(err, ErrAuth) {
			t.Errorf("TokenFromFile(%s) = %v, want ErrAuth", filepath.Base(f), err)
		}
	}
}

// assertNoSecrets fails if text contains any of the secrets.
func assertNoSecrets(t *testing.T, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("a secret leaked: %q found in\n%s", s, text)
		}
	}
}

// Every way a secret-holding value can be printed shows "[redacted]".
func TestSecretsNeverPrinted(t *testing.T) {
	entra := EntraAuth{TenantID: testTenant, ClientID: testClientID, Secret: NewSecret(testClientSecret)}
	token := TokenAuth{Token: NewSecret(goodToken)}
	values := []any{
		NewSecret(testClientSecret), entra, &entra, token, &token,
		Config{URL: "https://contoso.example", Auth: entra}, Config{URL: "https://contoso.example", Auth: token},
		struct{ A Auth }{entra}, []Auth{entra, token},
	}
	for _, v := range values {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
			out := fmt.Sprintf(verb, v)
			assertNoSecrets(t, out, testClientSecret, goodToken)
		}
		var buf bytes.Buffer
		for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
			slog.New(h).Info("config", "value", v)
		}
		if j, err := json.Marshal(v); err == nil {
			buf.Write(j)
		}
		assertNoSecrets(t, buf.String(), testClientSecret, goodToken)
	}
	if !strings.Contains(fmt.Sprint(entra), testClientID) {
		t.Errorf("redaction hid the client ID too: %v", entra)
	}
}

// A whole run at debug level — token fetch, 401, refresh, 5xx retries, a server that echoes the
// Authorization header, a 429 and a final failure — leaves no secret in logs or errors.
func TestSecretsAbsentFromLogsAndErrors(t *testing.T) {
	clk := clock.NewVirtual(epoch, true)
	entra, esrv, ca := newFakeEntra(t)
	api, srv := newFakeAPI(t, clk, genRecords(5, epoch.UnixMilli(), nil))
	api.auth = entra.check
	echo := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":{"message":"refused request with Authorization: %s"}}`, r.Header.Get("Authorization"))
		}
	}
	api.fault(echo(401), echo(500), echo(429), resetFault, truncatedFault)
	c, logs := entraClient(t, srv.URL, esrv, ca, clk)
	var errs []string
	if _, err := c.List(t.Context(), Query{}, 0); err != nil {
		t.Fatalf("List through faults: %v", err)
	}
	for range 6 {
		api.fault(echo(502))
	}
	if _, err := c.List(t.Context(), Query{}, 0); err == nil {
		t.Fatal("List succeeded through 6 failures")
	} else {
		errs = append(errs, err.Error(), fmt.Sprintf("%+v %#v", err, err))
	}
	api.fault(echo(400))
	if _, err := c.List(t.Context(), Query{}, 0); err == nil {
		t.Fatal("List succeeded on 400")
	} else {
		errs = append(errs, err.Error())
		if !strings.Contains(err.Error(), redacted) {
			t.Errorf("the echoed token was not replaced: %v", err)
		}
	}
	entra.mu.Lock()
	tokens := append([]string(nil), entra.issued...)
	entra.mu.Unlock()
	if len(tokens) < 2 {
		t.Fatalf("%d tokens issued, want a refresh", len(tokens))
	}
	text := logs.String() + strings.Join(errs, "\n")
	if !strings.Contains(logs.String(), "level=DEBUG") {
		t.Fatal("no debug lines were logged; the test proves nothing")
	}
	assertNoSecrets(t, text, append(tokens, testClientSecret, goodToken)...)
}

// A JWT the client never held — an assertion signed inside Microsoft's library, echoed by a
// server — is scrubbed whole or truncated.
func TestScrubberHidesJWTs(t *testing.T) {
	var s scrubber
	full := "eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCJ9.eyJhdWQiOiJodHRwczovL2xvZ2luIn0.c2lnbmF0dXJl"
	for _, text := range []string{"invalid assertion " + full + " (retry)", "invalid assertion " + full[:50] + "…"} {
		got := s.scrub(text)
		if strings.Contains(got, "eyJhbGci") || !strings.Contains(got, "invalid assertion "+redacted) {
			t.Errorf("scrub(%q) = %q", text, got)
		}
	}
	if got := s.scrub("eyJ is not a token"); got != "eyJ is not a token" {
		t.Errorf("ordinary text changed: %q", got)
	}
}
