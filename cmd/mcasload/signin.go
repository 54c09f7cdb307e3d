package main

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/mcas"
)

// authMethods are the values of --auth: the legacy token and the Entra ID sign-in methods.
var authMethods = []string{"token", string(mcas.ClientSecret), string(mcas.ClientCertificate), string(mcas.ManagedIdentity),
	string(mcas.WorkloadIdentity), string(mcas.AzureCLI), string(mcas.Auto)}

// connectionFlags are the flags that say where the API is and how to sign in; check and scan
// share them. No flag takes a secret: tokens, client secrets and certificate passwords come from
// the environment or from files, never from a command line that ps and shell history would show.
func connectionFlags() []cli.Flag {
	chain := make([]string, len(mcas.DefaultChain))
	for i, m := range mcas.DefaultChain {
		chain[i] = string(m)
	}
	return []cli.Flag{
		&cli.StringFlag{Name: "url", Usage: "the tenant's API `URL` from the portal (Settings > Cloud Apps > About), e.g. https://contoso.eu2.portal.cloudappsecurity.com"},
		&cli.StringFlag{Name: "auth", Usage: "sign-in `METHOD`: " + strings.Join(authMethods, ", ") + " (default: token when MCAS_TOKEN or --token-file is given, client-certificate with --client-certificate, client-secret with --tenant-id/--client-id)"},
		&cli.StringFlag{Name: "token-file", Usage: "read the legacy API token from `FILE` (default: the MCAS_TOKEN environment variable)"},
		&cli.StringFlag{Name: "tenant-id", Usage: "Entra ID tenant `ID` (workload identity: default AZURE_TENANT_ID)"},
		&cli.StringFlag{Name: "client-id", Usage: "Entra ID application (client) `ID` (workload identity: default AZURE_CLIENT_ID)"},
		&cli.StringFlag{Name: "client-secret-file", Usage: "read the Entra client secret from `FILE` (default: the MCAS_CLIENT_SECRET environment variable)"},
		&cli.StringFlag{Name: "client-certificate", Usage: "the Entra app's certificate `FILE`: PEM (certificate and unencrypted private key) or PFX/PKCS#12"},
		&cli.StringFlag{Name: "client-certificate-password-file", Usage: "read the PFX password from `FILE` (default: the MCAS_CLIENT_CERTIFICATE_PASSWORD environment variable)"},
		&cli.StringFlag{Name: "managed-identity-client-id", Usage: "client `ID` of a user-assigned managed identity (default: the system-assigned identity)"},
		&cli.StringFlag{Name: "federated-token-file", Usage: "workload identity: the federated token `FILE` (default: AZURE_FEDERATED_TOKEN_FILE)"},
		&cli.StringFlag{Name: "auth-chain", Usage: "the `METHODS` --auth auto tries, comma-separated, in order (default " + strings.Join(chain, ",") + ")"},
		&cli.StringFlag{Name: "cloud", Usage: "Entra ID cloud: " + cloudNames() + " (default: the AZURE_AUTHORITY_HOST environment variable, else public)"},
		&cli.StringFlag{Name: "authority-url", Usage: "Entra ID authority `URL` for a private or test authority (https); overrides --cloud"},
		&cli.StringFlag{Name: "ca-file", Usage: "trust the private CA certificates in PEM `FILE` as well as the system's, for the API and the authority (TLS is always verified)"},
	}
}

