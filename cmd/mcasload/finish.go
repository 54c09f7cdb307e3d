package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/warehouse"
)

// runKind holds what differs between the commands that feed the warehouse (load, scan) at the
// end of a run; everything else about finishing a run is finishRun's, once for both.
type runKind struct {
	name    string                          // "load" or "scan", in error messages
	got     string                          // what the run committed: "read" or "fetched"
	resume  string                          // the hint of a stopped run: how to continue
	failure func(error) error               // maps a failure that is not the storage's to an exit code; nil keeps it
	extra   func(e *env, s *loader.Summary) // lines printed under the summary; nil for none
}

var (
	loadRun = runKind{name: "load", got: "read", resume: "rerun the same command to load the rest; records already stored are skipped"}
	scanRun = runKind{name: "scan", got: "fetched", resume: "rerun the same command to continue from the watermark",
		failure: scanFailure, extra: writeScanCounters}
)

// finishRun records the summary in the run log, closes the writer (publishing to Parquet),
// prints the summary and turns the outcome into an exit code, with the storage hint on a full
// or read-only disk whichever step met it. It runs even after a signal: stopping cleanly means
// finishing the bookkeeping of what was committed.
func (e *env) finishRun(c *cli.Context, w *warehouse.Writer, sum *loader.Summary, runErr error, k runKind) error {
	ctx := context.WithoutCancel(c.Context)
	if sum != nil && sum.Rejected > 0 {
		sum.RejectedDir = filepath.Join(w.Dir(), warehouse.RejectedDir)
	}
	var logErr error
	if sum != nil {
		logErr = w.FinishRun(ctx, warehouse.RunInfo{}, sum)
	}
	closeErr := w.Close(ctx)
	switch {
	case sum != nil && e.logJSON:
		// One JSON record, shaped like the log's, with the figures the run log stores.
		jsonLogger(e.stdout, slog.LevelInfo).Info(sum.Outcome(), "summary", sum)
	case sum != nil:
		sum.WriteText(e.stdout)
		if k.extra != nil {
			k.extra(e, sum)
		}
	}
	maxDuration := errors.Is(runErr, loader.ErrMaxDuration)
	stopped := runErr != nil && (maxDuration || (c.Context.Err() != nil && errors.Is(runErr, c.Context.Err())))
	// Every way the run ended is an outcome; the exit code is the most severe (combineExit's
	// order), and the message names the others too.
	var outcomes []error
	switch {
	case runErr != nil && !stopped:
		// A failed publish comes first: its hint says the rows are committed and how to
		// publish them.
		if hinted, ok := publishFailed(runErr); ok {
			outcomes = append(outcomes, hinted)
		} else if hinted, ok := storageHint(runErr); ok {
			outcomes = append(outcomes, hinted)
		} else if k.failure != nil {
			outcomes = append(outcomes, k.failure(runErr))
		} else {
			outcomes = append(outcomes, runErr)
		}
	case maxDuration:
		outcomes = append(outcomes, withCode(exitStopped, fmt.Errorf("stopped after --max-duration %s; what was %s is committed", c.Duration("max-duration"), k.got), k.resume))
	case stopped:
		outcomes = append(outcomes, withCode(exitStopped, fmt.Errorf("stopped by a signal; what was %s is committed", k.got), k.resume))
	}
	if hinted, ok := publishFailed(closeErr); ok {
		outcomes = append(outcomes, hinted)
	} else if closeErr != nil {
		outcomes = append(outcomes, withStorageHint(fmt.Errorf("finish %s: %w", k.name, closeErr)))
	}
	if logErr != nil {
		outcomes = append(outcomes, withStorageHint(logErr))
	}
	if sum != nil && sum.Rejected > 0 {
		msg := "finished, but %d of %d records were rejected"
		if len(outcomes) > 0 {
			msg = "%d of %d records were rejected"
		}
		outcomes = append(outcomes, withCode(exitRejected, fmt.Errorf(msg, sum.Rejected, sum.Records),
			fmt.Sprintf("see table rejected_activities or %s", sum.RejectedDir)))
	}
	return worstOf(outcomes...)
}

// damagedHint is what to do when DuckDB refuses the warehouse file as corrupt.
const damagedHint = "the duckdb file is damaged: mcasload verify says what is intact, and mcasload repair --from parquet rebuilds the file from the Parquet dataset (the damaged one goes to the quarantine folder); meanwhile query reads the Parquet dataset with --parquet DIR"

// withStorageHint adds a hint to a failure caused by the file system under the warehouse: a
// full disk, a read-only mount, or a folder the user may not write. The warehouse marks such
// failures (warehouse.ErrDiskFull, …); other errors are returned as they are.
func withStorageHint(err error) error {
	hinted, _ := storageHint(err)
	return hinted
}

// storageHint is withStorageHint that also says whether it added a hint.
func storageHint(err error) (error, bool) {
	var ee *exitError
	if err == nil || errors.As(err, &ee) {
		return err, false
	}
	switch {
	case errors.Is(err, warehouse.ErrDiskFull):
		return withCode(exitFailure, err, "the disk under the warehouse is full: free space (or move the warehouse), then rerun the same command; the next run publishes what was committed and skips records already stored"), true
	case errors.Is(err, warehouse.ErrReadOnly):
		return withCode(exitFailure, err, "the warehouse folder is on a read-only file system: remount it read-write or choose another --warehouse, then rerun"), true
	case errors.Is(err, warehouse.ErrNoAccess):
		return withCode(exitFailure, err, "you may not write the warehouse folder: fix its permissions or choose another --warehouse, then rerun"), true
	case errors.Is(err, warehouse.ErrDamaged):
		return withCode(exitFailure, err, damagedHint), true
	}
	return err, false
}
