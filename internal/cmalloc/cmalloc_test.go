package cmalloc

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestLimitArenas runs threads that each want an arena of their own in a child process, with
// and without the limit, and counts the arenas glibc made for them. The limit applies to new
// arenas: those the process made before it (the Go runtime's threads that called C) stay.
func TestLimitArenas(t *testing.T) {
	if arenas() < 0 {
		t.Skip("not glibc: no arenas to count")
	}
	count := func(limit int) (before, after int) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestArenasChild$")
		cmd.Env = append(os.Environ(), "CMALLOC_CHILD_LIMIT="+strconv.Itoa(limit))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if _, err := fmt.Sscanf(line, "arenas %d %d", &before, &after); err == nil {
				return before, after
			}
		}
		t.Fatalf("child did not count its arenas:\n%s", out)
		return 0, 0
	}
	b0, a0 := count(0)
	b2, a2 := count(2)
	t.Logf("8 threads: %d → %d arenas without a limit, %d → %d with LimitArenas(2)", b0, a0, b2, a2)
	if a0 <= max(b0, 2) {
		t.Fatalf("without a limit 8 threads made no arena (%d → %d); the test cannot tell a limit from none", b0, a0)
	}
	if a2 > max(b2, 2) {
		t.Errorf("with LimitArenas(2) 8 threads made new arenas: %d → %d", b2, a2)
	}
}

// TestArenasChild is TestLimitArenas's child process: it limits the arenas when told to, runs
// the threads and prints the counts before and after.
func TestArenasChild(t *testing.T) {
	v := os.Getenv("CMALLOC_CHILD_LIMIT")
	if v == "" {
		t.Skip("only as TestLimitArenas's child")
	}
	if n, _ := strconv.Atoi(v); n > 0 {
		if err := LimitArenas(n); err != nil {
			t.Fatal(err)
		}
	}
	before := arenas()
	if started := churn(8); started != 8 {
		t.Fatalf("started %d of 8 threads", started)
	}
	fmt.Printf("arenas %d %d\n", before, arenas())
}