func cloudNames() string {
	names := make([]string, 0, len(mcas.Clouds))
	for n := range mcas.Clouds {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// mcasConfig builds the client config from the connection flags and the environment. Missing or
// conflicting settings are usage errors (exit 2); unreadable secret or certificate files are
// authentication errors (exit 5).
func (e *env) mcasConfig(c *cli.Context) (mcas.Config, error) {
	cfg := mcas.Config{URL: c.String("url"), CAFile: c.String("ca-file"), UserAgent: "mcasload/" + version}
	if cfg.URL == "" {
		return cfg, usageErrorf("no API URL: pass --url or set MCAS_URL to the API URL from the portal (Settings > Cloud Apps > About)")
	}
	method, err := e.authMethod(c)
	if err != nil {
		return cfg, err
	}
	if method == "token" {
		cfg.Auth, err = e.tokenAuth(c)
		return cfg, err
	}
	cfg.Auth, err = e.entraAuth(c, mcas.EntraMethod(method))
	return cfg, err
}

// authMethod is --auth, or the method the given flags imply when it is not set.
func (e *env) authMethod(c *cli.Context) (string, error) {
	entra := false
	for _, f := range []string{"tenant-id", "client-id", "client-secret-file", "client-certificate", "managed-identity-client-id", "federated-token-file"} {
		entra = entra || c.String(f) != ""
	}
	m := c.String("auth")
	switch {
	case m == "token" && entra, m == "" && entra && c.String("token-file") != "":
		return "", usageErrorf("choose one credential: --token-file or MCAS_TOKEN (legacy token) or Entra ID sign-in (--tenant-id, --client-id, …), not both")
	case m != "":
		for _, known := range authMethods {
			if m == known {
				return m, nil
			}
		}
		return "", usageErrorf("unknown --auth %q: use %s", m, strings.Join(authMethods, ", "))
	case c.String("token-file") != "":
		return "token", nil
	case c.String("client-certificate") != "":
		return string(mcas.ClientCertificate), nil
	case entra:
		return string(mcas.ClientSecret), nil
	case e.getenv("MCAS_TOKEN") != "":
		return "token", nil
	}
	return "", usageErrorf("no credentials: set MCAS_TOKEN or pass --token-file, or sign in to Entra ID with --auth (%s)", strings.Join(authMethods[1:], ", "))
}

// tokenAuth is the legacy API token from --token-file or MCAS_TOKEN.
func (e *env) tokenAuth(c *cli.Context) (mcas.Auth, error) {
	if f := c.String("token-file"); f != "" {
		a, err := mcas.TokenFromFile(f)
		if err != nil {
			return nil, withCode(exitAuth, err, "the file should hold the API token on one line")
		}
		return a, nil
	}
	if v := e.getenv("MCAS_TOKEN"); v != "" {
		return mcas.TokenAuth{Token: mcas.NewSecret(v)}, nil
	}
	return nil, usageErrorf("--auth token needs MCAS_TOKEN or --token-file")
}

// entraAuth gathers what method m needs; for auto, whatever is given.
func (e *env) entraAuth(c *cli.Context, m mcas.EntraMethod) (mcas.Auth, error) {
	a := mcas.EntraAuth{Method: m, TenantID: c.String("tenant-id"), ClientID: c.String("client-id"),
		ManagedIdentityClientID: c.String("managed-identity-client-id"), FederatedTokenFile: c.String("federated-token-file")}
	if m == mcas.WorkloadIdentity || m == mcas.Auto {
		// The standard variables the workload identity webhook (or a CI job) sets.
		a.TenantID = firstNonEmpty(a.TenantID, e.getenv("AZURE_TENANT_ID"))
		a.ClientID = firstNonEmpty(a.ClientID, e.getenv("AZURE_CLIENT_ID"))
		a.FederatedTokenFile = firstNonEmpty(a.FederatedTokenFile, e.getenv("AZURE_FEDERATED_TOKEN_FILE"))
	}
	switch cloud, authority := c.String("cloud"), c.String("authority-url"); {
	case authority != "":
		a.AuthorityURL = authority
	case cloud != "":
		host, ok := mcas.Clouds[cloud]
		if !ok {
			return nil, usageErrorf("unknown --cloud %q: use %s, or --authority-url for another authority", cloud, cloudNames())
		}
		a.AuthorityURL = host
	}
	needApp := m == mcas.ClientSecret || m == mcas.ClientCertificate || m == mcas.WorkloadIdentity
	if needApp && (a.TenantID == "" || a.ClientID == "") {
		return nil, usageErrorf("%s sign-in needs both --tenant-id and --client-id", m)
	}
	secret, err := e.clientSecret(c, m == mcas.ClientSecret)
	if err != nil {
		return nil, err
	}
	a.Secret = secret
	if f := c.String("client-certificate"); f != "" && (m == mcas.ClientCertificate || m == mcas.Auto) {
		pw, err := e.certificatePassword(c)
		if err != nil {
			return nil, err
		}
		if a.Certificate, err = mcas.LoadCertificate(f, pw); err != nil {
			return nil, withCode(exitAuth, err, clientHint(err))
		}
	} else if m == mcas.ClientCertificate {
		return nil, usageErrorf("client-certificate sign-in needs --client-certificate FILE (PEM or PFX)")
	}
	if m == mcas.WorkloadIdentity && a.FederatedTokenFile == "" {
		return nil, usageErrorf("workload identity needs the federated token file: --federated-token-file or AZURE_FEDERATED_TOKEN_FILE")
	}
	if list := c.String("auth-chain"); list != "" {
		for _, s := range strings.Split(list, ",") {
			a.Chain = append(a.Chain, mcas.EntraMethod(strings.TrimSpace(s)))
		}
		if m != mcas.Auto {
			return nil, usageErrorf("--auth-chain applies only to --auth auto")
		}
	}
	return a, nil
}

// clientSecret is the client secret from --client-secret-file or MCAS_CLIENT_SECRET; empty and
// fine unless required.
func (e *env) clientSecret(c *cli.Context, required bool) (mcas.Secret, error) {
	if f := c.String("client-secret-file"); f != "" {
		s, err := readSecret(f)
		if err != nil {
			return s, withCode(exitAuth, err, "the file should hold the client secret on one line")
		}
		return s, nil
	}
	if v := e.getenv("MCAS_CLIENT_SECRET"); v != "" {
		return mcas.NewSecret(v), nil
	}
	if required {
		return mcas.Secret{}, usageErrorf("no Entra client secret: set MCAS_CLIENT_SECRET or pass --client-secret-file")
	}
	return mcas.Secret{}, nil
}

// certificatePassword is the PFX password from its file or MCAS_CLIENT_CERTIFICATE_PASSWORD.
func (e *env) certificatePassword(c *cli.Context) (mcas.Secret, error) {
	if f := c.String("client-certificate-password-file"); f != "" {
		s, err := readSecret(f)
		if err != nil {
			return s, withCode(exitAuth, err, "the file should hold the PFX password on one line")
		}
		return s, nil
	}
	return mcas.NewSecret(e.getenv("MCAS_CLIENT_CERTIFICATE_PASSWORD")), nil
}

// readSecret reads a one-line secret file through the mcas package's reader, so the value is
// wrapped as a Secret from the start.
func readSecret(path string) (mcas.Secret, error) {
	a, err := mcas.TokenFromFile(path)
	return a.Token, err
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}

// credentialText is what check prints about the credential: the one that signed in and, for
// Entra ID, until when its token is valid.
func credentialText(r mcas.CheckResult) string {
	s := r.AuthKind
	if r.Credential != "" {
		s = r.Credential
	}
	if !r.Expires.IsZero() {
		s += fmt.Sprintf("; token valid until %s (%s)", r.Expires.UTC().Format(time.RFC3339), time.Until(r.Expires).Round(time.Minute))
	}
	return s
}
