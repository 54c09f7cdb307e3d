package mcas

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
)

// Auth is how the client proves who it is: TokenAuth (legacy API token) or EntraAuth (Microsoft
// Entra ID client credentials). The interface is sealed; the client turns it into a credential
// source when it is built.
type Auth interface {
	// Kind names the method for reports ("legacy token", "entra client credentials").
	Kind() string
	validate() error
	newSource(c *Client) credentialSource
}

// credentialSource yields the Authorization header value and can be told the server refused it.
type credentialSource interface {
	header(ctx context.Context) (string, error)
	// invalidate drops a cached credential after a 401; it reports whether a fresh one can be
	// fetched (so the request is worth sending once more).
	invalidate() bool
}

// TokenAuth is a legacy API token, sent as "Authorization: Token <token>".
type TokenAuth struct {
	Token Secret
}

// TokenFromFile reads a legacy token from path (surrounding whitespace ignored).
func TokenFromFile(path string) (TokenAuth, error) {
	s, err := readSecretFile(path)
	if err != nil {
		return TokenAuth{}, err
	}
	return TokenAuth{Token: s}, nil
}

// readSecretFile reads a one-line secret; the error names the file, never its content.
func readSecretFile(path string) (Secret, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, authErrorf("read secret file %s: %w", path, err)
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return Secret{}, authErrorf("read secret file %s: the file is empty", path)
	}
	return NewSecret(v), nil
}

// Kind returns "legacy token".
func (TokenAuth) Kind() string { return "legacy token" }

func (a TokenAuth) validate() error {
	if a.Token.Empty() {
		return authErrorf("new client: the API token is empty: set MCAS_TOKEN or --token-file")
	}
	return nil
}

// String hides the token.
func (a TokenAuth) String() string { return "TokenAuth{Token:" + redacted + "}" }

// GoString hides the token.
func (a TokenAuth) GoString() string { return a.String() }

func (a TokenAuth) newSource(c *Client) credentialSource {
	c.scrub.add(a.Token.Reveal())
	return staticToken{value: "Token " + a.Token.Reveal()}
}

// staticToken is a legacy token: nothing to refresh, so a 401 is final.
type staticToken struct{ value string }

func (s staticToken) header(context.Context) (string, error) { return s.value, nil }
func (s staticToken) invalidate() bool                       { return false }

// DefaultAuthorityURL is the Entra ID authority; US Government clouds use
// https://login.microsoftonline.us.
const DefaultAuthorityURL = "https://login.microsoftonline.com"

// DefaultScope asks for a token for the Defender for Cloud Apps API application.
const DefaultScope = "05a65629-4c1b-48c1-a78b-804c4abdd4af/.default"

// EntraAuth is a Microsoft Entra ID application using the OAuth2 client-credentials grant. The
// token is fetched on first use, cached, refreshed RefreshBefore its expiry and once after a 401.
type EntraAuth struct {
	TenantID     string
	ClientID     string
	Secret       Secret
	AuthorityURL string        // default DefaultAuthorityURL; the simulator serves its own
	Scope        string        // default DefaultScope
	RefreshEarly time.Duration // refresh this long before expiry; default 5 minutes
}

// Kind returns "entra client credentials".
func (EntraAuth) Kind() string { return "entra client credentials" }

func (a EntraAuth) validate() error {
	if a.TenantID == "" || a.ClientID == "" || a.Secret.Empty() {
		return authErrorf("new client: Entra app authentication needs a tenant ID, a client ID and a client secret (--tenant-id, --client-id, MCAS_CLIENT_SECRET)")
	}
	if a.AuthorityURL != "" {
		u, err := url.Parse(a.AuthorityURL)
		switch {
		case err != nil || u.Host == "":
			return fmt.Errorf("new client: bad authority URL %s: want e.g. %s", redactURL(a.AuthorityURL), DefaultAuthorityURL)
		case u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname())):
			return fmt.Errorf("new client: refusing authority URL %s: the client secret would travel unencrypted; use https", redactURL(a.AuthorityURL))
		}
	}
	return nil
}

