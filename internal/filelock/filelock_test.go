package filelock

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

const childEnv = "FILELOCK_TEST_CHILD"

// TestMain lets the test binary act as a second process that holds the lock until its stdin
// closes.
func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		l, _, err := Take(path, Holder{PID: os.Getpid(), Host: "child", Start: time.Now(), Command: "mcasload scan (child)"})
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("ready")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		if os.Getenv(childEnv+"_DIE") == "" {
			_ = l.Release()
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func me(cmd string) Holder {
	return Holder{PID: os.Getpid(), Host: "here", Start: time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC), Command: cmd}
}

func TestSecondTakerInThisProcessFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcasload.lock")
	first, stale, err := Take(path, me("mcasload load first.ndjson"))
	if err != nil || stale != nil {
		t.Fatalf("Take: %v (stale %v)", err, stale)
	}
	_, _, err = Take(path, me("mcasload load second.ndjson"))
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) || le.Holder.Command != "mcasload load first.ndjson" {
		t.Fatalf("second Take: %v, want a LockedError naming the first holder", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("error %q does not name the holder's pid", err)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left after Release: %v", err)
	}
	again, _, err := Take(path, me("mcasload load third.ndjson"))
	if err != nil {
		t.Fatalf("Take after Release: %v", err)
	}
	if err := again.Release(); err != nil {
		t.Fatal(err)
	}
	if err := (*Lock)(nil).Release(); err != nil {
		t.Errorf("Release of no lock: %v", err)
	}
}

func TestStaleFilesAreTakenOver(t *testing.T) {
	dead := Holder{PID: 2147483000, Host: "old", Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Command: "mcasload scan (killed)"}
	b, _ := json.Marshal(dead)
	for _, tt := range []struct {
		name    string
		content []byte
		stale   bool
	}{
		{"older mcasload: JSON from byte 0", b, true},
		{"this format: JSON past the lock byte", append([]byte{0}, b...), true},
		{"empty", nil, false},
		{"garbage", []byte("not json"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "mcasload.lock")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			l, stale, err := Take(path, me("mcasload load"))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Release()
			if got := stale != nil; got != tt.stale {
				t.Fatalf("stale = %v, want %v", stale, tt.stale)
			}
			if tt.stale && *stale != dead {
				t.Errorf("stale holder %+v, want %+v", *stale, dead)
			}
			if h, err := ReadHolder(path); err != nil || h.Command != "mcasload load" {
				t.Errorf("lock file now names %+v (%v), want this process", h, err)
			}
		})
	}
}

// holdInChild starts this test binary as a second process holding the lock on path.
func holdInChild(t *testing.T, path string, die bool) (stop func(), pid int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	if die {
		cmd.Env = append(cmd.Env, childEnv+"_DIE=1")
	}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, _ := bufio.NewReader(stdout).ReadString('\n'); line != "ready\n" {
		t.Fatalf("child said %q", line)
	}
	return func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("child: %v", err)
		}
	}, cmd.Process.Pid
}

func TestAnotherProcessHoldsAndDies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcasload.lock")
	stop, pid := holdInChild(t, path, false)
	_, _, err := Take(path, me("mcasload load"))
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.PID != pid || le.Holder.Command != "mcasload scan (child)" {
		t.Fatalf("Take while another process holds it: %v, want one naming pid %d", err, pid)
	}
	stop()
	l, stale, err := Take(path, me("mcasload load"))
	if err != nil || stale != nil {
		t.Fatalf("Take after a clean release: %v (stale %v)", err, stale)
	}
	l.Release()

	// A holder that exits without releasing leaves its file; the OS dropped its lock.
	stop, pid = holdInChild(t, path, true)
	stop()
	l, stale, err = Take(path, me("mcasload load"))
	if err != nil || stale == nil || stale.PID != pid {
		t.Fatalf("Take after the holder died: %v, stale %+v, want pid %d", err, stale, pid)
	}
	l.Release()
}

// TestCrossBuilds builds and vets this package for macOS and Windows without cgo: the lock must
// not tie the warehouse to Linux.
func TestCrossBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the package for two systems; skipped in -short")
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	for _, goos := range []string{"darwin", "windows"} {
		for _, tool := range [][]string{{"build", "-o", os.DevNull}, {"vet"}} {
			t.Run(goos+"/"+tool[0], func(t *testing.T) {
				cmd := exec.Command(goBin, append(tool, ".")...)
				cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("GOOS=%s go %s: %v\n%s", goos, tool[0], err, out)
				}
			})
		}
	}
}
