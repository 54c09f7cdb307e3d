package mcas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/managedidentity"
)

// newCredential builds a new azidentity credential instance for the configured method.
func (s *entraSource) newCredential() (*credential, error) {
	a := s.cfg
	if a.method() != Auto {
		cred, err := s.build(a.method())
		if err != nil {
			return nil, err
		}
		if cred == nil {
			return nil, &SignInError{Method: a.method(), err: fmt.Errorf("sign in (%s): not configured", a.Kind())}
		}
		return &credential{TokenCredential: cred, method: a.method(), name: a.Kind}, nil
	}
	ch := &chain{}
	var skipped []string
	for _, m := range a.chain() {
		cred, err := s.build(m)
		if err != nil {
			return nil, err // configured but unusable (an expired certificate): say so rather than fall through
		}
		if cred == nil {
			skipped = append(skipped, string(m))
			continue
		}
		member := a
		member.Method = m
		ch.members = append(ch.members, chainMember{TokenCredential: cred, method: m, kind: member.Kind()})
	}
	if len(ch.members) == 0 {
		return nil, newAuthError(kindErrorf(ErrNoCredentials, "sign in (%s): none of %s is configured", a.Kind(), strings.Join(skipped, ", ")))
	}
	return &credential{TokenCredential: ch, method: Auto, name: func() string { return "entra auto: " + ch.usedKind() }}, nil
}

// build makes the azidentity credential of one method, or nil when the method lacks its
// configuration (so Auto leaves it out).
func (s *entraSource) build(m EntraMethod) (azcore.TokenCredential, error) {
	a := s.cfg
	opts, discoveryOff := s.clientOptions()
	switch m {
	case ClientSecret:
		if a.TenantID == "" || a.ClientID == "" || a.Secret.Empty() {
			return nil, nil
		}
		return wrapBuild(azidentity.NewClientSecretCredential(a.TenantID, a.ClientID, a.Secret.Reveal(),
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: discoveryOff}))
	case ClientCertificate:
		if a.TenantID == "" || a.ClientID == "" || a.Certificate == nil {
			return nil, nil
		}
		if err := a.Certificate.checkValid(s.clock.Now()); err != nil {
			return nil, err
		}
		return wrapBuild(azidentity.NewClientCertificateCredential(a.TenantID, a.ClientID, a.Certificate.chain, a.Certificate.key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: discoveryOff}))
	case WorkloadIdentity:
		file := a.tokenFile()
		if file == "" || a.tenantID() == "" || a.clientID() == "" {
			return nil, nil
		}
		tok, err := os.ReadFile(file)
		if err != nil {
			return nil, authErrorf("sign in (workload identity): read the federated token file: %w (in Kubernetes the workload identity webhook mounts it when the pod's service account is labelled azure.workload.identity/use)", err)
		}
		s.scrub.add(strings.TrimSpace(string(tok)))
		return wrapBuild(azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: opts, ClientID: a.clientID(), TenantID: a.tenantID(), TokenFilePath: file, DisableInstanceDiscovery: discoveryOff}))
	case ManagedIdentity:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
		if a.ManagedIdentityClientID != "" {
			mo.ID = azidentity.ClientID(a.ManagedIdentityClientID)
		}
		cred, err := wrapBuild(azidentity.NewManagedIdentityCredential(mo))
		if err != nil {
			return nil, err
		}
		if src, err := managedidentity.GetSource(); err == nil && src == managedidentity.DefaultToIMDS {
			return &imdsProbe{TokenCredential: cred}, nil
		}
		return cred, nil
	case AzureCLI:
		return wrapBuild(azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: a.TenantID}))
	}
	return nil, fmt.Errorf("sign in: unknown method %q", m)
}

// wrapBuild turns a constructor's configuration error into ErrAuth.
func wrapBuild[T azcore.TokenCredential](cred T, err error) (azcore.TokenCredential, error) {
	if err != nil {
		return nil, authErrorf("sign in: %v", err)
	}
	return cred, nil
}

// clientOptions are azcore's options for every credential: the client's own HTTP client (its TLS
// roots and --ca-file, its proxy), no retries of azcore's own (the client's one retry policy
// retries a failed sign-in) and the authority. It also says whether to turn instance discovery
// off: for a host that is not Microsoft's, discovery would ask the public cloud about it.
func (s *entraSource) clientOptions() (azcore.ClientOptions, bool) {
	o := azcore.ClientOptions{Transport: s.transport, Retry: policy.RetryOptions{MaxRetries: -1}}
	host := s.cfg.AuthorityURL
	if host != "" {
		o.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: host}
	} else if host = os.Getenv("AZURE_AUTHORITY_HOST"); host == "" {
		host = DefaultAuthorityURL
	}
	return o, !microsoftAuthority(host)
}

// microsoftAuthority reports whether raw is one of Microsoft's public or national authority hosts.
func microsoftAuthority(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Hostname()) {
	case "login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net",
		"login.microsoftonline.us", "login.usgovcloudapi.net", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn":
		return true
	}
	return false
}

// recordingTransport is the client's HTTP client as azcore's Transporter. It remembers the last
// transport failure, which azidentity folds into text, so an error can say "not trusted" or
// "unreachable" and the retry policy can tell it from a refusal.
type recordingTransport struct {
	c    *http.Client
	mu   sync.Mutex
	last error
}

