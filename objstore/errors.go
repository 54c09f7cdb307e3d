package objstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
)

// Error is every failure of a Store operation. Its text is rebuilt from what the service
// answered (status and error code) or, for a failure without an answer (a refused connection,
// a missing credential), from the cause's text with secrets and URL query strings cut. It wraps
// at most one sentinel (ErrNotFound, ErrExists, ErrNoBucket, ErrAuth) or the context's error,
// never the SDK's error, so no caller can print a secret through it.
type Error struct {
	Op     string // create, replace, get, stat, list, delete, open
	Object string // the object's or the bucket's URL (no secret)
	Status int    // the HTTP status the service answered; 0 without an answer
	Code   string // the service's error code (BlobNotFound, NoSuchKey, …)
	detail string // the cause's text, sanitized, when there was no answer
	kind   error
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: ", e.Op, e.Object)
	switch {
	case e.Status != 0 && e.Code != "":
		fmt.Fprintf(&b, "%d %s", e.Status, e.Code)
	case e.Status != 0:
		fmt.Fprintf(&b, "%d %s", e.Status, http.StatusText(e.Status))
	default:
		b.WriteString(e.detail)
	}
	switch e.kind {
	case ErrAuth:
		b.WriteString(" (the credentials were refused or lack permission on this container or bucket)")
	case ErrNoBucket:
		b.WriteString(" (the container or bucket does not exist)")
	}
	return b.String()
}

// Unwrap gives the sentinel or context error, never the SDK's error.
func (e *Error) Unwrap() error { return e.kind }

// answer is what a service said about a failed request: its HTTP status and error code.
type answer struct {
	status int
	code   string
}

// newError builds the Error of op on object from err and the service's answer (zero if none).
// secrets are strings that must not appear in the text (a SAS token, an account key).
func newError(op, object string, err error, a answer, secrets []string) *Error {
	e := &Error{Op: op, Object: object, Status: a.status, Code: a.code}
	switch {
	case errors.Is(err, context.Canceled):
		e.kind = context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		e.kind = context.DeadlineExceeded
	default:
		e.kind = classify(op, a)
	}
	if a.status == 0 {
		e.detail = sanitize(err.Error(), secrets)
	}
	return e
}

// classify maps a service's answer to the sentinel callers branch on.
func classify(op string, a answer) error {
	switch a.code {
	case "BlobNotFound", "NoSuchKey", "NotFound":
		return ErrNotFound
	case "ContainerNotFound", "NoSuchBucket":
		return ErrNoBucket
	case "BlobAlreadyExists", "PreconditionFailed", "ConditionNotMet":
		if op == "create" {
			return ErrExists
		}
	}
	switch a.status {
	case http.StatusUnauthorized, http.StatusForbidden:
		return ErrAuth
	case http.StatusNotFound:
		return ErrNotFound
	case http.StatusPreconditionFailed:
		if op == "create" {
			return ErrExists
		}
	}
	return nil
}

var (
	// A URL's query string, where a SAS token travels.
	urlQueryRE = regexp.MustCompile(`(https?://[^\s"'?]*)\?[^\s"']*`)
	// A SAS signature anywhere else.
	sigRE = regexp.MustCompile(`(?i)(sig=)[^&\s"']+`)
)

// sanitize cuts every secret and every URL query string out of text.
func sanitize(text string, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= 8 {
			text = strings.ReplaceAll(text, s, "REDACTED")
		}
	}
	text = urlQueryRE.ReplaceAllString(text, "$1?REDACTED")
	return sigRE.ReplaceAllString(text, "${1}REDACTED")
}
