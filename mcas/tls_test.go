package mcas

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/testkit"
)

// newTLSFake serves a fakeAPI over TLS with httptest's self-signed certificate and writes that
// certificate to a PEM file for CAFile.
func newTLSFake(t *testing.T, clk clock.Clock) (*fakeAPI, *httptest.Server, string) {
	t.Helper()
	f := &fakeAPI{t: t, clock: clk, ceiling: 5000, records: genRecords(2, epoch.UnixMilli(), nil)}
	srv, caFile := testkit.TLSServer(t, f)
	return f, srv, caFile
}

func TestTLSIsVerified(t *testing.T) {
	clk := clock.NewVirtual(epoch, true)
	api, srv, caFile := newTLSFake(t, clk)

	c, _ := testClient(t, srv.URL, clk, nil)
	_, err := c.List(t.Context(), Query{}, 0)
	if err == nil {
		t.Fatal("List trusted a self-signed certificate without a CA file")
	}
	if !errors.Is(err, ErrUntrustedCertificate) || !strings.Contains(err.Error(), "certificate is not trusted") {
		t.Errorf("error %q is not ErrUntrustedCertificate saying so", err)
	}
	if n := len(api.log()); n != 0 {
		t.Errorf("the server handled %d requests over an unverified connection", n)
	}
	if s := c.Stats(); s.Retries != 0 {
		t.Errorf("%d retries of a certificate failure, want none", s.Retries)
	}

	c, _ = testClient(t, srv.URL, clk, func(cfg *Config) { cfg.CAFile = caFile })
	p, err := c.List(t.Context(), Query{}, 0)
	if err != nil {
		t.Fatalf("List with the CA file: %v", err)
	}
	if len(p.Records) != 2 {
		t.Fatalf("got %d records, want 2", len(p.Records))
	}
}

func TestCAFileErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{bad: "no PEM certificate", filepath.Join(t.TempDir(), "missing.pem"): "read CA file"} {
		_, err := NewClient(Config{URL: "https://contoso.example", Auth: TokenAuth{Token: NewSecret(goodToken)}, CAFile: file})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CAFile %s: error %v, want %q", filepath.Base(file), err, want)
		}
	}
}

func TestProxyIsHonoured(t *testing.T) {
	clk := clock.NewVirtual(epoch, true)
	api, srv, caFile := newTLSFake(t, clk)
	proxy := &testkit.ConnectProxy{}
	psrv := httptest.NewServer(proxy)
	t.Cleanup(psrv.Close)
	proxyURL, _ := url.Parse(psrv.URL)
	proxyURL.User = url.UserPassword("proxyuser", "proxy-pass-5ecret")
	c, _ := testClient(t, srv.URL, clk, func(cfg *Config) {
		cfg.CAFile = caFile
		cfg.Proxy = http.ProxyURL(proxyURL)
	})
	p, err := c.List(t.Context(), Query{}, 0)
	if err != nil {
		t.Fatalf("List through the proxy: %v", err)
	}
	if len(p.Records) != 2 || len(api.log()) != 1 {
		t.Fatalf("got %d records and %d server requests", len(p.Records), len(api.log()))
	}
	if proxy.Tunnels.Load() != 1 {
		t.Fatalf("proxy opened %d tunnels, want 1", proxy.Tunnels.Load())
	}
	if h := proxy.Targets(); h[0] != srv.Listener.Addr().String() {
		t.Errorf("proxy tunnelled to %s, want %s", h[0], srv.Listener.Addr())
	}
	if a := proxy.LastAuth(); !strings.HasPrefix(a, "Basic ") {
		t.Errorf("proxy credentials not sent: %q", a)
	}

	// A dead proxy: the error names the failure but not the proxy password.
	psrv.Close()
	c, _ = testClient(t, srv.URL, clk, func(cfg *Config) {
		cfg.CAFile = caFile
		cfg.Proxy = http.ProxyURL(proxyURL)
		cfg.Retry.MaxAttempts = 1
	})
	_, err = c.List(t.Context(), Query{}, 0)
	if err == nil {
		t.Fatal("List through a closed proxy succeeded")
	}
	if strings.Contains(err.Error(), "proxy-pass-5ecret") {
		t.Errorf("error shows the proxy password: %v", err)
	}
}
