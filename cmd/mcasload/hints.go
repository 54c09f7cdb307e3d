package main

import (
	"errors"
	"net/http"
	"strings"

	"github.com/mcasload/mcasload/audit"
	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/mcas"
)

// The library packages say what went wrong in their own terms and mark their errors with typed
// categories; this file is where the CLI turns those categories into hints that name its flags
// and environment variables. Nothing here reads an error's text.

// clientHint says what to do about a failure of the API client, a scan or an audit, naming the
// flags that fix it; "" when no category applies.
func clientHint(err error) string {
	var signIn *mcas.SignInError
	var apiErr *mcas.APIError
	var wm *loader.WatermarkError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, mcas.ErrUntrustedCertificate):
		return "if the API, the sign-in authority or a proxy uses a private CA, pass its PEM certificate with --ca-file"
	case errors.Is(err, mcas.ErrAuthorityUnreachable):
		return "check the network, HTTPS_PROXY, --cloud and --authority-url"
	case errors.As(err, &signIn):
		return signInHint(signIn)
	case errors.Is(err, mcas.ErrNoCredentials):
		return "set MCAS_TOKEN or --token-file, or sign in to Entra ID (--auth): give --tenant-id and --client-id with a secret or --client-certificate, set AZURE_FEDERATED_TOKEN_FILE, or run `az login`"
	case errors.Is(err, mcas.ErrPFXPassword):
		return "put the PFX password in a file named by --client-certificate-password-file or in MCAS_CLIENT_CERTIFICATE_PASSWORD"
	case errors.Is(err, mcas.ErrCertificateExpired):
		return "point --client-certificate at the new certificate"
	case errors.Is(err, mcas.ErrURLCredentials):
		return "give the token in MCAS_TOKEN or --token-file, never in --url"
	case errors.As(err, &apiErr):
		return apiHint(apiErr.Status)
	case errors.Is(err, mcas.ErrTieGroupTooLarge):
		return "narrow the scan with --filter (e.g. by event type or user) and run it once per value"
	case errors.Is(err, mcas.ErrUnreachable):
		return "check the network, the proxy (HTTPS_PROXY) and --url, or try again later"
	case errors.Is(err, loader.ErrTimeFilter):
		return "give time bounds with --since/--until, not in --filter"
	case errors.Is(err, loader.ErrEmptyWindow):
		return "--since must be before --until; relative times (7d) count back from the service's clock"
	case errors.As(err, &wm):
		return resetWatermarkHint(wm.Key)
	case errors.Is(err, audit.ErrUncountableScope):
		return "audit scopes filtered only by --service, --user or --event-type"
	}
	return ""
}

// apiHint says what to do about a status the client did not retry or gave up retrying.
func apiHint(status int) string {
	switch {
	case status == http.StatusBadRequest:
		return "the service refused the request; check --filter keys, operators and values"
	case status == http.StatusUnauthorized:
		return "the token is invalid or expired; check MCAS_TOKEN / --token-file or the Entra app credentials"
	case status == http.StatusForbidden:
		return "the credential lacks permission; the token's user or the Entra app needs Investigation.read"
	case status == http.StatusNotFound:
		return "check --url: it should be the API URL from the portal's About page, e.g. https://tenant.eu2.portal.cloudappsecurity.com"
	case status == http.StatusTooManyRequests:
		return "the tenant's request budget is exhausted; wait a minute or lower --parallel"
	case status >= 500:
		return "the service is failing; try again later, or lower --limit or --parallel"
	}
	return ""
}

// settingFlags names where the CLI takes each sign-in setting from; workload identity also
// reads the variables its webhook sets.
func settingFlags(m mcas.EntraMethod, s mcas.Setting) string {
	workload := m == mcas.WorkloadIdentity
	switch s {
	case mcas.SettingTenantID:
		if workload {
			return "--tenant-id or AZURE_TENANT_ID"
		}
		return "--tenant-id"
	case mcas.SettingClientID:
		if workload {
			return "--client-id or AZURE_CLIENT_ID"
		}
		return "--client-id"
	case mcas.SettingSecret:
		return "MCAS_CLIENT_SECRET or --client-secret-file"
	case mcas.SettingCertificate:
		return "--client-certificate"
	case mcas.SettingTokenFile:
		return "--federated-token-file or AZURE_FEDERATED_TOKEN_FILE"
	}
	return string(s)
}

// signInHint names the flags of the settings a sign-in lacks, or what to check when the
// authority refused it.
func signInHint(e *mcas.SignInError) string {
	if len(e.Missing) > 0 {
		flags := make([]string, len(e.Missing))
		for i, s := range e.Missing {
			flags[i] = settingFlags(e.Method, s)
		}
		return "give " + strings.Join(flags, "; ")
	}
	switch e.Method {
	case mcas.ClientSecret:
		return "check --tenant-id, --client-id and the client secret, and that the app has the Investigation.read permission"
	case mcas.ClientCertificate:
		return "check --tenant-id, --client-id, that this certificate is uploaded to the app registration and not expired, and that the app has the Investigation.read permission"
	case mcas.ManagedIdentity:
		return "check that the managed identity is enabled on this host (and --managed-identity-client-id for a user-assigned one) and has the Investigation.read permission"
	case mcas.WorkloadIdentity:
		return "check the federated credential of the app (issuer, subject, audience api://AzureADTokenExchange), AZURE_CLIENT_ID, AZURE_TENANT_ID and the token file"
	case mcas.AzureCLI:
		return "run `az login` (with --tenant for another tenant) and check that your account may read the tenant's activities"
	}
	return "check the credentials given to --auth auto, or pick one with --auth"
}

// resetWatermarkHint says how to forget a watermark that cannot be read.
func resetWatermarkHint(key string) string {
	return "forget it with mcasload state reset --key '" + strings.ReplaceAll(key, "'", `'\''`) + "'"
}

// joinHints joins the hints that are not empty with "; ".
func joinHints(hints ...string) string {
	var out []string
	for _, h := range hints {
		if h != "" {
			out = append(out, h)
		}
	}
	return strings.Join(out, "; ")
}

// clientSetupError is a failure of mcas.NewClient: exit 5 for a credential problem, else code
// (the configuration is wrong), with the hint that names the flags to fix.
func clientSetupError(err error, code int) error {
	if errors.Is(err, mcas.ErrAuth) {
		code = exitAuth
	}
	return withCode(code, err, clientHint(err))
}
