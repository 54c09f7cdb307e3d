// Command mcasload loads Microsoft Defender for Cloud Apps activities into a DuckDB warehouse and
// day-partitioned Parquet, and answers questions with canned SQL investigations.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/mcasload/mcasload/internal/failpoint"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	failpoint.StopOn(ctx.Done()) // a paused point (signal tests) goes on once a signal came
	code := Run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
