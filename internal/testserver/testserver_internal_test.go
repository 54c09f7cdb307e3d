package testserver

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestInstallScriptPins keeps the versions the install script installs and the ones this package
// looks for in step: a bump in one place only would make every server test skip or fail.
func TestInstallScriptPins(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", ".ci", "install-test-servers"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"AZURITE_VERSION":   AzuriteVersion,
		"VERSITYGW_VERSION": VersityGWVersion,
		"RSYSLOG_VERSION":   RsyslogVersion,
		"HYPARQUET_VERSION": HyparquetVersion,
	} {
		m := regexp.MustCompile(`(?m)^` + name + `=(\S+)$`).FindSubmatch(script)
		if m == nil || string(m[1]) != want {
			t.Errorf("install script sets %s to %q, package expects %q", name, m, want)
		}
	}
	checkNpmPin(t, "azurite", "azurite", AzuriteVersion)
	checkNpmPin(t, "hyparquet", "hyparquet", HyparquetVersion)
}

// checkNpmPin checks that .ci/<folder>'s package.json pins pkg exactly at want and its lock
// locks that version.
func checkNpmPin(t *testing.T, folder, pkg, want string) {
	t.Helper()
	var manifest struct{ Dependencies map[string]string }
	b, err := os.ReadFile(filepath.Join("..", "..", ".ci", folder, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &manifest); err != nil {
		t.Fatal(err)
	}
	if got := manifest.Dependencies[pkg]; got != want {
		t.Errorf(".ci/%s/package.json pins %s %q, want exactly %q", folder, pkg, got, want)
	}
	var lock struct {
		Packages map[string]struct{ Version string } `json:"packages"`
	}
	b, err = os.ReadFile(filepath.Join("..", "..", ".ci", folder, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatal(err)
	}
	if got := lock.Packages["node_modules/"+pkg].Version; got != want {
		t.Errorf(".ci/%s/package-lock.json locks %s %q, want %q", folder, pkg, got, want)
	}
}

func TestServersRequired(t *testing.T) {
	for _, tc := range []struct {
		ci, require string
		want        bool
	}{
		{"", "", false},
		{"true", "", true},
		{"1", "", true},
		{"false", "", false},
		{"0", "", false},
		{"", "1", true},
		{"false", "1", true},
		{"", "0", false},
	} {
		t.Run(fmt.Sprintf("CI=%q,REQUIRE=%q", tc.ci, tc.require), func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv("MCASLOAD_REQUIRE_SERVERS", tc.require)
			if got := serversRequired(); got != tc.want {
				t.Errorf("serversRequired() = %v, want %v", got, tc.want)
			}
		})
	}
}

// outcomeTB records whether a helper skipped or failed, instead of ending the test.
type outcomeTB struct {
	testing.TB
	skipped, failed string
}

func (o *outcomeTB) Helper()           {}
func (o *outcomeTB) Skip(args ...any)  { o.skipped = fmt.Sprint(args...) }
func (o *outcomeTB) Fatal(args ...any) { o.failed = fmt.Sprint(args...) }

// TestMissingServer: a server that is not installed fails the test in CI and skips it elsewhere,
// and either way the message says how to install it.
func TestMissingServer(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("MCASLOAD_TEST_SERVERS", dir)
	notExecutable := filepath.Join(dir, "versitygw-"+VersityGWVersion, "versitygw")
	if err := os.MkdirAll(filepath.Dir(notExecutable), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(notExecutable, []byte("half a download"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		ci       string
		rel      []string
		wantFail bool
	}{
		{"absent locally", "", []string{"azurite-" + AzuriteVersion, "node_modules", ".bin", "azurite-blob"}, false},
		{"absent in CI", "true", []string{"azurite-" + AzuriteVersion, "node_modules", ".bin", "azurite-blob"}, true},
		{"not executable in CI", "true", []string{"versitygw-" + VersityGWVersion, "versitygw"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CI", tc.ci)
			t.Setenv("MCASLOAD_REQUIRE_SERVERS", "")
			o := &outcomeTB{TB: t}
			if got := cachedBinary(o, "server", tc.rel...); got != "" {
				t.Errorf("cachedBinary returned %q for a missing server", got)
			}
			msg := o.skipped
			if tc.wantFail {
				msg = o.failed
				if o.skipped != "" {
					t.Errorf("skipped in CI: %s", o.skipped)
				}
			} else if o.failed != "" {
				t.Errorf("failed locally: %s", o.failed)
			}
			if !strings.Contains(msg, "make servers") || !strings.Contains(msg, filepath.Join(tc.rel...)) {
				t.Errorf("message %q does not name the missing file and `make servers`", msg)
			}
		})
	}
}
