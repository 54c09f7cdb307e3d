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
		childReport(t, "TestArenasChild", "CMALLOC_CHILD_LIMIT="+strconv.Itoa(limit), "arenas %d %d", &before, &after)
		return before, after
	}
	b0, a0 := count(0)
	b2, a2 := count(2)
	t.Logf("8 threads: %d → %d arenas without a limit, %d → %d with LimitArenas(2)", b0, a0, b2, a2)
	if a0 <= max(b0, 2) {
		t.Fatalf("without a limit 8 threads made no arena (%d → %d); the test cannot tell a limit from none", b0, a0)
	}
	// One arena of slack: make test once saw 4 → 5 under load (an arena made by a thread that
	// was already being set up when the limit came, most likely); 8 threads without the limit
	// make one each, so a limit that does not hold still fails.
	if a2 > max(b2, 2)+1 {
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

// TestFixMmapThreshold: after a large block is freed, glibc's moving threshold serves the next
// large-ish block from an arena (nothing mapped on its own); with the threshold fixed it stays a
// mapping of its own, returned when freed. Each case runs in a child process, since the
// threshold moves once per process.
func TestFixMmapThreshold(t *testing.T) {
	if mappedAfterLargeFree(0, 0) < 0 {
		t.Skip("not glibc")
	}
	mapped := func(fix int) (n int) {
		t.Helper()
		childReport(t, "TestMmapChild", "CMALLOC_CHILD_MMAP="+strconv.Itoa(fix), "mapped %d", &n)
		return n
	}
	const small = 512 << 10
	moving, fixed := mapped(-1), mapped(128<<10)
	t.Logf("a %d-byte block after a 4 MiB one was freed: %d bytes mapped with glibc's moving threshold, %d with FixMmapThreshold(128 KiB)", small, moving, fixed)
	if moving >= small {
		t.Fatalf("glibc's default mapped the block on its own (%d bytes): the test cannot tell a fixed threshold from none", moving)
	}
	if fixed < small {
		t.Errorf("with the threshold fixed at 128 KiB the block came from an arena (%d bytes mapped)", fixed)
	}
}

// TestMmapChild is TestFixMmapThreshold's child process.
func TestMmapChild(t *testing.T) {
	v := os.Getenv("CMALLOC_CHILD_MMAP")
	if v == "" {
		t.Skip("only as TestFixMmapThreshold's child")
	}
	if n, _ := strconv.Atoi(v); n > 0 {
		if err := FixMmapThreshold(n); err != nil {
			t.Fatal(err)
		}
	}
	fmt.Printf("mapped %d\n", mappedAfterLargeFree(4<<20, 512<<10))
}

// childReport runs the test named child in a child process with env added (an allocator setting
// holds for the whole process) and scans the first line of its output that matches format into
// args.
func childReport(t *testing.T, child, env, format string, args ...any) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+child+"$")
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if _, err := fmt.Sscanf(line, format, args...); err == nil {
			return
		}
	}
	t.Fatalf("%s did not report %q:\n%s", child, format, out)
}
