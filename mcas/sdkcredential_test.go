package mcas_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/simulator"
)

// TestTokenCredential: the API's Entra sign-in, handed to another Azure SDK client, gets tokens
// from the same authority, and a refused secret is ErrAuth without the secret in its text.
func TestTokenCredential(t *testing.T) {
	clk := clock.NewVirtual(simEnd.Add(7*24*time.Hour), true)
	srv := simulator.NewTLSServer(simulator.Config{Tenant: simTenant(), Clock: clk})
	t.Cleanup(srv.Close)
	auth := mcas.EntraAuth{TenantID: srv.TenantID(), ClientID: srv.ClientID(), Secret: mcas.NewSecret(srv.ClientSecret()), AuthorityURL: srv.URL}
	cred, err := auth.TokenCredential(srv.CA.Client())
	if err != nil {
		t.Fatal(err)
	}
	// The simulator's authority issues tokens for the API's scope only; the SDK asks for its own.
	tok, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{mcas.DefaultScope}})
	if err != nil || tok.Token == "" {
		t.Fatalf("token: %v", err)
	}
	before := srv.Stats().Tokens
	if _, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{mcas.DefaultScope}}); err != nil {
		t.Fatal(err)
	}
	if srv.Stats().Tokens != before {
		t.Errorf("a second GetToken asked the authority again; the credential should cache its token")
	}

	const wrong = "not-the-secret-0123456789"
	bad := auth
	bad.Secret = mcas.NewSecret(wrong)
	cred, err = bad.TokenCredential(srv.CA.Client())
	if err != nil {
		t.Fatal(err)
	}
	_, err = cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{mcas.DefaultScope}})
	if !errors.Is(err, mcas.ErrAuth) || strings.Contains(err.Error(), wrong) || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong secret: %v; want ErrAuth naming the refusal, without the secret", err)
	}
	if _, err := (mcas.EntraAuth{Method: mcas.ClientSecret}).TokenCredential(nil); !errors.Is(err, mcas.ErrAuth) {
		t.Errorf("incomplete settings: %v, want ErrAuth", err)
	}
}
