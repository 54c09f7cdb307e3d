package simulator

import (
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
)

// APIScope is the scope a client credentials request must ask for: the Defender for Cloud Apps
// application id followed by /.default.
const APIScope = "05a65629-4c1b-48c1-a78b-804c4abdd4af/.default"

// apiResource is the same application for the v1 token endpoint's resource field, the managed
// identity endpoint and the Azure CLI.
const apiResource = "05a65629-4c1b-48c1-a78b-804c4abdd4af"

// Grant kinds, the keys of Handler.Grants: how each bearer token was obtained.
const (
	GrantSecret          = "client-secret"
	GrantCertificate     = "client-certificate"
	GrantFederated       = "federated-token"
	GrantManagedIdentity = "managed-identity"
	GrantIssued          = "issued" // Handler.IssueAccessToken, e.g. for a stand-in Azure CLI
)

// authority checks API credentials and plays Microsoft Entra ID: the token endpoints (client
// secret, certificate assertion, federated token), the OpenID configuration document, and the
// managed identity endpoint of App Service.
type authority struct {
	token                      string
	tenantID, clientID, secret string
	lifetime                   time.Duration
	clk                        clock.Clock

	mu      sync.Mutex
	bearers map[string]time.Time // access token → expiry on the virtual clock
	grants  map[string]int64
	issued  atomic.Int64

	ids *identities
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

// route serves the identity endpoints and reports whether path was one of them.
func (a *authority) route(w http.ResponseWriter, r *http.Request, path string) bool {
	if tenant, v2, ok := tokenPath(path); ok {
		a.serveToken(w, r, tenant, v2)
		return true
	}
	if tenant, ok := strings.CutSuffix(strings.Trim(path, "/"), "/v2.0/.well-known/openid-configuration"); ok && !strings.Contains(tenant, "/") {
		a.serveOpenIDConfiguration(w, r, tenant)
		return true
	}
	if path == ManagedIdentityPath {
		a.serveManagedIdentity(w, r)
		return true
	}
	return false
}

// tokenPath recognizes /<tenant>/oauth2/v2.0/token and /<tenant>/oauth2/token.
func tokenPath(path string) (tenant string, v2, ok bool) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token":
		return parts[0], true, true
	case len(parts) == 3 && parts[1] == "oauth2" && parts[2] == "token":
		return parts[0], false, true
	}
	return "", false, false
}

// entraError is the JSON body Entra ID answers a failed token request with.
type entraError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
	ErrorCodes       []int  `json:"error_codes"`
	Timestamp        string `json:"timestamp"`
}

// serveOpenIDConfiguration answers GET /<tenant>/v2.0/.well-known/openid-configuration, which
// Microsoft's sign-in library reads before its first token request to find the token endpoint.
func (a *authority) serveOpenIDConfiguration(w http.ResponseWriter, r *http.Request, tenant string) {
	if tenant != a.tenantID && tenant != "organizations" && tenant != "common" {
		writeJSON(w, http.StatusBadRequest, entraError{Error: "invalid_tenant", ErrorDescription: "AADSTS90002: Tenant '" + tenant + "' not found.",
			ErrorCodes: []int{90002}, Timestamp: a.clk.Now().UTC().Format("2006-01-02 15:04:05Z")})
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"issuer":                                base + "/v2.0",
		"jwks_uri":                              scheme + "://" + r.Host + "/" + tenant + "/discovery/v2.0/keys",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"tenant_region_scope":                   "EU",
	})
}

// serveToken answers POST /<tenant>/oauth2/v2.0/token (and the v1 /oauth2/token) like Entra ID
// does for the client credentials grant, with a client secret, a client assertion signed by a
// registered certificate, or a federated token (workload identity).
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
	if v2 && !validScope(f.Get("scope")) {
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
	var grant string
	switch {
	case f.Get("client_assertion") != "":
		if f.Get("client_assertion_type") != assertionType {
			fail(http.StatusBadRequest, "invalid_request", 50027, "client_assertion_type must be "+assertionType+".")
			return
		}
		endpoint := requestURL(r)
		var fl *assertionFailure
		grant, fl = a.ids.verifyAssertion(f.Get("client_assertion"), a.clientID, endpoint, a.clk.Now())
		if fl != nil {
			fail(fl.status, fl.code, fl.aadsts, fl.desc)
			return
		}
	case f.Get("client_secret") != "":
		if subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(a.secret)) != 1 {
			fail(http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.")
			return
		}
		grant = GrantSecret
	default:
		fail(http.StatusBadRequest, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
		return
	}
	tok, exp := a.issue(grant, a.lifetime)
	secs := int(exp.Sub(a.clk.Now()) / time.Second)
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
}

// validScope accepts the API's /.default scope, alongside the OpenID scopes Microsoft's libraries
// add to every request (Entra ID ignores them for the client credentials grant).
func validScope(scope string) bool {
	found := false
	for _, s := range strings.Fields(scope) {
		switch s {
		case APIScope:
			found = true
		case "openid", "offline_access", "profile":
		default:
			return false
		}
	}
	return found
}

// requestURL is the URL the client posted to, what a client assertion's audience must name.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path
}

