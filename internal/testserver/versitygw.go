package testserver

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The root credentials every versitygw started here accepts. They reach the server through its
// environment, never its command line.
const (
	VersityGWAccessKey = "mcasload-test"
	VersityGWSecretKey = "mcasload-test-secret"
	VersityGWRegion    = "us-east-1"
)

// VersityGW is a running versitygw S3 gateway with the posix backend, on loopback.
type VersityGW struct {
	// Endpoint is the S3 endpoint, http://127.0.0.1:PORT. Clients must use path-style addressing:
	// the gateway has no virtual-host domain.
	Endpoint  string
	Region    string
	AccessKey string
	SecretKey string
	// Dir is the posix backend's root: each bucket is a directory in it, each object a file.
	Dir string

	proc *process
}

// StartVersityGW starts versitygw on a free loopback port with a posix backend in a temp dir, and
// stops it when the test ends. In-process S3 clients in the test must also not reach the EC2
// metadata address: set AWS_EC2_METADATA_DISABLED=true (Env does for child processes).
func StartVersityGW(t testing.TB) *VersityGW {
	t.Helper()
	bin := cachedBinary(t, "versitygw "+VersityGWVersion, "versitygw-"+VersityGWVersion, "versitygw")
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		t.Fatalf("start versitygw: %v", err)
	}
	// The gateway cannot report a port it picked, so we pick one; another process may take it in
	// between, hence a few tries.
	var lastErr error
	for range 3 {
		port, err := freeLoopbackPort()
		if err != nil {
			t.Fatalf("start versitygw: %v", err)
		}
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		p := startProcess(t, "versitygw", dir, childEnv(
			"ROOT_ACCESS_KEY_ID="+VersityGWAccessKey,
			"ROOT_SECRET_ACCESS_KEY="+VersityGWSecretKey,
		), bin,
			"--port", addr,
			"--region", VersityGWRegion,
			"--health", "/health",
			"posix", data,
		)
		lastErr = p.waitReady(func() (bool, error) { return healthy("http://" + addr + "/health"), nil })
		if lastErr == nil {
			p.logReady(t, VersityGWVersion, addr)
			return &VersityGW{
				Endpoint:  "http://" + addr,
				Region:    VersityGWRegion,
				AccessKey: VersityGWAccessKey,
				SecretKey: VersityGWSecretKey,
				Dir:       data,
				proc:      p,
			}
		}
		p.forget()
		if !strings.Contains(p.logTail(), "address already in use") {
			break
		}
	}
	t.Fatal(lastErr)
	return nil
}

// healthy reports whether url answers 200.
func healthy(url string) bool {
	client := http.Client{Timeout: time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// Env is the environment for a child process (the real mcasload binary) that talks to this
// gateway through the AWS credential chain: static keys, the region, no shared config files
// from the developer's home, and no EC2 metadata lookups.
func (s *VersityGW) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + filepath.Join(s.Dir, "..", "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(s.Dir, "..", "no-aws-credentials"),
	}
}

// Stop stops the gateway before the test ends, to test what a client does when storage is gone.
func (s *VersityGW) Stop(t testing.TB) {
	t.Helper()
	s.proc.stop(t)
}
