package mcas

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/mcasload/mcasload/internal/clock"
)

// DefaultScope asks for a token for the Defender for Cloud Apps API application.
const DefaultScope = "05a65629-4c1b-48c1-a78b-804c4abdd4af/.default"

// Authority hosts of the national clouds, for --cloud. Others (a private authority, the
// simulator) are passed as AuthorityURL and get no instance discovery.
const (
	DefaultAuthorityURL = "https://login.microsoftonline.com" // public cloud
	USGovAuthorityURL   = "https://login.microsoftonline.us"  // US Government (GCC High, DoD)
	ChinaAuthorityURL   = "https://login.chinacloudapi.cn"    // Azure operated by 21Vianet
)

// Clouds maps the names --cloud accepts to their authority hosts.
var Clouds = map[string]string{"public": DefaultAuthorityURL, "usgov": USGovAuthorityURL, "china": ChinaAuthorityURL}

// EntraMethod is how mcasload signs in to Microsoft Entra ID.
type EntraMethod string

// The sign-in methods. Each is one azidentity credential; Auto tries several in order.
const (
	ClientSecret      EntraMethod = "client-secret"      // application + client secret
	ClientCertificate EntraMethod = "client-certificate" // application + certificate (PEM or PFX)
	ManagedIdentity   EntraMethod = "managed-identity"   // the Azure host's system- or user-assigned identity
	WorkloadIdentity  EntraMethod = "workload-identity"  // federated token file (Kubernetes, CI) exchanged for a token
	AzureCLI          EntraMethod = "azure-cli"          // the signed-in user of `az login`
	Auto              EntraMethod = "auto"               // the first of Chain that is configured and answers
)

// DefaultChain is the order Auto tries: the application credentials given on the command line
// first, then what the host provides (a federated token file, a managed identity), then the
// analyst's Azure CLI login. Members that are not configured are left out.
var DefaultChain = []EntraMethod{ClientSecret, ClientCertificate, WorkloadIdentity, ManagedIdentity, AzureCLI}

// EntraAuth signs in to Microsoft Entra ID through Microsoft's azidentity library and sends the
// access token as "Authorization: Bearer …". The token is fetched on first use, cached, replaced
// RefreshEarly before it expires and, after a 401, fetched once more by a new credential instance
// (azidentity caches tokens inside each instance and has no way to bypass that cache).
type EntraAuth struct {
	Method   EntraMethod // default ClientSecret
	TenantID string      // directory (tenant) ID; workload identity falls back to AZURE_TENANT_ID
	ClientID string      // application (client) ID; workload identity falls back to AZURE_CLIENT_ID

	Secret      Secret       // ClientSecret
	Certificate *Certificate // ClientCertificate, from LoadCertificate
	// ManagedIdentityClientID picks a user-assigned managed identity; empty is system-assigned.
	ManagedIdentityClientID string
	// FederatedTokenFile is workload identity's token file; empty means AZURE_FEDERATED_TOKEN_FILE.
	FederatedTokenFile string
	// Chain is what Auto tries, in order; nil means DefaultChain.
	Chain []EntraMethod

	// AuthorityURL is the authority host, e.g. USGovAuthorityURL. Empty means
	// AZURE_AUTHORITY_HOST, else the public cloud. A host that is not one of Microsoft's gets no
	// instance discovery (which would ask the public cloud about it).
	AuthorityURL string
	Scope        string        // default DefaultScope
	RefreshEarly time.Duration // refresh this long before expiry; default 5 minutes
}

// Kind names the method: "entra client secret", "entra managed identity (user-assigned …)", ….
func (a EntraAuth) Kind() string {
	switch a.method() {
	case ClientSecret:
		return "entra client secret"
	case ClientCertificate:
		if a.Certificate != nil {
			return "entra client certificate (thumbprint " + a.Certificate.Thumbprint() + ")"
		}
		return "entra client certificate"
	case ManagedIdentity:
		if a.ManagedIdentityClientID != "" {
			return "entra managed identity (user-assigned, client ID " + a.ManagedIdentityClientID + ")"
		}
		return "entra managed identity (system-assigned)"
	case WorkloadIdentity:
		return "entra workload identity"
	case AzureCLI:
		return "azure cli"
	case Auto:
		names := make([]string, len(a.chain()))
		for i, m := range a.chain() {
			names[i] = string(m)
		}
		return "entra auto (" + strings.Join(names, ", ") + ")"
	}
	return "entra " + string(a.Method)
}