func (t *recordingTransport) Do(req *http.Request) (*http.Response, error) {
	resp, err := t.c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // the URL may carry a query with credentials
		}
		t.mu.Lock()
		t.last = err
		t.mu.Unlock()
	}
	return resp, err
}

func (t *recordingTransport) reset() {
	t.mu.Lock()
	t.last = nil
	t.mu.Unlock()
}

func (t *recordingTransport) lastError() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// imdsAddr is the Azure instance metadata service; a variable so tests can point the probe at a
// closed loopback port.
var imdsAddr = "169.254.169.254:80"

// imdsProbe guards a managed identity credential that would use the VM metadata endpoint: it
// first checks for 1 s that something listens there, as DefaultAzureCredential does, so a host
// that is not an Azure VM gets a prompt "unavailable" instead of minutes of retries.
type imdsProbe struct {
	azcore.TokenCredential
	mu     sync.Mutex
	probed bool
}

func (p *imdsProbe) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	p.mu.Lock()
	if !p.probed {
		d := net.Dialer{Timeout: time.Second}
		conn, err := d.DialContext(ctx, "tcp", imdsAddr)
		if err != nil {
			p.mu.Unlock()
			return azcore.AccessToken{}, azidentity.NewCredentialUnavailableError("managed identity: no Azure instance metadata endpoint answered at " + imdsAddr +
				" within 1 s (on App Service, Functions and Container Apps IDENTITY_ENDPOINT and IDENTITY_HEADER are set instead)")
		}
		_ = conn.Close()
		p.probed = true
	}
	p.mu.Unlock()
	return p.TokenCredential.GetToken(ctx, opts)
}

// chain is Auto: its members are tried in order until one returns a token, and that one is used
// from then on. A member that is unavailable (no metadata endpoint, no az) passes to the next;
// one that is refused stops the chain, as DefaultAzureCredential does, so a wrong secret is
// reported rather than hidden by a later member.
type chain struct {
	members []chainMember
	mu      sync.Mutex
	used    *chainMember
}

type chainMember struct {
	azcore.TokenCredential
	method EntraMethod
	kind   string
}

func (c *chain) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.used != nil {
		return c.used.GetToken(ctx, opts)
	}
	var tried []string
	var last error
	for i := range c.members {
		m := &c.members[i]
		tok, err := m.GetToken(ctx, opts)
		if err == nil {
			c.used = m
			return tok, nil
		}
		tried = append(tried, string(m.method)+": "+describeTokenError(err))
		last = err
		var afe *azidentity.AuthenticationFailedError
		var ae *authError
		if errors.As(err, &afe) || errors.As(err, &ae) {
			break
		}
	}
	return azcore.AccessToken{}, &chainError{tried: tried, last: last}
}

func (c *chain) usedKind() string {
	if c.used == nil {
		return "none yet"
	}
	return c.used.kind
}

// chainError lists what Auto tried; it unwraps to the last member's error.
type chainError struct {
	tried []string
	last  error
}

func (e *chainError) Error() string { return "tried " + strings.Join(e.tried, "; ") }
func (e *chainError) Unwrap() error { return e.last }

// describeTokenError is one line about a failed token request: the endpoint, status and the
// authority's own description, without azidentity's response dumps and troubleshooting links.
func describeTokenError(err error) string {
	var ce *chainError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		resp := afe.RawResponse
		where := "the authority"
		if resp.Request != nil && resp.Request.URL != nil {
			where = redactURL(resp.Request.URL.String())
		}
		desc := "(no description)"
		if body, rerr := runtime.Payload(resp); rerr == nil {
			desc = responseDescription(body)
		}
		return fmt.Sprintf("%s answered HTTP %d: %s", where, resp.StatusCode, desc)
	}
	return oneLine(err.Error())
}

// responseStatus is the HTTP status behind a token error, 0 when there was no answer.
func responseStatus(err error) int {
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) && afe.RawResponse != nil {
		return afe.RawResponse.StatusCode
	}
	return 0
}

// responseDescription is the human part of an Entra ID or managed identity error body.
func responseDescription(body []byte) string {
	var j struct {
		Error       any    `json:"error"`
		Description string `json:"error_description"`
		Message     string `json:"message"`
	}
	if json.Unmarshal(body, &j) == nil {
		switch {
		case j.Description != "":
			return shorten(firstSentences(j.Description))
		case j.Message != "":
			return shorten(j.Message)
		}
		if e, ok := j.Error.(string); ok && e != "" {
			return e
		}
		if e, ok := j.Error.(map[string]any); ok {
			if m, ok := e["message"].(string); ok {
				return shorten(m)
			}
		}
	}
	return shortText(body)
}

// firstSentences drops the Trace ID, Correlation ID and Timestamp lines Entra ID appends.
func firstSentences(s string) string {
	if i := strings.Index(s, "\r\nTrace ID"); i > 0 {
		s = s[:i]
	}
	if i := strings.Index(s, "\nTrace ID"); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// oneLine joins the meaningful lines of a multi-line library message, without dividers and
// troubleshooting links.
func oneLine(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "----") || strings.HasPrefix(l, "To troubleshoot") {
			continue
		}
		out = append(out, l)
	}
	return shorten(strings.Join(out, " "))
}
