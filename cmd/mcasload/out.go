package main

import (
	"context"
	"io"
)

// stdoutName is the --out value that means standard output, for every command that writes a
// result (query, sql, export, report).
const stdoutName = "-"

// toStdout reports whether a result goes to standard output: no --out (where that is allowed),
// or --out -.
func toStdout(out string) bool { return out == "" || out == stdoutName }

// refuseBinaryOnTerminal is the usage error for a binary format (Parquet) bound for a terminal,
// which would only garble it; nil when stdout is not one or the output is a file.
func (e *env) refuseBinaryOnTerminal(format, out string) error {
	if !toStdout(out) || !isTerminal(e.stdout) {
		return nil
	}
	return usageErrorf("%s is binary and stdout is a terminal: pass --out FILE, or redirect stdout (--out - > result.%s)", format, format)
}

// stopWriter fails every write once ctx is done (a signal), so a command writing its answer
// stops there, with exit 6, instead of writing on to the end and exiting 0 as if nothing came.
type stopWriter struct {
	ctx context.Context
	w   io.Writer
}

func (s stopWriter) Write(p []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	return s.w.Write(p)
}