func (a EntraAuth) method() EntraMethod {
	if a.Method == "" {
		return ClientSecret
	}
	return a.Method
}

func (a EntraAuth) chain() []EntraMethod {
	if len(a.Chain) == 0 {
		return DefaultChain
	}
	return a.Chain
}

func (a EntraAuth) validate() error {
	if err := validateAuthority(a.AuthorityURL); err != nil {
		return err
	}
	switch m := a.method(); m {
	case ClientSecret:
		return needs(m, "client secret", need{SettingTenantID, a.TenantID != ""}, need{SettingClientID, a.ClientID != ""}, need{SettingSecret, !a.Secret.Empty()})
	case ClientCertificate:
		return needs(m, "certificate", need{SettingTenantID, a.TenantID != ""}, need{SettingClientID, a.ClientID != ""}, need{SettingCertificate, a.Certificate != nil})
	case WorkloadIdentity:
		return needs(m, "workload identity", need{SettingTenantID, a.tenantID() != ""}, need{SettingClientID, a.clientID() != ""}, need{SettingTokenFile, a.tokenFile() != ""})
	case ManagedIdentity, AzureCLI:
	case Auto:
		for _, c := range a.chain() {
			if !slices.Contains(DefaultChain, c) {
				return fmt.Errorf("new client: unknown sign-in method %q in the chain: use %s", c, methodList(DefaultChain))
			}
		}
	default:
		return fmt.Errorf("new client: unknown sign-in method %q: use %s or auto", m, methodList(DefaultChain))
	}
	return nil
}

// need is one setting a sign-in method needs and whether it is given.
type need struct {
	setting Setting
	given   bool
}

