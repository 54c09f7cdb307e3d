package main

import (
	"fmt"
	"runtime"

	duckdb "github.com/duckdb/duckdb-go-bindings"

	"github.com/mcasload/mcasload/schema"
)

// The build stamp, set by `make build` and `make release` from git:
//
//	-ldflags "-X main.version=$(git describe --tags --always --dirty) -X main.commit=… -X main.buildDate=…"
//
// A plain `go build` leaves "dev" and the unknowns, so a binary always says where it came from.
var (
	version   = "dev"
	commit    = "unknown"
	buildDate = "unknown"
)

const schemaVersion = schema.Version

// versionText is what `mcasload --version` and `mcasload version` print: one line an operator can
// paste into a ticket, with the DuckDB library linked in (it decides which warehouse files and
// SQL work) and the version of the activities schema.
func versionText() string {
	return fmt.Sprintf("mcasload %s (commit %s, built %s, %s %s/%s, DuckDB %s, schema v%d)\n",
		version, commit, buildDate, runtime.Version(), runtime.GOOS, runtime.GOARCH, duckdb.LibraryVersion(), schemaVersion)
}
