package simulator

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
)

// testCert is a client certificate with its key, valid in [from, to).
type testCert struct {
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

func newTestCert(t *testing.T, from, to time.Time) testCert {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"}, NotBefore: from, NotAfter: to}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return testCert{cert: cert, key: key}
}

// assertion signs a client assertion as Microsoft's libraries do: PS256 with x5t#S256, or RS256
// with x5t.
func (c testCert) assertion(t *testing.T, alg string, claims map[string]any) string {
	t.Helper()
	head := map[string]any{"alg": alg, "typ": "JWT"}
	if alg == "PS256" {
		sum := sha256.Sum256(c.cert.Raw)
		head["x5t#S256"] = base64.StdEncoding.EncodeToString(sum[:])
	} else {
		sum := sha1.Sum(c.cert.Raw)
		head["x5t"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	hb, _ := json.Marshal(head)
	cb, _ := json.Marshal(claims)
	signed := base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb)
	sum := sha256.Sum256([]byte(signed))
	var sig []byte
	var err error
	if alg == "PS256" {
		sig, err = rsa.SignPSS(rand.Reader, c.key, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, c.key, crypto.SHA256, sum[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// postToken sends a client credentials request with an assertion and returns the status and the
// AADSTS description.
func postToken(t *testing.T, s *Server, assertion string) (int, string) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID()}, "scope": {APIScope + " openid offline_access profile"},
		"client_assertion_type": {assertionType}, "client_assertion": {assertion}}
	resp, err := s.CA.Client().PostForm(s.TokenURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Description string `json:"error_description"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode == http.StatusOK && body.AccessToken == "" {
		t.Fatal("200 without an access token")
	}
	return resp.StatusCode, body.Description
}

// tokenCase is a client assertion and the token endpoint's expected answer.
type tokenCase struct {
	name, assertion string
	status          int
	want            string // in the AADSTS description
}

func runTokenCases(t *testing.T, s *Server, cases []tokenCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			status, desc := postToken(t, s, tt.assertion)
			if status != tt.status || !strings.Contains(desc, tt.want) {
				t.Errorf("status %d %q, want %d %q", status, desc, tt.status, tt.want)
			}
		})
	}
}

// The OpenID configuration Microsoft's library reads first names this server's token endpoint
// and an issuer on the same host (it refuses other issuers).
func TestOpenIDConfiguration(t *testing.T) {
	s := NewTLSServer(Config{Tenant: testTenant(t)})
	t.Cleanup(s.Close)
	resp, err := s.CA.Client().Get(s.URL + "/" + s.TenantID() + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if doc["token_endpoint"] != s.TokenURL() || doc["issuer"] != s.URL+"/"+s.TenantID()+"/v2.0" || doc["authorization_endpoint"] == nil {
		t.Errorf("configuration %v does not point at %s", doc, s.TokenURL())
	}
	if _, err := http.Get(s.URL + "/"); err == nil {
		t.Error("a client without the test CA trusted the server")
	}
}

// The token endpoint verifies a client assertion against the registered certificates as Entra ID
// does: the thumbprint names a registered certificate that has not expired, the signature
// verifies with its key, iss and sub are the client, aud is the token endpoint, the assertion is
// within its lifetime.
func TestClientAssertion(t *testing.T) {
	now := time.Now()
	vc := clock.NewVirtual(now, false)
	good := newTestCert(t, now.Add(-time.Hour), now.Add(48*time.Hour))
	other := newTestCert(t, now.Add(-time.Hour), now.Add(48*time.Hour))
	s := NewTLSServer(Config{Tenant: testTenant(t), Clock: vc, Identity: IdentityConfig{Certificates: []*x509.Certificate{good.cert}}})
	t.Cleanup(s.Close)
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"aud": s.TokenURL(), "iss": s.ClientID(), "sub": s.ClientID(), "jti": "1",
			"nbf": vc.Now().Unix(), "exp": vc.Now().Add(10 * time.Minute).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	forged := good.assertion(t, "PS256", claims(nil))
	forged = forged[:strings.LastIndex(forged, ".")+1] + other.assertion(t, "PS256", claims(nil))[strings.LastIndex(forged, ".")+1:]
	runTokenCases(t, s, []tokenCase{
		{"PS256 with x5t#S256", good.assertion(t, "PS256", claims(nil)), 200, ""},
		{"RS256 with x5t", good.assertion(t, "RS256", claims(nil)), 200, ""},
		{"unregistered certificate", other.assertion(t, "PS256", claims(nil)), 401, "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered"},
		{"forged signature", forged, 401, "failed signature validation"},
		{"wrong audience", good.assertion(t, "PS256", claims(func(c map[string]any) { c["aud"] = "https://login.example/token" })), 401, "AADSTS700022"},
		{"other client", good.assertion(t, "PS256", claims(func(c map[string]any) { c["iss"], c["sub"] = "someone", "someone" })), 401, "AADSTS700021"},
		{"assertion expired", good.assertion(t, "PS256", claims(func(c map[string]any) { c["exp"] = vc.Now().Add(-time.Hour).Unix() })), 401, "AADSTS700024"},
		{"not a JWT", "not-a-jwt", 400, "not in a valid format"},
	})
	t.Run("registered certificate expired", func(t *testing.T) {
		vc.Advance(72 * time.Hour)
		status, desc := postToken(t, s, good.assertion(t, "PS256", claims(nil)))
		if status != 401 || !strings.Contains(desc, "is expired on application") {
			t.Errorf("status %d %q, want 401 naming the expired key", status, desc)
		}
	})
	if g := s.Grants()[GrantCertificate]; g != 2 {
		t.Errorf("%d certificate grants, want 2", g)
	}
}

// A federated token is exchanged only when it comes from the trusted issuer, for the exchange
// audience, with a trusted subject, within its lifetime.
func TestFederatedToken(t *testing.T) {
	vc := clock.NewVirtual(time.Now(), false)
	s := NewTLSServer(Config{Tenant: testTenant(t), Clock: vc, Identity: IdentityConfig{FederatedSubjects: []string{"system:serviceaccount:sec:loader"}}})
	t.Cleanup(s.Close)
	good := s.IssueFederatedToken("system:serviceaccount:sec:loader", time.Hour)
	stranger := s.IssueFederatedToken("system:serviceaccount:other:app", time.Hour)
	wrongAud := s.auth.ids.federatedToken("system:serviceaccount:sec:loader", "api://other", vc.Now(), time.Hour)
	other := &identities{}
	forged := other.federatedToken("system:serviceaccount:sec:loader", FederatedAudience, vc.Now(), time.Hour)
	runTokenCases(t, s, []tokenCase{
		{"trusted", good, 200, ""},
		{"untrusted subject", stranger, 401, "AADSTS700213"},
		{"other audience", wrongAud, 401, "AADSTS700212"},
		{"signed by another issuer key", forged, 401, "does not verify"},
	})
	t.Run("expired", func(t *testing.T) {
		vc.Advance(2 * time.Hour)
		if status, desc := postToken(t, s, good); status != 401 || !strings.Contains(desc, "AADSTS700024") {
			t.Errorf("status %d %q, want 401 AADSTS700024", status, desc)
		}
	})
	t.Run("trusted later", func(t *testing.T) {
		s.TrustFederatedSubject("system:serviceaccount:other:app")
		if status, desc := postToken(t, s, s.IssueFederatedToken("system:serviceaccount:other:app", time.Hour)); status != 200 {
			t.Errorf("status %d %q after TrustFederatedSubject", status, desc)
		}
	})
}

// The managed identity endpoint answers like App Service's: the identity header is required, the
// system-assigned identity or an attached user-assigned one gets a token whose expires_on is
// epoch seconds, and the token opens the API.
func TestManagedIdentityEndpoint(t *testing.T) {
	s, _ := newTestServer(t, Config{Identity: IdentityConfig{UserAssigned: []string{"ua-1"}, IdentityHeader: "header-secret-1"}})
	get := func(header, clientID string) (int, map[string]any) {
		q := url.Values{"api-version": {"2019-08-01"}, "resource": {apiResource}}
		if clientID != "" {
			q.Set("client_id", clientID)
		}
		req, _ := http.NewRequest(http.MethodGet, s.IdentityEndpoint()+"?"+q.Encode(), nil)
		if header != "" {
			req.Header.Set("X-IDENTITY-HEADER", header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if status, _ := get("", ""); status != 401 {
		t.Errorf("no identity header: %d, want 401", status)
	}
	if status, m := get("header-secret-1", "ua-2"); status != 400 || !strings.Contains(m["message"].(string), "No User Assigned") {
		t.Errorf("unknown user-assigned identity: %d %v", status, m)
	}
	for _, id := range []string{"", "ua-1"} {
		status, m := get("header-secret-1", id)
		tok, _ := m["access_token"].(string)
		if status != 200 || tok == "" || m["expires_on"] == nil {
			t.Fatalf("identity %q: %d %v", id, status, m)
		}
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v1/activities/?limit=1", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("the managed identity token was refused: %d", resp.StatusCode)
		}
	}
	if g := s.Grants()[GrantManagedIdentity]; g != 2 {
		t.Errorf("%d managed identity grants, want 2", g)
	}
}
