package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"
)

// The exit codes, the one table the README, docs/design.md and every command's help agree with
// (TestExitCodeTable runs the binary for each reachable one). A run that ends in more than one
// way exits with the most severe (exitSeverity).
const (
	exitOK       = 0
	exitFailure  = 1 // failure; the message says what to do
	exitUsage    = 2 // usage error: a bad flag, argument or path named on the command line
	exitRejected = 3 // finished, but some records were rejected (kept aside and counted)
	exitLocked   = 4 // another writer holds the warehouse lock
	exitAuth     = 5 // authentication or permission failure
	exitStopped  = 6 // stopped by --max-duration or a signal after committing what was done
	exitNoData   = 7 // the warehouse holds no activity in the asked window (the answer is empty)
	// exitIncomplete: audit found windows that lack records (and did not repair them).
	exitIncomplete = 8
	// exitUndelivered: findings could not be delivered; they are kept for the next run.
	exitUndelivered = 9
	// exitNewFindings: new findings were found and delivered.
	exitNewFindings = 10
	// exitDisagree: the two sources (the activities API and the streamed events) disagree.
	exitDisagree = 11
)

// exitPrecedence lists the codes from the most severe: the failures that stop a command (1, 2,
// 4, 5), a stop after committing (6), then the outcomes of a finished run, the ones that ask
// for action first: findings kept back (9), missing windows (8), sources that disagree (11),
// rejected records (3), new findings (10) and an empty window (7).
var exitPrecedence = []int{exitFailure, exitUsage, exitLocked, exitAuth, exitStopped,
	exitUndelivered, exitIncomplete, exitDisagree, exitRejected, exitNewFindings, exitNoData}

// exitSeverity ranks code: lower is more severe; success ranks last, an unknown code first (it
// can only come from a bug, which must not pass for success).
func exitSeverity(code int) int {
	if code == exitOK {
		return len(exitPrecedence) + 1
	}
	for i, c := range exitPrecedence {
		if c == code {
			return i + 1
		}
	}
	return 0
}

// combineExit is the exit code of a run whose outcomes are codes: the most severe wins.
func combineExit(codes ...int) int {
	out := exitOK
	for _, c := range codes {
		if exitSeverity(c) < exitSeverity(out) {
			out = c
		}
	}
	return out
}

// exitError carries an exit code and an optional hint saying what to do.
type exitError struct {
	code int
	err  error
	hint string
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so that Run exits with code and prints hint after the error.
func withCode(code int, err error, hint string) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err, hint: hint}
}

// usageErrorf is a usage error (exit 2).
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// exitCodeOf is the exit code err stands for: its own (withCode), urfave/cli's, 2 for a flag
// the parser refused, else 1.
func exitCodeOf(err error) int {
	var ee *exitError
	var ce cli.ExitCoder
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ce):
		return ce.ExitCode()
	case isUsageError(err):
		return exitUsage
	}
	return exitFailure
}

// worstOf returns the error of errs whose exit code is the most severe (nil when all are nil);
// the others' messages follow its own, so no outcome goes unsaid.
func worstOf(errs ...error) error {
	var worst error
	var others []error
	for _, err := range errs {
		if err == nil {
			continue
		}
		if worst == nil || exitSeverity(exitCodeOf(err)) < exitSeverity(exitCodeOf(worst)) {
			if worst != nil {
				others = append(others, worst)
			}
			worst = err
			continue
		}
		others = append(others, err)
	}
	if worst == nil || len(others) == 0 {
		return worst
	}
	var ee *exitError
	hint := ""
	if errors.As(worst, &ee) {
		hint = ee.hint
	}
	also := ""
	for _, o := range others {
		also += "; also: " + o.Error()
	}
	return &exitError{code: exitCodeOf(worst), err: fmt.Errorf("%w%s", worst, also), hint: hint}
}
