package streaming

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
)

// ErrBlobGone is returned by Resume for a blob deleted since it was listed (a retention rule at
// work): there is nothing to read, and its cursor can go.
var ErrBlobGone = errors.New("the blob was deleted since it was listed")

// redactor removes the credential's secrets from texts that came from outside (the SDK's errors,
// the service's answers) before they become part of an error or a log line.
type redactor struct{ secrets []string }

func newRedactor(c Credential) *redactor {
	r := &redactor{}
	add := func(v string) {
		if len(v) >= 6 { // shorter values would mangle ordinary text
			r.secrets = append(r.secrets, v)
		}
	}
	if cs := c.ConnectionString.Reveal(); cs != "" {
		add(cs)
		for part := range strings.SplitSeq(cs, ";") {
			k, v, _ := strings.Cut(part, "=")
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "accountkey":
				add(v)
			case "sharedaccesssignature":
				addSAS(add, v)
			}
		}
	}
	addSAS(add, c.SAS.Reveal())
	return r
}

// addSAS adds a SAS token and its signature (the part that grants access), raw and escaped.
func addSAS(add func(string), sas string) {
	sas = strings.TrimPrefix(sas, "?")
	if sas == "" {
		return
	}
	add(sas)
	if q, err := url.ParseQuery(sas); err == nil {
		if sig := q.Get("sig"); sig != "" {
			add(sig)
			add(url.QueryEscape(sig))
		}
	}
}

func (r *redactor) text(s string) string {
	for _, v := range r.secrets {
		s = strings.ReplaceAll(s, v, "[redacted]")
	}
	return s
}

// storageError is an error of the service or the network in one line, without secrets; it
// unwraps to the SDK's error so callers can still ask bloberror.HasCode.
type storageError struct {
	msg string
	err error
}

func (e *storageError) Error() string { return e.msg }
func (e *storageError) Unwrap() error { return e.err }

// fail describes a failed operation: the service's status and code with what to do about the
// common ones, or the network error, never a secret or the SDK's multi-line dump.
func (s *Store) fail(op string, err error) error {
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		return &storageError{msg: fmt.Sprintf("%s in %s/%s: %s", op, s.endpoint, s.container, s.redact.text(err.Error())), err: err}
	}
	hint := ""
	switch {
	case bloberror.HasCode(err, bloberror.ContainerNotFound):
		hint = "the container does not exist: is the Streaming API exporting CloudAppEvents to this storage account (Settings > Microsoft Defender XDR > Streaming API), and is the container name right?"
	case bloberror.HasCode(err, bloberror.AuthenticationFailed):
		hint = "the storage account refused the credential: check the account key or the SAS token (expired? signed for another account?)"
	case bloberror.HasCode(err, bloberror.AuthorizationPermissionMismatch, bloberror.AuthorizationFailure):
		hint = "the identity may not read this container: it needs the Storage Blob Data Reader role (or a SAS with read and list permissions)"
	case re.StatusCode == 403:
		hint = "access denied: check the credential and the storage account's network rules"
	}
	msg := fmt.Sprintf("%s in %s/%s: HTTP %d %s", op, s.endpoint, s.container, re.StatusCode, re.ErrorCode)
	if hint != "" {
		msg += ": " + hint
	}
	return &storageError{msg: s.redact.text(msg), err: err}
}
