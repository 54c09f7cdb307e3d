package mcas

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// ErrAuth is the category of every authentication or permission failure (HTTP 401 and 403,
// token endpoint refusals, unreadable token files). The CLI maps it to exit code 5.
var ErrAuth = errors.New("mcas: authentication failed")

// ErrPermission is the narrower category of a valid credential without the needed role (HTTP
// 403). Errors in this category are also ErrAuth.
var ErrPermission = errors.New("mcas: permission denied")

// ErrThrottled is returned when the service keeps answering 429 beyond the retry policy's
// patience, or at once by Check, which never waits for the budget.
var ErrThrottled = errors.New("mcas: throttled")

// Categories a caller can branch on with errors.Is to say what to do. Each marks an error whose
// own message says what went wrong, in this package's terms; the CLI adds hints naming its flags.
var (
	// ErrNoCredentials: the config names no credential, an empty token, or an auto chain none
	// of whose methods is configured. Errors in this category are also ErrAuth.
	ErrNoCredentials = errors.New("mcas: no credentials")
	// ErrURLCredentials: the API URL carries user info; credentials belong in Config.Auth.
	ErrURLCredentials = errors.New("mcas: the API URL must not contain credentials")
	// ErrUntrustedCertificate: the TLS certificate of the API, the Entra ID authority or a proxy
	// does not verify against the system roots and Config.CAFile. No retry can fix it.
	ErrUntrustedCertificate = errors.New("mcas: the TLS certificate is not trusted")
	// ErrUnreachable: a request got no usable answer (a transport failure or an unreadable body)
	// until the retry policy gave up.
	ErrUnreachable = errors.New("mcas: request failed")
	// ErrAuthorityUnreachable: the Entra ID authority did not answer a sign-in.
	ErrAuthorityUnreachable = errors.New("mcas: cannot reach the sign-in authority")
	// ErrPFXPassword: a PFX certificate file needs a password that was not given, or the one
	// given is wrong. Errors in this category are also ErrAuth.
	ErrPFXPassword = errors.New("mcas: the PFX password is missing or wrong")
	// ErrCertificateExpired: the client certificate's validity has ended. Also ErrAuth.
	ErrCertificateExpired = errors.New("mcas: the client certificate expired")
	// ErrTieGroupTooLarge: more records share one millisecond than scan paging and splitting
	// can reach; only narrower filters can fetch them.
	ErrTieGroupTooLarge = errors.New("mcas: tie group too large")
)

// APIError is a response the client gave up on: the status and the server's own message
// (trimmed, secrets removed). The caller says what to do about the status.
type APIError struct {
	Status   int    // HTTP status code
	Message  string // the server's message, at most a few hundred characters
	Attempts int    // how many times the request was sent
}

// Error reads like "mcas: HTTP 400 Bad Request: bad filter: …".
func (e *APIError) Error() string {
	s := fmt.Sprintf("mcas: HTTP %d %s", e.Status, http.StatusText(e.Status))
	if e.Attempts > 1 {
		s += fmt.Sprintf(" after %d attempts", e.Attempts)
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is makes 401 and 403 match ErrAuth, 403 match ErrPermission and 429 match ErrThrottled.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrAuth:
		return e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden
	case ErrPermission:
		return e.Status == http.StatusForbidden
	case ErrThrottled:
		return e.Status == http.StatusTooManyRequests
	}
	return false
}

// authError wraps a failure to obtain a credential (token file, Entra token endpoint) so that it
// matches ErrAuth while keeping its own message.
type authError struct{ err error }

func (e *authError) Error() string        { return e.err.Error() }
func (e *authError) Unwrap() []error      { return []error{ErrAuth, e.err} }
func newAuthError(err error) error        { return &authError{err: err} }
func authErrorf(f string, a ...any) error { return newAuthError(fmt.Errorf(f, a...)) }

// kindError marks err with a category (one of the Err variables above) while keeping err's
// message.
type kindError struct{ kind, err error }

func (e *kindError) Error() string   { return e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }

// kindErrorf is fmt.Errorf marked with kind.
func kindErrorf(kind error, f string, a ...any) error {
	return &kindError{kind: kind, err: fmt.Errorf(f, a...)}
}

// Setting is one piece of a sign-in method's configuration, as SignInError names it.
type Setting string

// The settings Entra ID sign-in methods need.
const (
	SettingTenantID    Setting = "tenant ID"
	SettingClientID    Setting = "client ID"
	SettingSecret      Setting = "client secret"
	SettingCertificate Setting = "certificate"
	SettingTokenFile   Setting = "federated token file"
)

// SignInError is an Entra ID sign-in method that lacks settings, is not configured or was
// refused by the authority. It is ErrAuth; Method and Missing let the caller say what to check
// in its own terms (the CLI names its flags).
type SignInError struct {
	Method  EntraMethod
	Missing []Setting // what the method lacks; empty when it was refused or is not configured
	err     error
}

func (e *SignInError) Error() string   { return e.err.Error() }
func (e *SignInError) Unwrap() []error { return []error{ErrAuth, e.err} }

// missingText lists settings as "a tenant ID and a client secret".
func missingText(ss []Setting) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = "a " + string(s)
	}
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