// issue makes a bearer token valid for lifetime on the simulator's clock and counts its grant.
func (a *authority) issue(grant string, lifetime time.Duration) (string, time.Time) {
	now := a.clk.Now()
	tok := fakeJWT(now, lifetime)
	a.mu.Lock()
	defer a.mu.Unlock()
	for t, exp := range a.bearers { // forget long-expired tokens so the map stays small
		if now.Sub(exp) > time.Hour {
			delete(a.bearers, t)
		}
	}
	a.bearers[tok] = now.Add(lifetime)
	a.grants[grant]++
	a.issued.Add(1)
	return tok, now.Add(lifetime)
}

// grantCounts copies the per-grant counters.
func (a *authority) grantCounts() map[string]int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return maps.Clone(a.grants)
}

// ManagedIdentityPath is where the simulator plays App Service's managed identity endpoint
// (IDENTITY_ENDPOINT); requests must carry X-IDENTITY-HEADER: Handler.IdentityHeader().
const ManagedIdentityPath = "/msi/token"

// serveManagedIdentity answers GET /msi/token?api-version=2019-08-01&resource=…[&client_id=…]
// as App Service does: the system-assigned identity, or a user-assigned one by client id.
func (a *authority) serveManagedIdentity(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, msg string) {
		writeJSON(w, status, map[string]any{"statusCode": status, "message": msg, "correlationId": randomHex(16)})
	}
	q := r.URL.Query()
	switch {
	case r.Method != http.MethodGet:
		fail(http.StatusMethodNotAllowed, "The endpoint only accepts GET requests.")
	case subtle.ConstantTimeCompare([]byte(r.Header.Get("X-IDENTITY-HEADER")), []byte(a.ids.identityHeader)) != 1:
		fail(http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or wrong.")
	case q.Get("api-version") != "2019-08-01":
		fail(http.StatusBadRequest, "Unsupported api-version; use 2019-08-01.")
	case strings.TrimSuffix(q.Get("resource"), "/.default") != apiResource:
		fail(http.StatusBadRequest, "The resource principal was not found in the tenant.")
	case q.Get("client_id") != "" && !a.ids.userAssigned[q.Get("client_id")]:
		fail(http.StatusBadRequest, "No User Assigned or Delegated Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
	case q.Get("client_id") == "" && !a.ids.systemAssigned:
		fail(http.StatusBadRequest, "No managed identity is enabled for this resource.")
	default:
		tok, exp := a.issue(GrantManagedIdentity, a.lifetime)
		clientID := q.Get("client_id")
		if clientID == "" {
			clientID = a.ids.systemClientID
		}
		writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_on": itoa(int(exp.Unix())),
			"resource": apiResource, "token_type": "Bearer", "client_id": clientID})
	}
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

// RegisterCertificate adds cert to the application's credentials: client assertions signed by its
// key are accepted until cert's NotAfter (on the simulator's clock), as Entra ID does.
func (h *Handler) RegisterCertificate(cert *x509.Certificate) { h.auth.ids.register(cert) }

// TrustFederatedSubject adds a federated identity credential to the application: tokens from
// FederatedIssuer with this subject (e.g. system:serviceaccount:NS:NAME) and audience
// FederatedAudience are exchanged for access tokens.
func (h *Handler) TrustFederatedSubject(subject string) { h.auth.ids.trustSubject(subject) }

// IssueFederatedToken signs a token as the trusted external issuer (a Kubernetes cluster's
// service account issuer, a CI system) would, for the workload identity flow's token file.
func (h *Handler) IssueFederatedToken(subject string, lifetime time.Duration) string {
	return h.auth.ids.federatedToken(subject, FederatedAudience, h.clk.Now(), lifetime)
}

// IssueAccessToken makes an access token for the API as if the caller had signed in elsewhere (an
// Azure CLI stand-in prints it); it expires after lifetime on the simulator's clock.
func (h *Handler) IssueAccessToken(lifetime time.Duration) (token string, expires time.Time) {
	return h.auth.issue(GrantIssued, lifetime)
}

// IdentityHeader is the secret the managed identity endpoint expects in X-IDENTITY-HEADER (what
// App Service puts in IDENTITY_HEADER).
func (h *Handler) IdentityHeader() string { return h.auth.ids.identityHeader }

// Grants counts the bearer tokens issued, by how they were obtained (Grant* keys).
func (h *Handler) Grants() map[string]int64 { return h.auth.grantCounts() }
