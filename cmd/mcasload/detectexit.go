package main

// The exit codes of detect (issue 20). Issue 18 keeps the one table of exit codes and their
// precedence (exitcodes.go on its branch, with these two codes under the same names); when it
// lands this file goes and combineDetect becomes its combineExit.
const (
	// exitUndelivered: findings could not be delivered; they are kept for the next run.
	exitUndelivered = 9
	// exitNewFindings: new findings were found and delivered.
	exitNewFindings = 10
)

// detectPrecedence orders the codes a `scan --detect` may end with, the most severe first: the
// failures that stop a command, a stop after committing, findings kept back, rejected records,
// then new findings.
var detectPrecedence = []int{exitFailure, exitUsage, exitLocked, exitAuth, exitStopped, exitUndelivered, exitIncomplete, exitRejected, exitNewFindings}

// combineDetect is the exit code of a run whose steps ended with codes: the most severe wins.
func combineDetect(codes ...int) int {
	rank := func(c int) int {
		if c == exitOK {
			return len(detectPrecedence) + 1
		}
		for i, p := range detectPrecedence {
			if p == c {
				return i + 1
			}
		}
		return 0
	}
	out := exitOK
	for _, c := range codes {
		if rank(c) < rank(out) {
			out = c
		}
	}
	return out
}
