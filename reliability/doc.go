// Package reliability is the adversarial test suite of mcasload: it kills the real binary at
// every failpoint and at random instants, serves it a hostile API, feeds it bad input, fills and
// write-protects its disk, races writers and readers, and looks for secrets wherever they could
// leak. It holds tests only. `go test ./reliability/` runs a short version; `make reliability`
// (MCASLOAD_RELIABILITY=long) runs the long one whose figures docs/reliability.md reports.
package reliability
