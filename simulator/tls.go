package simulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"time"
)

// TestCA is a certificate authority made up for one simulator: Microsoft's sign-in library only
// talks to an HTTPS authority, so the simulator's authority needs a certificate that a test (or
// an operator trying Entra sign-in against `mcasload sim`) can trust through SSL_CERT_FILE or
// --ca-file without trusting anything else. Its key lives only in memory.
type TestCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

// NewTestCA creates a CA valid from an hour ago for ten years.
func NewTestCA() (*TestCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "mcasload simulator test CA", Organization: []string{"mcasload"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return &TestCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// Certificate is the CA certificate.
func (ca *TestCA) Certificate() *x509.Certificate { return ca.cert }

// PEM is the CA certificate in PEM form, what SSL_CERT_FILE or --ca-file should hold.
func (ca *TestCA) PEM() []byte { return append([]byte(nil), ca.pem...) }

// WriteFile writes the CA certificate to path as PEM.
func (ca *TestCA) WriteFile(path string) error {
	if err := os.WriteFile(path, ca.pem, 0o644); err != nil {
		return fmt.Errorf("write CA certificate: %w", err)
	}
	return nil
}

// Pool is a certificate pool holding only this CA.
func (ca *TestCA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// ServerConfig issues a server certificate for the loopback names (127.0.0.1, ::1, localhost)
// and returns a TLS config serving it.
func (ca *TestCA) ServerConfig() (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate server key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, fmt.Errorf("create server certificate: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{der, ca.cert.Raw}, PrivateKey: key}},
	}, nil
}

// Client returns an HTTP client that trusts only this CA.
func (ca *TestCA) Client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: ca.Pool(), MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr}
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic("simulator: read random: " + err.Error()) // crypto/rand never fails on supported systems
	}
	return n
}

// NewTLSServer starts a simulator over HTTPS on 127.0.0.1 with a random port and a certificate
// from a new TestCA (Server.CA), so that the authority can be used by Microsoft's sign-in library,
// which refuses plain HTTP. It panics if it cannot listen, as httptest.NewTLSServer does.
func NewTLSServer(cfg Config) *Server {
	h := NewHandler(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic("simulator: listen on loopback: " + err.Error())
	}
	ca, err := NewTestCA()
	if err != nil {
		panic("simulator: " + err.Error())
	}
	s, err := ServeTLS(ln, h, ca)
	if err != nil {
		panic("simulator: " + err.Error())
	}
	return s
}

// ServeTLS serves h over HTTPS on ln with a certificate issued by ca.
func ServeTLS(ln net.Listener, h *Handler, ca *TestCA) (*Server, error) {
	cfg, err := ca.ServerConfig()
	if err != nil {
		return nil, err
	}
	s := Serve(tls.NewListener(ln, cfg), h)
	s.URL = "https://" + ln.Addr().String()
	s.CA = ca
	return s, nil
}

// IdentityEndpoint is the managed identity endpoint in App Service form, for IDENTITY_ENDPOINT
// (with IDENTITY_HEADER set to Handler.IdentityHeader()).
func (s *Server) IdentityEndpoint() string { return s.URL + ManagedIdentityPath }
