package testserver

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// The development account every Azurite serves (Azurite's README, "Default Storage Account");
// the key is public, so it is no secret.
const (
	AzuriteAccountName = "devstoreaccount1"
	AzuriteAccountKey  = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite is a running Azurite Blob service (Azure Storage emulator) on loopback.
type Azurite struct {
	// BlobEndpoint is the account's service URL, path style:
	// http://127.0.0.1:PORT/devstoreaccount1.
	BlobEndpoint string
	AccountName  string
	AccountKey   string
	// Dir is Azurite's workspace (blob metadata and extents), inside the test's temp dir.
	Dir string

	proc *process
}

// azuriteListening is the line Azurite prints once it accepts requests; with --blobPort 0 it is
// also where the port it got appears.
var azuriteListening = regexp.MustCompile(`Blob service successfully listens on (http://127\.0\.0\.1:\d+)`)

// StartAzurite starts Azurite's Blob service on a free loopback port with its workspace in a temp
// dir, and stops it when the test ends. Telemetry is off (--disableTelemetry). The API version
// check is off (--skipApiVersionCheck) because the pinned azblob sends a newer x-ms-version than
// Azurite 3.35.0 knows, which Azurite otherwise answers with 400 InvalidHeaderValue.
func StartAzurite(t testing.TB) *Azurite {
	t.Helper()
	bin := cachedBinary(t, "Azurite "+AzuriteVersion,
		"azurite-"+AzuriteVersion, "node_modules", ".bin", "azurite-blob")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatalf("start azurite: %v", err)
	}
	p := startProcess(t, "azurite", dir, childEnv(), bin,
		"--blobHost", "127.0.0.1",
		"--blobPort", "0",
		"--location", data,
		"--disableTelemetry",
		"--skipApiVersionCheck",
	)
	var base string
	err := p.waitReady(func() (bool, error) {
		log, err := os.ReadFile(p.logPath)
		if err != nil {
			return false, err
		}
		m := azuriteListening.FindSubmatch(log)
		if m == nil {
			return false, nil
		}
		base = string(m[1])
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p.logReady(t, AzuriteVersion, base)
	return &Azurite{
		BlobEndpoint: base + "/" + AzuriteAccountName,
		AccountName:  AzuriteAccountName,
		AccountKey:   AzuriteAccountKey,
		Dir:          data,
		proc:         p,
	}
}

// ConnectionString is the account's connection string with the blob endpoint only, the form the
// Azure SDKs' NewClientFromConnectionString accept.
func (a *Azurite) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
		a.AccountName, a.AccountKey, a.BlobEndpoint)
}

// Stop stops Azurite before the test ends, to test what a client does when storage is gone.
func (a *Azurite) Stop(t testing.TB) {
	t.Helper()
	a.proc.stop(t)
}
