package mcas

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
)

// Secret holds a token or client secret. Every way of printing it — %v, %s, %q, %#v, slog,
// JSON — shows "[redacted]", so a Secret that slips into a log line or an error leaks nothing.
// Only Reveal returns the value, and only the code that builds a request calls it.
type Secret struct{ v string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{v: s} }

const redacted = "[redacted]"

// Reveal returns the secret value; call it only to put the value on the wire.
func (s Secret) Reveal() string { return s.v }

// Empty reports whether no value is set.
func (s Secret) Empty() bool { return s.v == "" }

// String returns "[redacted]".
func (s Secret) String() string { return redacted }

// GoString returns "[redacted]" so %#v hides the value too.
func (s Secret) GoString() string { return redacted }

// Format prints "[redacted]" for every verb.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(redacted)) }

// LogValue keeps the value out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON keeps the value out of JSON dumps of configs.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText keeps the value out of text encodings.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// scrubber removes known secret values from strings that came from outside (server messages,
// transport errors) before they become part of an error or a log line: a server that echoes the
// Authorization header must not leak the token through us.
type scrubber struct {
	mu      sync.RWMutex
	secrets []string
}

func (s *scrubber) add(v string) {
	if len(v) < 4 {
		return // too short to search for without mangling ordinary text
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.secrets {
		if x == v {
			return
		}
	}
	s.secrets = append(s.secrets, v)
}

func (s *scrubber) scrub(text string) string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, v := range s.secrets {
		if strings.Contains(text, v) {
			text = strings.ReplaceAll(text, v, redacted)
		}
	}
	// Tokens the client never held — a client assertion signed inside Microsoft's library, a
	// federated token rotated since it was read — are JWTs: none is shown whatever its value.
	if strings.Contains(text, "eyJ") {
		text = jwtLike.ReplaceAllString(text, redacted)
	}
	return text
}

// jwtLike matches a compact JWS (header.payload.signature, the header JSON base64url-encoded),
// whole or cut short by a server that truncated its message.
var jwtLike = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){0,2}`)

// scrubbedError replaces secrets in an error's message while keeping errors.Is/As on the chain.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func (s *scrubber) scrubErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := s.scrub(msg)
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}