// String hides the secret.
func (a EntraAuth) String() string {
	return fmt.Sprintf("EntraAuth{TenantID:%s ClientID:%s Secret:%s AuthorityURL:%s}", a.TenantID, a.ClientID, redacted, a.AuthorityURL)
}

// GoString hides the secret.
func (a EntraAuth) GoString() string { return a.String() }

func (a EntraAuth) newSource(c *Client) credentialSource {
	c.scrub.add(a.Secret.Reveal())
	if a.AuthorityURL == "" {
		a.AuthorityURL = DefaultAuthorityURL
	}
	if a.Scope == "" {
		a.Scope = DefaultScope
	}
	if a.RefreshEarly <= 0 {
		a.RefreshEarly = 5 * time.Minute
	}
	return &entraSource{cfg: a, http: c.http, clock: c.clock, scrub: &c.scrub, log: c.log, stats: &c.stats}
}

// tokenEndpoint is the v2 token URL for the tenant.
func (a EntraAuth) tokenEndpoint() string {
	return strings.TrimRight(a.AuthorityURL, "/") + "/" + url.PathEscape(a.TenantID) + "/oauth2/v2.0/token"
}

type entraSource struct {
	cfg   EntraAuth
	http  *http.Client
	clock clock.Clock
	scrub *scrubber
	log   *slog.Logger
	stats *counters

	mu      sync.Mutex
	token   string
	expires time.Time
}

func (s *entraSource) header(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.clock.Now().Before(s.expires.Add(-s.cfg.RefreshEarly)) {
		return "Bearer " + s.token, nil
	}
	if err := s.fetchLocked(ctx); err != nil {
		return "", err
	}
	return "Bearer " + s.token, nil
}

func (s *entraSource) invalidate() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token = ""
	return true
}

// tokenResponse is the token endpoint's answer, success or error.
type tokenResponse struct {
	AccessToken      string      `json:"access_token"`
	ExpiresIn        json.Number `json:"expires_in"` // a number, or a string on the v1 endpoint
	Error            string      `json:"error"`
	ErrorDescription string      `json:"error_description"`
}

func (s *entraSource) fetchLocked(ctx context.Context) error {
	if s.cfg.TenantID == "" || s.cfg.ClientID == "" || s.cfg.Secret.Empty() {
		return authErrorf("get entra token: tenant ID, client ID and client secret are all required")
	}
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {s.cfg.ClientID},
		"client_secret": {s.cfg.Secret.Reveal()},
		"scope":         {s.cfg.Scope},
	}
	endpoint := s.cfg.tokenEndpoint()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return authErrorf("get entra token: bad authority URL %q: %v", redactURL(s.cfg.AuthorityURL), s.scrub.scrub(err.Error()))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	start := s.clock.Now()
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("get entra token from %s: %w", redactURL(endpoint), transportError(err, s.scrub))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("get entra token from %s: read response: %w", redactURL(endpoint), transportError(err, s.scrub))
	}
	var tr tokenResponse
	jerr := json.Unmarshal(body, &tr)
	if resp.StatusCode != http.StatusOK || jerr != nil || tr.AccessToken == "" {
		msg := tr.ErrorDescription
		if msg == "" {
			msg = tr.Error
		}
		if msg == "" {
			msg = shortText(body)
		}
		msg = s.scrub.scrub(msg)
		if resp.StatusCode >= 500 {
			return fmt.Errorf("get entra token from %s: HTTP %d: %s", redactURL(endpoint), resp.StatusCode, msg)
		}
		return authErrorf("get entra token from %s: HTTP %d: %s (check --tenant-id, --client-id and the client secret, and that the app has the Investigation.read permission)",
			redactURL(endpoint), resp.StatusCode, msg)
	}
	secs, err := tr.ExpiresIn.Int64()
	if err != nil || secs <= 0 {
		secs = 3599 // the documented lifetime when the field is missing or odd
	}
	s.token = tr.AccessToken
	s.scrub.add(tr.AccessToken)
	s.expires = start.Add(time.Duration(secs) * time.Second)
	s.stats.tokenFetches.Add(1)
	s.log.InfoContext(ctx, "fetched entra token", "tenant", s.cfg.TenantID, "client", s.cfg.ClientID, "expires", s.expires.UTC().Format(time.RFC3339))
	return nil
}
