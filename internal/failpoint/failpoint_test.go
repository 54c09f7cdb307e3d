package failpoint

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		name string
		n    int
	}{
		{"", "", 1},
		{"commit", "commit", 1},
		{"commit@3", "commit", 3},
		{"commit@x", "commit", 1},
		{"commit@0", "commit", 1},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			name, n := parse(tt.in)
			if name != tt.name || n != tt.n {
				t.Errorf("parse(%q) = %q, %d; want %q, %d", tt.in, name, n, tt.name, tt.n)
			}
		})
	}
}

// TestHitKills re-executes the test binary with a failpoint armed for its second hit and checks
// that the child died by SIGKILL after writing the marker, having passed the first hit.
func TestHitKills(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") == "1" {
		Hit("other")
		Hit("point")
		os.Stdout.WriteString("after first\n")
		Hit("point")
		os.Stdout.WriteString("after second\n")
		os.Exit(0)
	}
	marker := filepath.Join(t.TempDir(), "marker")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHitKills$")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=1", EnvName+"=point@2", EnvMarker+"="+marker)
	out, err := cmd.Output()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != -1 {
		t.Fatalf("child did not die by a signal: err=%v out=%q", err, out)
	}
	if string(out) != "after first\n" {
		t.Errorf("child output = %q, want only the line before the second hit", out)
	}
	b, err := os.ReadFile(marker)
	if err != nil || string(b) != "point\n" {
		t.Errorf("marker = %q, %v; want %q", b, err, "point\n")
	}
}

func TestHitUnarmedIsNoop(t *testing.T) {
	if os.Getenv(EnvName) != "" {
		t.Skip("a failpoint is armed in this environment")
	}
	Hit("duckdb-before-commit") // must return
}