// needs returns a SignInError naming the settings of method m (what, in the message) that are
// not given, or nil.
func needs(m EntraMethod, what string, ns ...need) error {
	var all, missing []Setting
	for _, n := range ns {
		all = append(all, n.setting)
		if !n.given {
			missing = append(missing, n.setting)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return &SignInError{Method: m, Missing: missing,
		err: fmt.Errorf("new client: %s sign-in lacks %s (it needs %s)", what, missingText(missing), missingText(all))}
}

func methodList(ms []EntraMethod) string {
	s := make([]string, len(ms))
	for i, m := range ms {
		s[i] = string(m)
	}
	return strings.Join(s, ", ")
}

// validateAuthority refuses an authority URL that would send credentials in the clear or is not
// a URL at all.
func validateAuthority(raw string) error {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return fmt.Errorf("new client: bad authority URL %s: want e.g. %s", redactURL(raw), DefaultAuthorityURL)
	case u.Scheme != "https":
		return fmt.Errorf("new client: refusing authority URL %s: credentials would travel unencrypted and Microsoft's sign-in library accepts only https", redactURL(raw))
	}
	return nil
}

func (a EntraAuth) tenantID() string {
	if a.TenantID != "" {
		return a.TenantID
	}
	return os.Getenv("AZURE_TENANT_ID")
}

func (a EntraAuth) clientID() string {
	if a.ClientID != "" {
		return a.ClientID
	}
	return os.Getenv("AZURE_CLIENT_ID")
}

func (a EntraAuth) tokenFile() string {
	if a.FederatedTokenFile != "" {
		return a.FederatedTokenFile
	}
	return os.Getenv("AZURE_FEDERATED_TOKEN_FILE")
}

// String hides the secret and the certificate's key.
func (a EntraAuth) String() string {
	cert := "none"
	if a.Certificate != nil {
		cert = a.Certificate.String()
	}
	return fmt.Sprintf("EntraAuth{Method:%s TenantID:%s ClientID:%s Secret:%s Certificate:%s ManagedIdentityClientID:%s AuthorityURL:%s}",
		a.method(), a.TenantID, a.ClientID, redacted, cert, a.ManagedIdentityClientID, a.AuthorityURL)
}

// GoString hides the secret.
func (a EntraAuth) GoString() string { return a.String() }

func (a EntraAuth) newSource(c *Client) credentialSource {
	c.scrub.add(a.Secret.Reveal())
	if a.Scope == "" {
		a.Scope = DefaultScope
	}
	if a.RefreshEarly <= 0 {
		a.RefreshEarly = 5 * time.Minute
	}
	return &entraSource{cfg: a, transport: &recordingTransport{c: c.http}, clock: c.clock, scrub: &c.scrub, log: c.log, stats: &c.stats}
}

// entraSource caches the access token of one azidentity credential and replaces the credential
// with a new instance when the API refuses its token.
type entraSource struct {
	cfg       EntraAuth
	transport *recordingTransport
	clock     clock.Clock
	scrub     *scrubber
	log       *slog.Logger
	stats     *counters

	mu      sync.Mutex
	cred    *credential // nil: build one on next use
	token   string
	expires time.Time // on s.clock
	kind    string    // the credential that produced token
}

func (s *entraSource) header(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.token != "" && s.clock.Now().Before(s.expires.Add(-s.cfg.RefreshEarly)) {
		return "Bearer " + s.token, nil
	}
	if s.token != "" {
		// Time to refresh. azidentity's cache inside the instance judges expiry on the wall
		// clock and may still hand out the old token: a new instance asks the authority.
		s.cred = nil
	}
	if s.cred == nil {
		cred, err := s.newCredential()
		if err != nil {
			return "", err
		}
		s.cred = cred
	}
	s.transport.reset()
	tok, err := s.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{s.cfg.Scope}})
	if err != nil {
		return "", s.tokenError(err)
	}
	if tok.Token == "" {
		return "", authErrorf("sign in (%s): the credential returned an empty token", s.cred.kind())
	}
	s.scrub.add(tok.Token)
	if tok.Token != s.token {
		s.stats.tokenFetches.Add(1)
	}
	// azidentity states expiry on the wall clock; the client may run on another (tests).
	s.token, s.kind = tok.Token, s.cred.kind()
	s.expires = s.clock.Now().Add(time.Until(tok.ExpiresOn))
	s.log.InfoContext(ctx, "signed in to entra", "credential", s.kind, "tenant", s.cfg.TenantID,
		"expires", s.expires.UTC().Format(time.RFC3339))
	return "Bearer " + s.token, nil
}

// invalidate forgets the token and the credential instance: the next header comes from a new
// instance, whose cache is empty.
func (s *entraSource) invalidate() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.token, s.cred = "", nil
	return true
}

func (s *entraSource) used() (string, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.kind == "" {
		return s.cfg.Kind(), time.Time{}
	}
	return s.kind, s.expires
}

// tokenError turns azidentity's error into one that says what failed and what to do, without
// its multi-line dumps and never with a secret. Refusals by the authority are ErrAuth (exit 5);
// unreachable or failing authorities are plain errors that the client's retry policy retries.
func (s *entraSource) tokenError(err error) error {
	kind := s.cfg.Kind()
	if s.cred != nil {
		kind = s.cred.kind()
	}
	if terr := s.transport.lastError(); terr != nil {
		if isCertError(terr) {
			return kindErrorf(ErrUntrustedCertificate, "sign in (%s): the authority's TLS certificate is not trusted: %w", kind, terr)
		}
		return kindErrorf(ErrAuthorityUnreachable, "sign in (%s): cannot reach the authority: %w", kind, terr)
	}
	var ae *authError
	if errors.As(err, &ae) {
		return err // already says what to do (a local check of the credential)
	}
	msg, status := s.scrub.scrub(describeTokenError(err)), responseStatus(err)
	if status >= 500 || status == 429 {
		return fmt.Errorf("sign in (%s): %s", kind, msg)
	}
	return &SignInError{Method: s.cred.method, err: fmt.Errorf("sign in (%s): %s", kind, msg)}
}

// credential is one azidentity credential and what it is.
type credential struct {
	azcore.TokenCredential
	method EntraMethod
	name   func() string // the method that answered (Auto reports its member)
}

func (c *credential) kind() string { return c.name() }
