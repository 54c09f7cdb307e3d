// Package testserver starts the real servers that tests talk to — Azurite (Azure Blob), versitygw
// (S3) and rsyslog (syslog over TCP and TLS) — each on free loopback ports in the test's temp dir,
// stopped at t.Cleanup. Fakes share our assumptions; these servers do not, so what the storage and
// delivery code is tested against is what users run it against.
//
// The servers are installed, pinned, by .ci/install-test-servers (`make servers`, and .ci/run
// calls it). A test that needs a server that is not installed fails in CI (CI set, or
// MCASLOAD_REQUIRE_SERVERS=1) and is skipped elsewhere, with the command that installs it.
// docs/testing.md says what each server is and the quirks the smoke tests here pin.
package testserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// installHint is what a test says when a server is missing.
const installHint = "install the pinned test servers with `make servers` (runs .ci/install-test-servers)"

// serversDir is where .ci/install-test-servers puts what it installs (MCASLOAD_TEST_SERVERS, by
// default the user cache dir), so both agree without a config file.
func serversDir() (string, error) {
	if dir := os.Getenv("MCASLOAD_TEST_SERVERS"); dir != "" {
		return dir, nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find cache dir (set MCASLOAD_TEST_SERVERS): %w", err)
	}
	return filepath.Join(cache, "mcasload-test-servers"), nil
}

// serversRequired reports whether a missing server fails the test rather than skipping it: in CI,
// where .ci/run installs them, a skip would hide a broken install.
func serversRequired() bool {
	if os.Getenv("MCASLOAD_REQUIRE_SERVERS") == "1" {
		return true
	}
	switch strings.ToLower(os.Getenv("CI")) {
	case "", "0", "false", "no":
		return false
	}
	return true
}

// findInstalled returns path if it is an executable file, or fails or skips t saying what is
// missing and how to install it.
func findInstalled(t testing.TB, what, path string) string {
	t.Helper()
	info, err := os.Stat(path)
	if err == nil && !info.IsDir() && info.Mode()&0o111 != 0 {
		return path
	}
	if err == nil {
		err = fmt.Errorf("%s: not an executable file", path)
	}
	msg := fmt.Sprintf("%s not installed: %v: %s", what, err, installHint)
	if serversRequired() {
		t.Fatal(msg)
		return ""
	}
	t.Skip(msg + "; skipped because neither CI nor MCASLOAD_REQUIRE_SERVERS=1 is set")
	return ""
}

// cachedBinary locates a binary under the servers dir.
func cachedBinary(t testing.TB, what string, rel ...string) string {
	t.Helper()
	dir, err := serversDir()
	if err != nil {
		t.Fatalf("locate %s: %v", what, err)
	}
	return findInstalled(t, what, filepath.Join(append([]string{dir}, rel...)...))
}

// childEnv is the environment a server starts with: only what a process needs to run, so a
// developer's AZURITE_*, VGW_* or AWS_* settings cannot change what the tests talk to.
func childEnv(extra ...string) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, extra...)
}

// NeedTool finds the program name on PATH for a test that runs it (a shell, groff, script):
// when missing it fails the test where servers are required (CI, whose .ci/run installs it from
// the Debian package pkg) and skips it elsewhere.
func NeedTool(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s is not installed: apt-get install %s (.ci/run does)", name, pkg)
	if serversRequired() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Hyparquet returns the node_modules folder holding hyparquet and hyparquet-compressors, the
// publish tests' second Parquet reader, with the node binary that runs it; like a missing
// server, a missing install fails the test in CI (or with MCASLOAD_REQUIRE_SERVERS=1) and skips
// it elsewhere.
func Hyparquet(t testing.TB) (node, nodeModules string) {
	t.Helper()
	dir, err := serversDir()
	if err != nil {
		t.Fatalf("locate hyparquet: %v", err)
	}
	nodeModules = filepath.Join(dir, "hyparquet-"+HyparquetVersion, "node_modules")
	missing := func(err error) {
		msg := fmt.Sprintf("hyparquet %s (the second Parquet reader) not installed: %v: %s", HyparquetVersion, err, installHint)
		if serversRequired() {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipped because neither CI nor MCASLOAD_REQUIRE_SERVERS=1 is set")
	}
	for _, pkg := range []string{"hyparquet", "hyparquet-compressors"} {
		if _, err := os.Stat(filepath.Join(nodeModules, pkg, "package.json")); err != nil {
			missing(err)
			return "", ""
		}
	}
	node, err = exec.LookPath("node")
	if err != nil {
		missing(err)
		return "", ""
	}
	return node, nodeModules
}
