// Package codeshape holds tests of the repository's code shape that no compiler checks: how
// long its functions grow, and that library packages build no error naming a CLI flag or
// environment variable (the commands add such hints). It has no code of its own;
// `go test ./internal/codeshape/` (part of `make test`) reads every non-test Go file of the
// module.
package codeshape
