// Command mcasload loads Microsoft Defender for Cloud Apps activities into a DuckDB warehouse and
// day-partitioned Parquet, and answers questions with canned SQL investigations.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
