// Package codeshape holds tests of the repository's code shape that no compiler checks: how
// long its functions grow. It has no code of its own; `go test ./internal/codeshape/` (part of
// `make test`) reads every non-test Go file of the module.
package codeshape
