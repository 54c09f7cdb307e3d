// Command mcasload loads Microsoft Defender for Cloud Apps activities into a DuckDB warehouse and
// day-partitioned Parquet, and answers questions with canned SQL investigations.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"

	"github.com/mcasload/mcasload/internal/cmalloc"
	"github.com/mcasload/mcasload/internal/failpoint"
)

func main() {
	tuneMalloc()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	failpoint.StopOn(ctx.Done()) // a paused point (signal tests) goes on once a signal came
	code := Run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// tuneMalloc bounds what the C allocator keeps resident, before DuckDB starts its threads: it
// caps the arenas at half the CPUs, at least 2 (glibc's default, eight per CPU, kept ~10 MiB
// more resident in a load of 300k records on 2 CPUs), and fixes the mmap threshold at 128 KiB
// (glibc's moving one serves large blocks from the arenas once large blocks were freed: 8–16 MB
// more peak RSS in a 100k load). docs/benchmarks.md, "The mapped binary and the C allocator".
// Either is left alone when the user set it (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_,
// GLIBC_TUNABLES).
func tuneMalloc() {
	tunables := os.Getenv("GLIBC_TUNABLES")
	// A refusal leaves glibc's default: nothing to tell the user.
	if os.Getenv("MALLOC_ARENA_MAX") == "" && !strings.Contains(tunables, "arena_max") {
		_ = cmalloc.LimitArenas(max(2, runtime.NumCPU()/2))
	}
	if os.Getenv("MALLOC_MMAP_THRESHOLD_") == "" && !strings.Contains(tunables, "mmap_threshold") {
		_ = cmalloc.FixMmapThreshold(mmapThreshold)
	}
}

// mmapThreshold is the size from which a C allocation is a mapping of its own (tuneMalloc).
const mmapThreshold = 128 << 10
