package mcas

import (
	"bytes"
	"crypto"
	"crypto/sha1"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Certificate is an application's client certificate with its private key, loaded by
// LoadCertificate. Printing it shows the file, thumbprint and validity, never the key.
type Certificate struct {
	path  string
	chain []*x509.Certificate // the certificate matching key first
	key   crypto.PrivateKey
}

// LoadCertificate reads a client certificate and its private key from a PEM file (certificate
// and unencrypted private key) or a PFX/PKCS#12 file (password may be empty). Every error is
// ErrAuth and says what to do; none shows the password or the key.
func LoadCertificate(path string, password Secret) (*Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, authErrorf("read client certificate %s: %w", path, err)
	}
	isPEM := bytes.Contains(data, []byte("-----BEGIN"))
	var pw []byte
	if !isPEM {
		pw = []byte(password.Reveal())
	}
	certs, key, err := azidentity.ParseCertificates(data, pw)
	if err != nil {
		return nil, certificateError(path, isPEM, !password.Empty(), err)
	}
	// Microsoft's library signs with the key and names the first certificate: put the key's
	// own certificate first whatever the file's order.
	for i, c := range certs {
		if publicKeyMatches(c, key) {
			certs[0], certs[i] = certs[i], certs[0]
			return &Certificate{path: path, chain: certs, key: key}, nil
		}
	}
	return nil, authErrorf("read client certificate %s: the private key belongs to none of its %d certificate(s): put the certificate and its own key in one file", path, len(certs))
}

// certificateError explains a file azidentity could not parse.
func certificateError(path string, isPEM, hasPassword bool, err error) error {
	msg := err.Error()
	switch {
	case isPEM && strings.Contains(msg, "private key"):
		return authErrorf("read client certificate %s: %v: the PEM file needs the certificate and its private key, unencrypted (PKCS#8 or PKCS#1); protect it with file permissions, or use a PFX file with a password", path, err)
	case isPEM:
		return authErrorf("read client certificate %s: %v: want PEM blocks CERTIFICATE and PRIVATE KEY", path, err)
	case strings.Contains(msg, "password"):
		if !hasPassword {
			return newAuthError(kindErrorf(ErrPFXPassword, "read client certificate %s: the PFX file is protected by a password, and none was given", path))
		}
		return newAuthError(kindErrorf(ErrPFXPassword, "read client certificate %s: wrong password for the PFX file", path))
	case strings.Contains(msg, "unknown") || strings.Contains(msg, "algorithm") || strings.Contains(msg, "OID"):
		return authErrorf("read client certificate %s: %v: the PFX file uses an encryption Microsoft's Go library cannot read (OpenSSL 3 and recent Windows use AES by default): re-export it with `openssl pkcs12 -export -legacy …` or convert it to PEM", path, err)
	}
	return authErrorf("read client certificate %s: %v: want a PEM file (certificate and private key) or a PFX/PKCS#12 file", path, err)
}

// publicKeyMatches reports whether key is the private key of cert.
func publicKeyMatches(cert *x509.Certificate, key crypto.PrivateKey) bool {
	k, ok := key.(interface{ Public() crypto.PublicKey })
	if !ok {
		return false
	}
	pub, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool })
	return ok && pub.Equal(cert.PublicKey)
}

// Path is the file the certificate came from.
func (c *Certificate) Path() string { return c.path }

// Leaf is the certificate whose key signs the assertions.
func (c *Certificate) Leaf() *x509.Certificate { return c.chain[0] }

// Thumbprint is the SHA-1 thumbprint in upper-case hex, as the Azure portal lists certificates.
func (c Certificate) Thumbprint() string {
	sum := sha1.Sum(c.chain[0].Raw) // #nosec: the portal's identifier of a certificate, not a security check
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// NotAfter is when the certificate expires.
func (c Certificate) NotAfter() time.Time { return c.chain[0].NotAfter }

// checkValid refuses a certificate outside its validity at now: Entra ID would refuse it with a
// less helpful message.
func (c *Certificate) checkValid(now time.Time) error {
	leaf := c.chain[0]
	switch {
	case now.After(leaf.NotAfter):
		return newAuthError(kindErrorf(ErrCertificateExpired, "client certificate %s (thumbprint %s) expired on %s: create a new one and upload it to the app registration (Certificates & secrets)",
			c.path, c.Thumbprint(), leaf.NotAfter.UTC().Format(time.RFC3339)))
	case now.Before(leaf.NotBefore):
		return authErrorf("client certificate %s (thumbprint %s) is not valid before %s: check this host's clock",
			c.path, c.Thumbprint(), leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// String shows the file, thumbprint and expiry.
func (c Certificate) String() string {
	if len(c.chain) == 0 {
		return "Certificate{}"
	}
	return fmt.Sprintf("Certificate{Path:%s Thumbprint:%s NotAfter:%s Key:%s}", c.path, c.Thumbprint(), c.NotAfter().UTC().Format(time.RFC3339), redacted)
}

// GoString keeps %#v from printing the key.
func (c Certificate) GoString() string { return c.String() }

// Format prints String for every verb.
func (c Certificate) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(c.String())) }

// LogValue keeps the key out of slog output.
func (c Certificate) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON keeps the key out of JSON dumps of configs.
func (c Certificate) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }
