package simulator

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// IdentityConfig says which credentials, besides the client secret, the simulated Entra ID
// accepts for the application and what the simulated App Service host has attached.
type IdentityConfig struct {
	// Certificates are registered on the application: a client assertion signed by one of their
	// keys is accepted while the certificate is valid. Handler.RegisterCertificate adds more.
	Certificates []*x509.Certificate
	// FederatedSubjects are the subjects of FederatedIssuer's tokens the application trusts
	// (workload identity federation). Handler.TrustFederatedSubject adds more.
	FederatedSubjects []string
	// UserAssigned are the client IDs of user-assigned managed identities attached to the
	// simulated host. The system-assigned identity is attached unless NoSystemAssigned.
	UserAssigned     []string
	NoSystemAssigned bool
	// IdentityHeader is the secret the managed identity endpoint wants in X-IDENTITY-HEADER; random
	// when empty.
	IdentityHeader string
}

// FederatedIssuer is the issuer of the simulator's federated tokens (a Kubernetes cluster's OIDC
// issuer in real life) and FederatedAudience the audience Entra ID requires of them.
const (
	FederatedIssuer   = "https://oidc.simulator.mcasload.invalid"
	FederatedAudience = "api://AzureADTokenExchange"
)

// assertionType is the only client_assertion_type Entra ID accepts.
const assertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// clockSkew is the leeway Entra ID allows on an assertion's exp and nbf.
const clockSkew = 5 * time.Minute

// identities holds the application's certificates and federated credentials and the managed
// identity host's state.
type identities struct {
	mu       sync.Mutex
	certs    []*x509.Certificate
	subjects map[string]bool

	issuerOnce sync.Once
	issuerKey  *rsa.PrivateKey
	issuerKID  string

	identityHeader string
	systemAssigned bool
	systemClientID string
	userAssigned   map[string]bool
}

func newIdentities(cfg IdentityConfig) *identities {
	ids := &identities{certs: append([]*x509.Certificate(nil), cfg.Certificates...), subjects: map[string]bool{},
		identityHeader: cfg.IdentityHeader, systemAssigned: !cfg.NoSystemAssigned, systemClientID: randomUUID(),
		userAssigned: map[string]bool{}}
	if ids.identityHeader == "" {
		ids.identityHeader = randomHex(16)
	}
	for _, s := range cfg.FederatedSubjects {
		ids.subjects[s] = true
	}
	for _, id := range cfg.UserAssigned {
		ids.userAssigned[id] = true
	}
	return ids
}

func (ids *identities) register(cert *x509.Certificate) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	ids.certs = append(ids.certs, cert)
}

func (ids *identities) trustSubject(subject string) {
	ids.mu.Lock()
	defer ids.mu.Unlock()
	ids.subjects[subject] = true
}

// assertionFailure is a refused client assertion, with the AADSTS code Entra ID would give.
type assertionFailure struct {
	status int
	code   string
	aadsts int
	desc   string
}

func refuse(aadsts int, desc string) *assertionFailure {
	return &assertionFailure{status: http.StatusUnauthorized, code: "invalid_client", aadsts: aadsts, desc: desc}
}

// jwtHeader and jwtClaims are the parts of a client assertion the token endpoint reads.
type jwtHeader struct {
	Alg     string `json:"alg"`
	Kid     string `json:"kid"`
	X5t     string `json:"x5t"`
	X5tS256 string `json:"x5t#S256"`
}

type jwtClaims struct {
	Aud audience `json:"aud"`
	Iss string   `json:"iss"`
	Sub string   `json:"sub"`
	Exp int64    `json:"exp"`
	Nbf int64    `json:"nbf"`
	Jti string   `json:"jti"`
}

// audience is the aud claim: one string or a list.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

func (a audience) has(v string) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

// parseJWT splits a compact JWT into its header, claims, signed part and signature.
func parseJWT(token string) (h jwtHeader, c jwtClaims, signed []byte, sig []byte, ok bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return h, c, nil, nil, false
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	cb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &h) != nil || json.Unmarshal(cb, &c) != nil {
		return h, c, nil, nil, false
	}
	return h, c, []byte(parts[0] + "." + parts[1]), sig, true
}

