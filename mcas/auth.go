package mcas

import (
	"context"
	"os"
	"strings"
	"time"
)

// Auth is how the client proves who it is: TokenAuth (legacy API token) or EntraAuth (Microsoft
// Entra ID sign-in through Microsoft's azidentity library). The interface is sealed; the client
// turns it into a credential source when it is built.
type Auth interface {
	// Kind names the method for reports ("legacy token", "entra client certificate", …).
	Kind() string
	validate() error
	newSource(c *Client) credentialSource
}

// credentialSource yields the Authorization header value and can be told the server refused it.
type credentialSource interface {
	header(ctx context.Context) (string, error)
	// invalidate drops a cached credential after a 401; it reports whether a fresh one can be
	// fetched (so the request is worth sending once more).
	invalidate() bool
	// used says which credential produced the last header and until when it is valid (zero
	// for a legacy token, which has no expiry the client can know).
	used() (kind string, expires time.Time)
}

// TokenAuth is a legacy API token, sent as "Authorization: Token <token>".
type TokenAuth struct {
	Token Secret
}

// TokenFromFile reads a legacy token from path (surrounding whitespace ignored).
func TokenFromFile(path string) (TokenAuth, error) {
	s, err := readSecretFile(path)
	if err != nil {
		return TokenAuth{}, err
	}
	return TokenAuth{Token: s}, nil
}

// readSecretFile reads a one-line secret; the error names the file, never its content.
func readSecretFile(path string) (Secret, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Secret{}, authErrorf("read secret file %s: %w", path, err)
	}
	v := strings.TrimSpace(string(data))
	if v == "" {
		return Secret{}, authErrorf("read secret file %s: the file is empty", path)
	}
	return NewSecret(v), nil
}

// Kind returns "legacy token".
func (TokenAuth) Kind() string { return "legacy token" }

func (a TokenAuth) validate() error {
	if a.Token.Empty() {
		return newAuthError(kindErrorf(ErrNoCredentials, "new client: the API token is empty"))
	}
	return nil
}

// String hides the token.
func (a TokenAuth) String() string { return "TokenAuth{Token:" + redacted + "}" }

// GoString hides the token.
func (a TokenAuth) GoString() string { return a.String() }

func (a TokenAuth) newSource(c *Client) credentialSource {
	c.scrub.add(a.Token.Reveal())
	return staticToken{value: "Token " + a.Token.Reveal()}
}

// staticToken is a legacy token: nothing to refresh, so a 401 is final.
type staticToken struct{ value string }

func (s staticToken) header(context.Context) (string, error) { return s.value, nil }
func (s staticToken) invalidate() bool                       { return false }
func (s staticToken) used() (string, time.Time)              { return TokenAuth{}.Kind(), time.Time{} }
