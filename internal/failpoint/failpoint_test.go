package failpoint

import (
	"context"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
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

// TestPauseWaitsForTheSignal re-executes the test binary with a point armed to pause on its
// second pass: the child writes the marker there and goes on only after SIGINT, with the
// context that StopOn watches cancelled.
func TestPauseWaitsForTheSignal(t *testing.T) {
	if os.Getenv("FAILPOINT_CHILD") == "pause" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		StopOn(ctx.Done())
		Pause("point")
		os.Stdout.WriteString("after first\n")
		Hit("point") // a pause point armed in a failpoint's place does not kill
		os.Stdout.WriteString("resumed: " + ctx.Err().Error() + "\n")
		os.Exit(0)
	}
	marker := filepath.Join(t.TempDir(), "marker")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestPauseWaitsForTheSignal$")
	cmd.Env = append(os.Environ(), "FAILPOINT_CHILD=pause", EnvPause+"=point@2", EnvMarker+"="+marker)
	var out testkit.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		if b, err := os.ReadFile(marker); err == nil && string(b) == "point\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the child never paused: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := out.String(); got != "after first\n" {
		t.Errorf("child output while paused = %q, want only the line before the second pass", got)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child after SIGINT: %v (%q)", err, out.String())
	}
	if got := out.String(); got != "after first\nresumed: context canceled\n" {
		t.Errorf("child output = %q", got)
	}
}
