package streaming

import (
	"fmt"
	"os"
	"strings"

	"github.com/mcasload/mcasload/mcas"
)

// Environment variables a storage secret is read from; secrets never come from a command line,
// where ps and shell history would show them.
const (
	EnvConnectionString = "MCAS_STREAM_CONNECTION_STRING"
	EnvSAS              = "MCAS_STREAM_SAS"
	// EnvAzureConnectionString is the Azure CLI's and SDKs' own variable, read when ours is unset.
	EnvAzureConnectionString = "AZURE_STORAGE_CONNECTION_STRING"
)

// SecretSources says where a command may find a storage secret: files named by flags, then the
// environment.
type SecretSources struct {
	ConnectionStringFile string
	SASFile              string
	Getenv               func(string) string // nil: os.Getenv
}

// LoadSecret finds the storage secret: a connection string or a SAS token, from a file or the
// environment. found is false when none is given, and the caller signs in with Entra ID
// (Credential.Token) instead. Two secrets at once are refused rather than one silently chosen.
func LoadSecret(src SecretSources) (c Credential, found bool, err error) {
	getenv := src.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	type source struct{ name, value string }
	var cs, sas []source
	if f := src.ConnectionStringFile; f != "" {
		v, err := readSecretFile(f, "connection string")
		if err != nil {
			return c, false, err
		}
		cs = append(cs, source{f, v})
	}
	if f := src.SASFile; f != "" {
		v, err := readSecretFile(f, "SAS token")
		if err != nil {
			return c, false, err
		}
		sas = append(sas, source{f, v})
	}
	if v := getenv(EnvConnectionString); v != "" {
		cs = append(cs, source{EnvConnectionString, v})
	} else if v := getenv(EnvAzureConnectionString); v != "" && src.ConnectionStringFile == "" {
		cs = append(cs, source{EnvAzureConnectionString, v})
	}
	if v := getenv(EnvSAS); v != "" {
		sas = append(sas, source{EnvSAS, v})
	}
	all := append(cs, sas...)
	switch len(all) {
	case 0:
		return c, false, nil
	case 1:
	default:
		names := make([]string, len(all))
		for i, s := range all {
			names[i] = s.name
		}
		return c, false, fmt.Errorf("storage credential: %s are all set: give one", strings.Join(names, " and "))
	}
	if len(cs) == 1 {
		return Credential{ConnectionString: mcas.NewSecret(cs[0].value)}, true, nil
	}
	return Credential{SAS: mcas.NewSecret(sas[0].value)}, true, nil
}

// readSecretFile reads a one-line secret; the error names the file, never its content.
func readSecretFile(path, what string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read the storage %s: %w", what, err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("read the storage %s: %s is empty", what, path)
	}
	return v, nil
}
