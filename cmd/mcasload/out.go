package main

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
