package simulator

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
)

// APIScope is the scope a client credentials request must ask for: the Defender for Cloud Apps
// application id followed by /.default.
const APIScope = "05a65629-4c1b-48c1-a78b-804c4abdd4af/.default"

// apiResource is the same application for the v1 token endpoint's resource field.
const apiResource = "05a65629-4c1b-48c1-a78b-804c4abdd4af"

// authority checks API credentials and plays the Entra ID token endpoint.
type authority struct {
	token                      string
	tenantID, clientID, secret string
	lifetime                   time.Duration
	clk                        clock.Clock

	mu      sync.Mutex
	bearers map[string]time.Time // access token → expiry on the virtual clock
}

// authFailure is an authentication or authorization refusal.
type authFailure struct {
	status  int
	code    string
	message string
}

// check returns nil when r carries a valid legacy token or an unexpired bearer token.
func (a *authority) check(r *http.Request) *authFailure {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	scheme, cred, _ := strings.Cut(h, " ")
	cred = strings.TrimSpace(cred)
	switch {
	case h == "":
		return &authFailure{http.StatusUnauthorized, "Unauthorized", "authentication credentials were not provided"}
	case strings.EqualFold(scheme, "Token"):
		if subtle.ConstantTimeCompare([]byte(cred), []byte(a.token)) == 1 {
			return nil
		}
		return &authFailure{http.StatusForbidden, "Forbidden", "invalid token"}
	case strings.EqualFold(scheme, "Bearer"):
		a.mu.Lock()
		exp, ok := a.bearers[cred]
		a.mu.Unlock()
		if !ok {
			return &authFailure{http.StatusUnauthorized, "Unauthorized", "invalid bearer token"}
		}
		if !a.clk.Now().Before(exp) {
			return &authFailure{http.StatusUnauthorized, "Unauthorized", "the bearer token has expired"}
		}
		return nil
	}
	return &authFailure{http.StatusUnauthorized, "Unauthorized", "unsupported authorization scheme (use Token or Bearer)"}
}

// entraError is the JSON body Entra ID answers a failed token request with.
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
}

// serveToken answers POST /<tenant>/oauth2/v2.0/token (and the v1 /oauth2/token) like Entra ID
// does for the client credentials grant.
func (a *authority) serveToken(w http.ResponseWriter, r *http.Request, tenant string, v2 bool) {
	fail := func(status int, code string, aadsts int, desc string) {
		writeJSON(w, status, entraError{Error: code, ErrorDescription: "AADSTS" + itoa(aadsts) + ": " + desc,
			ErrorCodes: []int{aadsts}, Timestamp: a.clk.Now().UTC().Format("2006-01-02 15:04:05Z")})
	}
	if r.Method != http.MethodPost {
		fail(http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return
	}
	if tenant != a.tenantID {
		fail(http.StatusBadRequest, "invalid_tenant", 90002, "Tenant '"+tenant+"' not found.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBody)
	if err := r.ParseForm(); err != nil {
		fail(http.StatusBadRequest, "invalid_request", 900144, "The request body must be application/x-www-form-urlencoded.")
		return
	}
	f := r.PostForm
	if f.Get("grant_type") != "client_credentials" {
		fail(http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.")
		return
	}
	if v2 && f.Get("scope") != APIScope {
		fail(http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope is not valid. Use "+APIScope+".")
		return
	}
	if !v2 && f.Get("resource") != apiResource {
		fail(http.StatusBadRequest, "invalid_resource", 500011, "The resource principal was not found in the tenant.")
		return
	}
	if f.Get("client_id") != a.clientID {
		fail(http.StatusBadRequest, "unauthorized_client", 700016, "Application with the given identifier was not found in the directory.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(a.secret)) != 1 {
		fail(http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided.")
		return
	}
	now := a.clk.Now()
	tok := fakeJWT(now, a.lifetime)
	a.mu.Lock()
	for t, exp := range a.bearers { // forget long-expired tokens so the map stays small
		if now.Sub(exp) > time.Hour {
			delete(a.bearers, t)
		}
	}
	a.bearers[tok] = now.Add(a.lifetime)
	a.mu.Unlock()
	secs := int(a.lifetime / time.Second)
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
}

// fakeJWT returns an opaque token shaped like an Entra access token; only the server's map makes
// it valid.
func fakeJWT(now time.Time, lifetime time.Duration) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"typ":"JWT","alg":"RS256"}`))
	body, _ := json.Marshal(map[string]any{"aud": "https://api.cloudappsecurity.com", "iat": now.Unix(),
		"exp": now.Add(lifetime).Unix(), "roles": []string{"Investigation.read"}})
	return head + "." + enc.EncodeToString(body) + "." + randomHex(32)
}

// randomHex returns n random bytes as hex; used for tokens and secrets.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("simulator: read random: " + err.Error()) // crypto/rand never fails on supported systems
	}
	return hex.EncodeToString(b)
}
