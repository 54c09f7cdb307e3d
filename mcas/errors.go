package mcas

import (
	"errors"
	"fmt"
	"net/http"
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

// APIError is a response the client gave up on: the status, the server's own message (trimmed,
// secrets removed) and a hint saying what to do.
type APIError struct {
	Status   int    // HTTP status code
	Message  string // the server's message, at most a few hundred characters
	Attempts int    // how many times the request was sent
	Hint     string // what the operator can do about it
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
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
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

// hintFor says what to do about a status the client does not retry or gave up retrying.
func hintFor(status int) string {
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
