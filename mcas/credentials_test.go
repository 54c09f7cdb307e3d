package mcas

import (
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/clock"
)

// Auto leaves what is not there: with no metadata endpoint (the probe goes to a closed loopback
// port, never to 169.254.169.254) and no az on PATH, both members are unavailable and the error
// lists each, quickly, as an authentication failure that says what to configure.
func TestAutoReportsEveryUnavailableMember(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	saved := imdsAddr
	imdsAddr = closed
	t.Cleanup(func() { imdsAddr = saved })
	for _, k := range []string{"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "IMDS_ENDPOINT", "AZURE_FEDERATED_TOKEN_FILE"} {
		t.Setenv(k, "")
	}
	t.Setenv("PATH", t.TempDir())
	clk := clock.NewVirtual(epoch, true)
	api, srv := newFakeAPI(t, clk, nil)
	c, logs := testClient(t, srv.URL, clk, func(cfg *Config) { cfg.Auth = EntraAuth{Method: Auto} })
	res := c.Check(t.Context())
	if res.TokenOK || !errors.Is(res.Err, ErrAuth) {
		t.Fatalf("TokenOK=%v err=%v, want an auth failure", res.TokenOK, res.Err)
	}
	msg := res.Err.Error()
	for _, want := range []string{"managed-identity: managed identity: no Azure instance metadata endpoint answered at " + closed, "azure-cli:", "executable not found"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg+logs.String(), "169.254.169.254") || len(api.log()) != 0 {
		t.Errorf("the metadata address was used or the API called without a token:\n%s", msg)
	}
}

// A certificate prints its file, thumbprint and expiry, never its key.
func TestCertificateNeverPrintsKey(t *testing.T) {
	c := &Certificate{path: "client.pem"}
	if s := c.String(); s != "Certificate{}" {
		t.Errorf("empty certificate prints %q", s)
	}
	mi := EntraAuth{Method: ManagedIdentity, ManagedIdentityClientID: "ua-1"}
	if got := mi.Kind(); got != "entra managed identity (user-assigned, client ID ua-1)" {
		t.Errorf("Kind = %q", got)
	}
	unknown := EntraAuth{Method: EntraMethod("kerberos")}
	if err := unknown.validate(); err == nil || !strings.Contains(err.Error(), "unknown sign-in method") {
		t.Errorf("validate of an unknown method: %v", err)
	}
	bad := EntraAuth{Method: Auto, Chain: []EntraMethod{AzureCLI, "token"}}
	if err := bad.validate(); err == nil || !strings.Contains(err.Error(), "in the chain") {
		t.Errorf("validate of a bad chain: %v", err)
	}
}
