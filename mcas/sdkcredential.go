package mcas

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/mcasload/mcasload/internal/clock"
)

// TokenCredential returns a's sign-in as an azcore.TokenCredential for another Azure SDK client
// (Azure Storage for the Streaming API's export): the same methods, auto chain, authority and
// HTTP client as the API's sign-in, so one set of flags and one identity reach both. The SDK
// that uses it asks for its own scope (Azure Storage: https://storage.azure.com/.default) and
// caches its tokens; a refused sign-in comes back as ErrAuth saying what failed, never with a
// secret. httpClient nil means http.DefaultClient.
func (a EntraAuth) TokenCredential(httpClient *http.Client) (azcore.TokenCredential, error) {
	if err := a.validate(); err != nil {
		return nil, err
	}
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	s := &entraSource{cfg: a, transport: &recordingTransport{c: httpClient}, clock: clock.Real{},
		scrub: &scrubber{}, log: slog.New(slog.DiscardHandler), stats: &counters{}}
	s.scrub.add(a.Secret.Reveal())
	cred, err := s.newCredential()
	if err != nil {
		return nil, err
	}
	s.cred = cred
	return sdkCredential{s}, nil
}

// sdkCredential hands out tokens of one credential instance with the API sign-in's error texts.
type sdkCredential struct{ s *entraSource }

func (c sdkCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.s.transport.reset()
	tok, err := c.s.cred.GetToken(ctx, opts)
	if err != nil {
		if c.s.transport.lastError() != nil {
			return tok, c.s.tokenError(err) // unreachable or untrusted authority: the API's texts fit
		}
		return tok, authErrorf("sign in (%s): %s", c.s.cred.kind(),
			c.s.scrub.scrub(describeTokenError(err)))
	}
	c.s.scrub.add(tok.Token)
	return tok, nil
}