// verifyAssertion checks a client_assertion: a JWT signed with a registered certificate's key
// (header x5t#S256 or x5t), or a federated token from FederatedIssuer. It returns the grant kind.
func (ids *identities) verifyAssertion(assertion, clientID, endpoint string, now time.Time) (string, *assertionFailure) {
	h, c, signed, sig, ok := parseJWT(assertion)
	if !ok {
		return "", &assertionFailure{http.StatusBadRequest, "invalid_request", 50027, "Invalid JWT token. The token is not in a valid format."}
	}
	if h.X5tS256 == "" && h.X5t == "" {
		return GrantFederated, ids.verifyFederated(h, c, signed, sig, now)
	}
	cert, thumb := ids.certFor(h)
	if cert == nil {
		return "", refuse(700027, "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '"+thumb+"']")
	}
	if now.After(cert.NotAfter) {
		return "", refuse(700027, "The certificate with identifier used to sign the client assertion is expired on application. [Reason - The key used is expired., Thumbprint of key used by client: '"+thumb+"', Found key 'Start="+
			cert.NotBefore.UTC().Format("01/02/2006 15:04:05")+", End="+cert.NotAfter.UTC().Format("01/02/2006 15:04:05")+"']")
	}
	if err := verifySignature(h.Alg, cert.PublicKey, signed, sig); err != nil {
		return "", refuse(7000274, "Client assertion failed signature validation: "+err.Error()+".")
	}
	if c.Iss != clientID || c.Sub != clientID {
		return "", refuse(700021, "Client assertion application identifier doesn't match 'client_id' parameter.")
	}
	if !c.Aud.has(endpoint) {
		return "", refuse(700022, "Client assertion audience claim does not match the token endpoint "+endpoint+".")
	}
	if f := checkTimes(c, now); f != nil {
		return "", f
	}
	return GrantCertificate, nil
}

// certFor finds the registered certificate a header's thumbprint names, and the thumbprint in
// hex for messages.
func (ids *identities) certFor(h jwtHeader) (*x509.Certificate, string) {
	want, sha256Thumb := h.X5tS256, true
	if want == "" {
		want, sha256Thumb = h.X5t, false
	}
	raw := decodeThumbprint(want)
	ids.mu.Lock()
	defer ids.mu.Unlock()
	for _, cert := range ids.certs {
		var sum []byte
		if sha256Thumb {
			s := sha256.Sum256(cert.Raw)
			sum = s[:]
		} else {
			s := sha1.Sum(cert.Raw) // #nosec: x5t is SHA-1 by definition (RFC 7515)
			sum = s[:]
		}
		if raw != nil && bytes.Equal(sum, raw) {
			return cert, strings.ToUpper(hex.EncodeToString(raw))
		}
	}
	return nil, strings.ToUpper(hex.EncodeToString(raw))
}

// decodeThumbprint accepts base64url (RFC 7515) and standard base64, both seen in the wild.
func decodeThumbprint(s string) []byte {
	for _, enc := range []*base64.Encoding{base64.RawURLEncoding, base64.URLEncoding, base64.StdEncoding, base64.RawStdEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b
		}
	}
	return nil
}

// verifySignature checks a JWS signature with the algorithms Microsoft's libraries use.
func verifySignature(alg string, pub crypto.PublicKey, signed, sig []byte) error {
	sum := sha256.Sum256(signed)
	switch key := pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "PS256":
			return rsa.VerifyPSS(key, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		case "RS256":
			return rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig)
		}
	case *ecdsa.PublicKey:
		if alg == "ES256" && len(sig) == 64 {
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			if ecdsa.Verify(key, sum[:], r, s) {
				return nil
			}
			return fmt.Errorf("bad ES256 signature")
		}
	}
	return fmt.Errorf("unsupported algorithm %q for a %T key", alg, pub)
}

