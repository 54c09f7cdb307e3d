// Package failpoint lets crash tests kill the process at a named point in the code.
//
// A failpoint is a call to Hit(name) placed between two steps whose interleaving with a crash
// matters (before a commit, after a rename, …). In production the call is a cheap no-op. When
// the environment variable MCASLOAD_FAILPOINT equals the name (or "name@N" for the Nth hit),
// Hit writes a marker file (path from MCASLOAD_FAILPOINT_MARKER, so the test can prove the
// point was reached) and kills the process with SIGKILL: no deferred function, no buffered
// write, no Close runs, exactly like a power cut or an OOM kill.
//
// MCASLOAD_PAUSE arms a point to pause instead: the process writes the marker and waits there
// until it is told to stop (SIGINT or SIGTERM, which main hands over with StopOn), then goes on
// with its context cancelled. Signal tests use it to interrupt a command at a known moment of
// its work, without sleeping; Pause places a point that only pauses.
package failpoint

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// EnvName names the failpoint to trigger, optionally with "@N" to trigger on the Nth hit.
const EnvName = "MCASLOAD_FAILPOINT"

// EnvMarker is the path of the file written just before the process kills itself.
const EnvMarker = "MCASLOAD_FAILPOINT_MARKER"

// EnvPause names the point to pause at (see Pause), optionally with "@N" for the Nth pass.
const EnvPause = "MCASLOAD_PAUSE"

// armed is read once: the environment of a running process does not change, and Hit must
// cost nothing when no failpoint is set.
var armed = sync.OnceValues(func() (string, int) {
	return parse(os.Getenv(EnvName))
})

var pauseArmed = sync.OnceValues(func() (string, int) {
	return parse(os.Getenv(EnvPause))
})

var (
	mu     sync.Mutex
	hits   = map[string]int{}
	passes = map[string]int{}
	stop   <-chan struct{}
)

// StopOn gives Pause what "told to stop" means: main passes its signal context's Done channel,
// closed once SIGINT or SIGTERM has cancelled that context.
func StopOn(done <-chan struct{}) {
	mu.Lock()
	stop = done
	mu.Unlock()
}

// Pause waits at name until the process is told to stop, when MCASLOAD_PAUSE arms name and this
// is the armed pass; the marker file is written first, so the test knows the process is there.
// When it returns the command's context is cancelled, as if the signal had come during the
// step that follows. Unarmed, or with no StopOn, it returns at once.
func Pause(name string) {
	want, nth := pauseArmed()
	if want == "" || want != name {
		return
	}
	mu.Lock()
	passes[name]++
	n, done := passes[name], stop
	mu.Unlock()
	if n != nth || done == nil {
		return
	}
	if marker := os.Getenv(EnvMarker); marker != "" {
		_ = os.WriteFile(marker, []byte(name+"\n"), 0o600)
	}
	<-done
}

// parse splits "name@N" into name and N (1 when absent or invalid).
func parse(v string) (string, int) {
	name, n, ok := strings.Cut(v, "@")
	if !ok {
		return v, 1
	}
	count, err := strconv.Atoi(n)
	if err != nil || count < 1 {
		return name, 1
	}
	return name, count
}

// Hit kills the process when name is the armed failpoint and this is the armed hit; a point
// armed with MCASLOAD_PAUSE pauses there instead (Pause).
func Hit(name string) {
	Pause(name)
	want, nth := armed()
	if want == "" || want != name {
		return
	}
	mu.Lock()
	hits[name]++
	n := hits[name]
	mu.Unlock()
	if n != nth {
		return
	}
	if marker := os.Getenv(EnvMarker); marker != "" {
		// The marker proves to the test that the process died here and not elsewhere.
		_ = os.WriteFile(marker, []byte(name+"\n"), 0o600)
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // SIGKILL is not delivered synchronously on every platform; never return.
}

// Names lists the failpoints the project places, for crash tests that iterate over them.
var Names = []string{
	"create-database",       // warehouse: a new DuckDB file made under its temporary name, not renamed
	"fetch",                 // loader: after fetching a page, before converting it
	"convert",               // loader: after converting a page, before committing it
	"ids-before-commit",     // warehouse: a commit's ids added to the id set, its transaction not committed
	"ids-merge",             // idindex: merged run renamed in, the runs it merged not yet removed
	"duckdb-before-commit",  // warehouse: inside the transaction, before COMMIT
	"duckdb-after-commit",   // warehouse: after COMMIT, before any Parquet is written
	"parquet-write",         // warehouse: temporary Parquet file written, not yet synced
	"parquet-before-rename", // warehouse: temporary file synced, not renamed
	"parquet-after-rename",  // warehouse: file renamed, not yet marked published in DuckDB
	"reconcile",             // warehouse: in the middle of reconciliation at Open
	"compact-before-rename", // warehouse: merged file written, not renamed
	"compact-after-rename",  // warehouse: merged file renamed, old parts not yet deleted
	"merge-before-commit",   // warehouse: Close's merge of row groups, before its COMMIT
}

// PauseNames lists the points that only pause (Pause), placed where a command works for a
// while and has no failpoint of its own; the signal tests stop a command at each.
var PauseNames = []string{
	"answer",      // query, sql, domains, export: the answer computed, not yet written
	"report-step", // report: an investigation of the report about to run
	"verify",      // warehouse: verify compared the tables, about to compare the days
}

// DetectNames lists the failpoints of mcasload detect, which the detect crash tests exercise.
var DetectNames = []string{
	"findings-committed", // warehouse: findings and the detect watermark committed, snapshot not yet written
	"detect-after-send",  // detect: every sink answered, delivery not yet recorded
}

// PruneNames lists the failpoints of mcasload prune, kept out of Names because the load and
// scan crash tests iterate over Names; warehouse.TestPruneKilledAtRandom picks among these.
var PruneNames = []string{
	"prune-before-commit", // warehouse: rows deleted and horizon recorded, before COMMIT
	"prune-after-commit",  // warehouse: after COMMIT, no Parquet file removed yet
	"prune-parquet",       // warehouse: one Parquet file of a day behind the horizon removed
}

// UpgradeNames lists the failpoints of the one-time upgrade of an older warehouse. They are
// kept out of Names because the load and scan crash tests iterate over Names on a new
// warehouse, where an upgrade never runs; warehouse.TestMigrateCrash exercises these.
var UpgradeNames = []string{
	"migrate-before-rename", // warehouse: upgraded copy of a version 1 Parquet file synced, not renamed
	"migrate-after-rename",  // warehouse: upgraded file renamed over the version 1 file
	"layout-before-rename",  // warehouse: a file of the layout before tenants about to move into its tenant's folder
	"layout-after-rename",   // warehouse: the file moved, before the next
}

// PublishNames lists the failpoints of publishing to object storage (--publish, push). They are
// kept out of Names because the load and scan crash tests iterate over Names without
// publishing; reliability's publish kill loop exercises these.
var PublishNames = []string{
	"publish-upload",          // remote: one file uploaded, others of the same publish possibly in flight
	"publish-before-manifest", // remote: every file uploaded, the manifest not yet written
	"publish-after-manifest",  // remote: manifest written, the ledger and the pointer not yet
	"publish-before-delete",   // remote: pointer rewritten, superseded objects not yet deleted
}
