package streaming

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/mcasload/mcasload/mcas"
)

func TestLoadSecret(t *testing.T) {
	dir := t.TempDir()
	csFile := filepath.Join(dir, "cs")
	sasFile := filepath.Join(dir, "sas")
	empty := filepath.Join(dir, "empty")
	os.WriteFile(csFile, []byte("AccountName=a;AccountKey=k1secret\n"), 0o600)
	os.WriteFile(sasFile, []byte(" sv=2025&sig=abcdef \n"), 0o600)
	os.WriteFile(empty, []byte("\n"), 0o600)
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	tests := []struct {
		name    string
		src     SecretSources
		kind    string
		errWant string
	}{
		{"nothing", SecretSources{Getenv: env()}, "none", ""},
		{"connection string file", SecretSources{ConnectionStringFile: csFile, Getenv: env()}, "connection string", ""},
		{"sas file", SecretSources{SASFile: sasFile, Getenv: env()}, "SAS token", ""},
		{"our env", SecretSources{Getenv: env(EnvConnectionString, "x=1")}, "connection string", ""},
		{"azure env", SecretSources{Getenv: env(EnvAzureConnectionString, "x=1")}, "connection string", ""},
		{"sas env", SecretSources{Getenv: env(EnvSAS, "sig=1")}, "SAS token", ""},
		{"ours shadows azure's", SecretSources{Getenv: env(EnvConnectionString, "a", EnvAzureConnectionString, "b")}, "connection string", ""},
		{"file beats azure's", SecretSources{ConnectionStringFile: csFile, Getenv: env(EnvAzureConnectionString, "b")}, "connection string", ""},
		{"two", SecretSources{SASFile: sasFile, Getenv: env(EnvConnectionString, "a")}, "", "give one"},
		{"missing file", SecretSources{SASFile: filepath.Join(dir, "nope"), Getenv: env()}, "", "read the storage SAS token"},
		{"empty file", SecretSources{ConnectionStringFile: empty, Getenv: env()}, "", "is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, found, err := LoadSecret(tt.src)
			if tt.errWant != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errWant) || strings.Contains(err.Error(), "k1secret") {
					t.Fatalf("err %v, want %q", err, tt.errWant)
				}
				return
			}
			if err != nil || found != (tt.kind != "none") || c.Kind() != tt.kind {
				t.Fatalf("%+v found %v err %v, want %s", c, found, err, tt.kind)
			}
		})
	}
	c, _, _ := LoadSecret(SecretSources{SASFile: sasFile, Getenv: env()})
	if c.SAS.Reveal() != "sv=2025&sig=abcdef" {
		t.Errorf("SAS read as %q, want it trimmed", c.SAS.Reveal())
	}
}

type fakeToken struct{}

func (fakeToken) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{}, errors.New("unused")
}

// TestOpenChecks: Open refuses what would leak or mislead, before any request.
func TestOpenChecks(t *testing.T) {
	const key = "c2VjcmV0LWtleS12YWx1ZQ=="
	cs := func(endpoint string) Credential {
		return Credential{ConnectionString: mcas.NewSecret("DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=" + key + ";BlobEndpoint=" + endpoint + ";")}
	}
	tests := []struct {
		name string
		cfg  Config
		want string // "" for success
	}{
		{"azurite", Config{Credential: cs("http://127.0.0.1:10000/devstoreaccount1")}, ""},
		{"azurite named", Config{AccountURL: "http://127.0.0.1:10000/devstoreaccount1/", Credential: cs("http://127.0.0.1:10000/devstoreaccount1")}, ""},
		{"endpoints differ", Config{AccountURL: "https://other.blob.core.windows.net", Credential: cs("http://127.0.0.1:10000/devstoreaccount1")}, "differ"},
		{"http remote", Config{Credential: cs("http://storage.example.com/acct")}, "unencrypted"},
		{"sas", Config{AccountURL: "https://acct.blob.core.windows.net", Credential: Credential{SAS: mcas.NewSecret("?sv=1&sig=zzzzzz")}}, ""},
		{"sas in url", Config{AccountURL: "https://acct.blob.core.windows.net/?sig=zzzzzz", Credential: Credential{SAS: mcas.NewSecret("sig=zzzzzz")}}, "carries a query"},
		{"sas no url", Config{Credential: Credential{SAS: mcas.NewSecret("sig=zzzzzz")}}, "not a URL"},
		{"token http", Config{AccountURL: "http://127.0.0.1:10000/devstoreaccount1", Credential: Credential{Token: fakeToken{}}}, "unencrypted"},
		{"token", Config{AccountURL: "https://acct.blob.core.windows.net", Credential: Credential{Token: fakeToken{}}}, ""},
		{"none", Config{AccountURL: "https://acct.blob.core.windows.net"}, "exactly one credential"},
		{"two", Config{AccountURL: "https://acct.blob.core.windows.net", Credential: Credential{SAS: mcas.NewSecret("sig=zzzzzz"), Token: fakeToken{}}}, "exactly one credential"},
		{"bad connection string", Config{Credential: Credential{ConnectionString: mcas.NewSecret("AccountKey=" + key)}}, "not usable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if s.Container() != DefaultContainer || strings.Contains(s.Endpoint(), "?") || strings.HasSuffix(s.Endpoint(), "/") {
					t.Errorf("container %s endpoint %s", s.Container(), s.Endpoint())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), "zzzzzz") {
				t.Errorf("error leaks a secret: %v", err)
			}
		})
	}
}