func checkTimes(c jwtClaims, now time.Time) *assertionFailure {
	if c.Exp == 0 || now.Add(-clockSkew).Unix() >= c.Exp || (c.Nbf != 0 && now.Add(clockSkew).Unix() < c.Nbf) {
		return refuse(700024, "Client assertion is not within its valid time range. Current time: "+now.UTC().Format(time.RFC3339)+
			", assertion valid from "+time.Unix(c.Nbf, 0).UTC().Format(time.RFC3339)+", expiry time of assertion "+time.Unix(c.Exp, 0).UTC().Format(time.RFC3339)+".")
	}
	return nil
}

// verifyFederated checks a federated token against the trusted issuer, audience and subjects.
func (ids *identities) verifyFederated(h jwtHeader, c jwtClaims, signed, sig []byte, now time.Time) *assertionFailure {
	key, kid := ids.issuer()
	if c.Iss != FederatedIssuer {
		return refuse(700211, "No matching federated identity record found for presented assertion issuer '"+c.Iss+"'.")
	}
	if h.Kid != kid || verifySignature(h.Alg, &key.PublicKey, signed, sig) != nil {
		return refuse(700212, "The federated token's signature does not verify with the issuer's keys.")
	}
	if !c.Aud.has(FederatedAudience) {
		return refuse(700212, "No matching federated identity record found for presented assertion audience '"+strings.Join(c.Aud, ",")+"'.")
	}
	ids.mu.Lock()
	trusted := ids.subjects[c.Sub]
	ids.mu.Unlock()
	if !trusted {
		return refuse(700213, "No matching federated identity record found for presented assertion subject '"+c.Sub+"'. Check your federated identity credential Subject, Audience and Issuer against the presented assertion.")
	}
	return checkTimes(c, now)
}

// issuer returns the federated issuer's signing key, made on first use.
func (ids *identities) issuer() (*rsa.PrivateKey, string) {
	ids.issuerOnce.Do(func() {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic("simulator: generate issuer key: " + err.Error())
		}
		ids.issuerKey, ids.issuerKID = key, randomHex(8)
	})
	return ids.issuerKey, ids.issuerKID
}

// federatedToken signs an RS256 token as FederatedIssuer.
func (ids *identities) federatedToken(subject, aud string, now time.Time, lifetime time.Duration) string {
	key, kid := ids.issuer()
	enc := base64.RawURLEncoding
	head, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": kid})
	body, _ := json.Marshal(map[string]any{"iss": FederatedIssuer, "sub": subject, "aud": []string{aud},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(lifetime).Unix(), "jti": randomUUID()})
	signed := enc.EncodeToString(head) + "." + enc.EncodeToString(body)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		panic("simulator: sign federated token: " + err.Error())
	}
	return signed + "." + enc.EncodeToString(sig)
}

// randomUUID is a random (version 4) UUID.
func randomUUID() string {
	b, _ := hex.DecodeString(randomHex(16))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ClientCertificate is a self-signed application certificate with its RSA key, for trying
// certificate sign-in against the simulator (mcasload sim --client-certificate-out) and for tests.
type ClientCertificate struct {
	Cert    *x509.Certificate
	CertPEM []byte // CERTIFICATE block
	KeyPEM  []byte // PRIVATE KEY block (PKCS#8, unencrypted)
}

// NewClientCertificate makes a certificate valid in [notBefore, notAfter].
func NewClientCertificate(commonName string, notBefore, notAfter time.Time) (*ClientCertificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate client key: %w", err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial(), Subject: pkix.Name{CommonName: commonName}, NotBefore: notBefore, NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create client certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse client certificate: %w", err)
	}
	pk8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode client key: %w", err)
	}
	return &ClientCertificate{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk8})}, nil
}

// PEM is the certificate followed by its key, the PEM file --client-certificate reads.
func (c *ClientCertificate) PEM() []byte {
	return append(append([]byte(nil), c.CertPEM...), c.KeyPEM...)
}
