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
	limitMallocArenas()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	failpoint.StopOn(ctx.Done()) // a paused point (signal tests) goes on once a signal came
	code := Run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// limitMallocArenas caps the C allocator's arenas at half the CPUs, at least 2, before DuckDB
// starts its threads (glibc's default, eight per CPU, kept ~10 MiB more resident in a load of
// 300k records on 2 CPUs: docs/benchmarks.md, "The mapped binary and the C allocator"), unless
// the user set the limit (MALLOC_ARENA_MAX, GLIBC_TUNABLES).
func limitMallocArenas() {
	if os.Getenv("MALLOC_ARENA_MAX") != "" || strings.Contains(os.Getenv("GLIBC_TUNABLES"), "arena_max") {
		return
	}
	_ = cmalloc.LimitArenas(max(2, runtime.NumCPU()/2)) // a refusal leaves glibc's default: nothing to tell the user
}
