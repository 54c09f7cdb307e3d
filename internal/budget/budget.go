// Package budget divides the memory budget of a writing process (`load`, `scan`, `audit
// --repair`: --memory-budget) among the parts that hold memory: the commit size, the Go heap,
// DuckDB's memory limit and its cache between commits, and the number of conversion workers.
// One number bounds the whole process, so a user sizes it by what the machine can spare instead
// of by knowing which part of mcasload holds what.
//
// The shares come from measurement (docs/benchmarks.md, "What limits resident memory"): a load
// holds about 3.5 commits' worth of Go memory (the commit being stored, the chunks converted
// meanwhile, the reader's buffer), DuckDB about two commits' worth while it stores one (its
// copy of the rows and its Parquet writer's) plus what it caches, and the mapped binary about
// 70 MB whatever the data.
package budget

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Sizes of the plan, in bytes.
const (
	// Default is the budget when none is given: the target the benchmarks hold a load and a
	// scan to, binary included (256 MB as ru_maxrss counts in the benchmarks: 10^6 bytes).
	Default = 256_000_000
	// Reserve is what the process holds whatever the data: the mapped binary (about 70 MB, most
	// of it DuckDB's code), thread stacks and the Go runtime's own structures.
	Reserve = 80 << 20
	// Minimum is the smallest budget a writer can work in: below it DuckDB's share is too small
	// to store a commit.
	Minimum = 192_000_000

	minBatch  = 1 << 20
	maxBatch  = 32 << 20 // larger commits gained nothing measurable, and cost memory
	minDuckDB = 48 << 20
	minFlush  = 8 << 20 // measured at the default budget: 16 MB already passed it
	maxFlush  = 64 << 20
	perWorker = 40 << 20 // working memory that allows one more conversion worker
)

// Plan is how a budget is spent.
type Plan struct {
	Budget int64 // the whole process, mapped binary included
	// BatchBytes is the raw JSON bytes per commit; a commit's memory is proportional to it.
	BatchBytes int64
	// GoLimit is the Go garbage collector's soft memory limit (runtime/debug.SetMemoryLimit).
	// The writer keeps nothing between commits that grows with the warehouse (its dedupe set
	// is on disk), so this is the whole of the Go side.
	GoLimit int64
	// DuckDB is DuckDB's memory_limit, and DuckDBCache how much of it may stay cached between
	// commits before the writer lets go of the file.
	DuckDB, DuckDBCache int64
	// DuckDBFlush is how much freed memory DuckDB's allocator may keep after a task. Freed
	// memory handed back is faulted in again by the next commit (about a sixth of a load's
	// CPU at the minimum), so a budget with room to spare keeps more of it.
	DuckDBFlush int64
	// MaxWorkers bounds the conversion workers (each holds chunks in flight).
	MaxWorkers int
}

// For returns the plan of a budget of the given bytes.
func For(budget int64) (Plan, error) {
	if budget < Minimum {
		return Plan{}, fmt.Errorf("plan memory budget: %s is below the minimum of %s", Format(budget), Format(Minimum))
	}
	work := budget - Reserve
	p := Plan{Budget: budget}
	p.BatchBytes = min(max(work/14, minBatch), maxBatch)
	p.GoLimit = p.BatchBytes*7/2 + 16<<20
	p.DuckDB = max(work-p.GoLimit, minDuckDB)
	p.DuckDBCache = p.DuckDB / 4
	p.DuckDBFlush = min(minFlush+max(budget-Default, 0)/8, maxFlush)
	p.MaxWorkers = int(max(work/perWorker, 1))
	return p, nil
}

// WithBatch returns the plan for a commit size the user chose instead of the derived one: the
// Go heap follows the commits; DuckDB keeps what is left, but never less than its minimum.
func (p Plan) WithBatch(batch int64) Plan {
	p.BatchBytes = batch
	p.GoLimit = batch*7/2 + 16<<20
	p.DuckDB = max(p.Budget-Reserve-p.GoLimit, minDuckDB)
	p.DuckDBCache = p.DuckDB / 4
	return p
}

var sizeRE = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$`)

var units = map[string]float64{
	"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
}

// Parse reads a size such as 256MB, 1.5GB or 512MiB (the forms DuckDB's memory_limit takes;
// MB is 10^6 bytes, MiB 2^20).
func Parse(s string) (int64, error) {
	m := sizeRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("parse size %q: use a number and a unit, such as 256MB, 1GB or 512MiB", s)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, fmt.Errorf("parse size %q: %w", s, err)
	}
	return int64(v * units[m[2]]), nil
}

// Format renders bytes as DuckDB's memory_limit accepts them, in whole MiB ("107MiB").
func Format(b int64) string { return fmt.Sprintf("%dMiB", b>>20) }
