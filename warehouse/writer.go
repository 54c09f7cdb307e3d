package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/filelock"
	"github.com/mcasload/mcasload/internal/idindex"
	"github.com/mcasload/mcasload/tenant"
)

// Names of the files and folders inside a warehouse directory.
const (
	DatabaseFile = "mcasload.duckdb"
	LockFile     = "mcasload.lock"
	ParquetDir   = "parquet/activities" // Hive layout: tenant=<label>/day=YYYY-MM-DD/part-<from>-<to>.parquet
	// CloudAppEventsParquetDir is the cloud_app_events dataset, in the same layout.
	CloudAppEventsParquetDir = "parquet/cloud_app_events"
	RejectedDir              = "rejected" // one NDJSON file per run
	tempDir                  = "tmp"      // DuckDB spill files
)

// Sinks says where activity rows are stored.
type Sinks string

// The sinks a warehouse can keep.
const (
	SinkBoth    Sinks = "both"    // DuckDB table activities and the Parquet dataset (default)
	SinkDuckDB  Sinks = "duckdb"  // DuckDB only
	SinkParquet Sinks = "parquet" // Parquet only; DuckDB keeps state, the dedupe index and staging
)

func (s Sinks) duckdb() bool  { return s == SinkBoth || s == SinkDuckDB }
func (s Sinks) parquet() bool { return s == SinkBoth || s == SinkParquet }

// ParseSinks parses a --sink value.
func ParseSinks(v string) (Sinks, error) {
	switch s := Sinks(strings.ToLower(strings.TrimSpace(v))); s {
	case "":
		return SinkBoth, nil
	case SinkBoth, SinkDuckDB, SinkParquet:
		return s, nil
	}
	return "", fmt.Errorf("parse sink %q: use duckdb, parquet or both", v)
}

// ErrSourceMismatch is wrapped when a warehouse loaded from one source is opened for another.
var ErrSourceMismatch = errors.New("warehouse: source mismatch")

// Options configure Open.
type Options struct {
	Dir               string // the warehouse folder; created (0700) when missing
	Sinks             Sinks  // default SinkBoth; must match the warehouse's first run
	MemoryLimit       string // DuckDB memory_limit, e.g. "300MB" (default "1GB")
	Threads           int    // DuckDB threads (default GOMAXPROCS)
	Source            string // "simulator", the tenant URL or "file"; "" skips the check
	AllowMixedSources bool   // write a tenant from a source other than the one it was first written from
	// Tenant is the label (package tenant) the writer's commits store rows, rejects, state and
	// runs under unless a Commit names its own. Empty: the warehouse's only tenant
	// (tenant.Default in an empty warehouse), or none in a warehouse of several (each Commit
	// must then name one).
	Tenant string
	// TenantFromWarehouse, with Tenant empty, refuses (ErrTenantRequired) to open a warehouse of
	// several tenants: `load` without --tenant-label must not guess.
	TenantFromWarehouse bool
	// TenantDerived says Tenant was derived from Source (a scan's URL), not named by the user:
	// when the warehouse holds exactly one tenant first written from Source, under another label
	// (one the upgrade or an earlier --tenant-label gave), the rows are that tenant's
	// (TenantOfSource).
	TenantDerived bool
	// UpgradeTenant is the label rows stored before tenants get when this writer upgrades the
	// warehouse (`mcasload migrate --tenant-label`); default: the tenant of the recorded scan
	// URL, "simulator" for the simulator, else tenant.Default.
	UpgradeTenant string
	Command       string        // recorded in the lock and the runs table (default os.Args)
	Logger        *slog.Logger  // default slog.Default()
	Clock         clock.Clock   // default the wall clock
	LockWait      time.Duration // how long to retry a DuckDB file held by a reader (default 30s)
	// CompactOver makes Close compact days with more Parquet files than this (default 32;
	// negative disables).
	CompactOver int
	// RowGroupSize is the Parquet row group length in rows (default 122880).
	RowGroupSize int
	// HoldIdle is how long the file stays attached after a commit, waiting for the next one
	// (default 1s; negative releases it after every commit). Back-to-back commits then skip
	// the attach, the detach checkpoint and the cold cache; readers wait or read Parquet.
	HoldIdle time.Duration
	// DatasetChanged, when set, is called with the writer lock held each time the Parquet
	// dataset has changed and is whole again: at the end of Open (after reconciliation, so an
	// interrupted run's files are included), after each Commit that renamed files in, and in
	// Close after compaction, before the lock is released. `--publish URL` uploads the dataset
	// from it (package remote); a command that deletes Parquet files (prune) must call
	// Writer.DatasetChanged after it. Its error fails the call; a commit stays durable. w is the
	// writer (its committed state, StateKeys, names the tenants' scanned URLs).
	DatasetChanged func(ctx context.Context, w *Writer) error
	// HoldCache is how much DuckDB may keep cached (bytes) while commits hold the file; past
	// it the file is let go of after the commit (default DefaultHoldCache).
	HoldCache int64
	// AllocatorFlush is how much memory DuckDB's allocator may keep after a task before it
	// hands it back to the system (bytes; default 8 MB). More is faster and holds more.
	AllocatorFlush int64
	// Firsts, when set, is the rule of the first times (firsts.go; queries.Firsts gives it):
	// commits keep the listed days' first times exact with it, and Close builds the days the
	// writer committed to (every day when none is listed). A failure at Close is a warning:
	// the days it leaves unlisted are read from the activities. Without it commits unlist the
	// days they change.
	Firsts *FirstsSpec
}

func (o *Options) defaults() error {
	if o.Dir == "" {
		return ErrNoFolder
	}
	if o.Sinks == "" {
		o.Sinks = SinkBoth
	}
	if _, err := ParseSinks(string(o.Sinks)); err != nil {
		return err
	}
	if o.MemoryLimit == "" {
		o.MemoryLimit = "1GB"
	}
	if !memoryLimitRE.MatchString(o.MemoryLimit) {
		return fmt.Errorf("parse memory limit %q: use a size such as 300MB or 2GB", o.MemoryLimit)
	}
	if o.Threads <= 0 {
		o.Threads = runtime.GOMAXPROCS(0)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.LockWait == 0 {
		o.LockWait = 30 * time.Second
	}
	if o.Command == "" {
		o.Command = strings.Join(os.Args, " ")
	}
	if o.CompactOver == 0 {
		o.CompactOver = 32
	}
	if o.RowGroupSize <= 0 {
		o.RowGroupSize = 122880
	}
	if o.HoldIdle == 0 {
		o.HoldIdle = time.Second
	}
	if o.HoldCache <= 0 {
		o.HoldCache = DefaultHoldCache
	}
	if o.UpgradeTenant != "" {
		l, err := tenant.Parse(o.UpgradeTenant)
		if err != nil {
			return err
		}
		o.UpgradeTenant = l
	}
	return nil
}

// rejectRun is a run that stored rejects of a dataset.
type rejectRun struct {
	table *whTable
	run   string
}

// knownKey is whose id set an idindex.Index holds: a dataset's, of one tenant.
type knownKey struct {
	table  *whTable
	tenant string
}

// Writer is the one writer of a warehouse. It holds the lock file from Open to Close and the
// DuckDB file only while commits follow each other (see holdState), so readers can open it
// between bursts of commits. A Writer is not safe for concurrent use, but for ProbeIDs.
type Writer struct {
	opts Options
	dir  string
	lock *filelock.Lock
	log  *slog.Logger
	// firstsTouched are the (tenant, day) pairs commits added first times to; Close builds or
	// folds them (firsts.go).
	firstsTouched map[[2]string]bool
	// tenant is the writer's tenant (Options.Tenant, resolved at Open); "" when the warehouse
	// holds several and none was named.
	tenant string
	// legacyTenant is the label of Parquet files still in the layout before tenants (the
	// warehouse's upgrade label, tenant.Default when it has none), until migrateLayout has moved
	// them; upgraded is the upgrade label as recorded ("" when nothing predates tenants).
	legacyTenant, upgraded string
	// state is the committed state per tenant, per key.
	state map[string]map[string]string
	run   RunInfo
	// rejectRuns are the runs (of a dataset) whose rejected/<run>.ndjson must be rewritten before Close.
	rejectRuns map[rejectRun]bool
	// published are (day, commit) pairs whose Parquet file is renamed in but whose pending row
	// is still to delete: the next commit's transaction (or publishPending) deletes them.
	published []pendingDay
	// base is the in-memory DuckDB that commits attach the file to; see commitSession.
	base *session
	// pub is base's second connection, which writes a commit's Parquet files; see startParquet.
	pub *session
	// hold keeps the file attached to base between commits that follow each other closely.
	hold holdState
	// ids is each dataset's and tenant's on-disk id set (see openIDs), opened and checked at
	// its first commit; empty after anything but a commit may have changed an index. idsMu
	// guards its changes against ProbeIDs, the one method that runs beside the others.
	ids   map[knownKey]*idindex.Index
	idsMu sync.Mutex
	// tails is what this writer appended to each DuckDB table, which Close merges into larger
	// row groups (rowgroups.go).
	tails map[string]*appendTail
	// wal is what the commits held in the WAL hold (walgroups.go).
	wal walGroup
	// groupBytes, when set (by tests), replaces the Arrow size walGroupBytes computes.
	groupBytes int64
	// mergeRows, when set (by tests), replaces the row group size mergeTails computes.
	mergeRows int
}

// Open creates the warehouse folder if needed, takes the writer lock, checks and records the
// source, migrates the DuckDB schema and reconciles the Parquet dataset with DuckDB, so that it
// holds exactly the committed rows (a crash at any instant of a previous run is repaired here).
func Open(ctx context.Context, opts Options) (_ *Writer, err error) {
	defer markStorage(&err)
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("open warehouse %s: %w", opts.Dir, err)
	}
	for _, d := range []string{dir, filepath.Join(dir, ParquetDir), filepath.Join(dir, CloudAppEventsParquetDir), filepath.Join(dir, RejectedDir), filepath.Join(dir, tempDir)} {
		if err := mkdirAll(d); err != nil {
			return nil, fmt.Errorf("create warehouse folder: %w", err)
		}
	}
	host, _ := os.Hostname()
	now := opts.Clock.Now().UTC()
	me := LockHolder{PID: os.Getpid(), Host: host, Start: now, Command: opts.Command}
	lock, stale, err := filelock.Take(filepath.Join(dir, LockFile), me)
	if err != nil {
		return nil, err
	}
	if stale != nil {
		opts.Logger.Warn("took over a stale warehouse lock; its writer is gone", "dir", dir, "pid", stale.PID, "host", stale.Host, "start", stale.Start, "command", stale.Command)
	}
	w := &Writer{
		opts:       opts,
		dir:        dir,
		lock:       lock,
		log:        opts.Logger,
		state:      map[string]map[string]string{},
		rejectRuns: map[rejectRun]bool{},
		run: RunInfo{
			ID:      now.Format("20060102T150405.000Z") + fmt.Sprintf("-%d", os.Getpid()),
			Command: opts.Command,
			Started: now,
		},
	}
	if err := w.init(ctx); err != nil {
		lock.Release()
		return nil, err
	}
	if err := w.DatasetChanged(ctx); err != nil {
		w.stopHold()
		lock.Release()
		return nil, err
	}
	return w, nil
}

// DatasetChanged runs Options.DatasetChanged, if set: call it after changing the Parquet
// dataset outside Commit, Open and Close (a prune deleting files), so a publisher follows.
func (w *Writer) DatasetChanged(ctx context.Context) error {
	if w.opts.DatasetChanged == nil || w.lock == nil {
		return nil
	}
	return w.opts.DatasetChanged(ctx, w)
}

func mkdirAll(d string) error {
	if err := os.MkdirAll(d, 0o700); err != nil {
		return err
	}
	return os.Chmod(d, 0o700)
}

func (w *Writer) sessionConfig() sessionConfig {
	return sessionConfig{
		memoryLimit:    w.opts.MemoryLimit,
		allocatorFlush: w.opts.AllocatorFlush,
		threads:        w.opts.Threads,
		tempDir:        filepath.Join(w.dir, tempDir),
		lockWait:       w.opts.LockWait,
		clock:          w.opts.Clock,
	}
}

// session attaches the DuckDB file read-write; callers detachClose it when done.
// Days the last Commit published but left pending are marked first, so Status, Verify,
// FinishRun, Compact and Close see exactly what a reader after the run sees.
func (w *Writer) session(ctx context.Context) (*session, error) {
	return w.sessionWith(ctx, w.sessionConfig())
}

// sessionWith is session with the given configuration.
func (w *Writer) sessionWith(ctx context.Context, cfg sessionConfig) (*session, error) {
	// One process can attach the file read-write only once: let go of the commits' hold.
	if err := w.releaseHold(ctx); err != nil {
		w.log.Warn("close the duckdb file after commits", "err", err)
	}
	// Repair and friends may rewrite activity_ids: the next commit checks the id set again.
	w.forgetIDs()
	file := filepath.Join(w.dir, DatabaseFile)
	s, err := openSession(ctx, cfg, file, false)
	if err != nil {
		return nil, err
	}
	if err := w.markDeferred(ctx, s); err != nil {
		s.detachClose(context.WithoutCancel(ctx))
		return nil, err
	}
	if err := privateFiles(file); err != nil {
		s.detachClose(context.WithoutCancel(ctx))
		return nil, err
	}
	return s, nil
}

func (w *Writer) init(ctx context.Context) error {
	if err := w.createDatabase(ctx); err != nil {
		return err
	}
	s, err := w.session(ctx)
	if err != nil {
		return err
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	label, err := w.upgradeLabel(ctx, s)
	if err != nil {
		return err
	}
	if err := migrate(ctx, s, label); err != nil {
		return err
	}
	// A migration may have started the WAL, which DuckDB creates with the umask's mode.
	if err := privateFiles(filepath.Join(w.dir, DatabaseFile)); err != nil {
		return err
	}
	if err := w.checkMeta(ctx, s); err != nil {
		return err
	}
	if err := w.resolveTenant(ctx, s); err != nil {
		return err
	}
	err = scanRows(ctx, s.conn, `SELECT tenant, key, value FROM wh.state`, func(r *sql.Rows) error {
		var t, k, v string
		if err := r.Scan(&t, &k, &v); err != nil {
			return err
		}
		if w.state[t] == nil {
			w.state[t] = map[string]string{}
		}
		w.state[t][k] = v
		return nil
	})
	if err != nil {
		return fmt.Errorf("read state: %w", err)
	}
	if err := w.reconcile(ctx, s); err != nil {
		return err
	}
	if err := w.reconcileFindings(ctx, s); err != nil {
		return err
	}
	// After reconcile, which removes the temporary file of an upgrade a crash interrupted and
	// the files no commit backs, so only committed files are upgraded.
	return w.migrateParquet(ctx, s)
}

// checkMeta records the sinks and Arrow schema version on first use and refuses a later run that
// disagrees. (The source is checked per tenant, by resolveTenant.)
func (w *Writer) checkMeta(ctx context.Context, s *session) error {
	meta, err := readMeta(ctx, s.conn, "wh")
	if err != nil {
		return fmt.Errorf("read warehouse meta: %w", err)
	}
	w.upgraded = meta[upgradeTenantKey]
	w.legacyTenant = w.upgraded
	if w.legacyTenant == "" {
		w.legacyTenant = tenant.Default
	}
	set := map[string]string{}
	if v, ok := meta["sinks"]; !ok {
		set["sinks"] = string(w.opts.Sinks)
	} else if v != string(w.opts.Sinks) {
		return &SinkMismatchError{Dir: w.dir, Keeps: Sinks(v), Want: w.opts.Sinks}
	}
	for _, t := range warehouseTables {
		if t.kind != kindDataset {
			continue
		}
		if v, ok := meta[t.versionKey]; !ok {
			set[t.versionKey] = fmt.Sprint(t.version)
		} else if v != fmt.Sprint(t.version) {
			return fmt.Errorf("open warehouse %s: its %s rows use schema version %s, this mcasload writes version %d; use a new warehouse folder", w.dir, t.name, v, t.version)
		}
	}
	if len(set) == 0 {
		return nil
	}
	return inTx(ctx, s, func() error {
		for k, v := range set {
			// Not INSERT OR REPLACE: warehouses made by early builds have meta without its primary key.
			if err := s.exec(ctx, `DELETE FROM wh.meta WHERE key = ?`, k); err != nil {
				return fmt.Errorf("record warehouse meta: %w", err)
			}
			if err := s.exec(ctx, `INSERT INTO wh.meta VALUES (?, ?)`, k, v); err != nil {
				return fmt.Errorf("record warehouse meta: %w", err)
			}
		}
		return nil
	})
}

// UpgradeTenant is the label the rows stored before tenants were given when the warehouse was
// upgraded ("" when it held none).
func (w *Writer) UpgradeTenant() string { return w.upgraded }

// Dir is the absolute path of the warehouse folder.
func (w *Writer) Dir() string { return w.dir }

// RunID is the id of this writer's run, used when a Commit does not name one.
func (w *Writer) RunID() string { return w.run.ID }

// State returns the value committed for key (a watermark, a scan position) in the writer's
// tenant, as of the last Commit of this writer.
func (w *Writer) State(ctx context.Context, key string) (string, bool, error) {
	return w.TenantState(ctx, w.tenant, key)
}

// TenantState returns the value committed for key in tenant label.
func (w *Writer) TenantState(ctx context.Context, label, key string) (string, bool, error) {
	v, ok := w.state[label][key]
	return v, ok, ctx.Err()
}

// StateKeys returns, per tenant label, the committed state keys starting with prefix, sorted
// (the scan watermarks, whose keys name the URL each tenant was scanned from).
func (w *Writer) StateKeys(prefix string) map[string][]string {
	out := map[string][]string{}
	for label, kv := range w.state {
		for k := range kv {
			if strings.HasPrefix(k, prefix) {
				out[label] = append(out[label], k)
			}
		}
		slices.Sort(out[label])
	}
	return out
}

// Close publishes what is still pending, compacts days with many files (Options.CompactOver),
// rewrites this run's rejected/ file and releases the lock. The Writer is unusable afterwards.
func (w *Writer) Close(ctx context.Context) (err error) {
	defer markStorage(&err)
	if w.lock == nil {
		return nil
	}
	err = w.finish(ctx)
	if err == nil && w.opts.Sinks.parquet() {
		err = w.DatasetChanged(ctx)
	}
	err = errors.Join(err, w.stopHold())
	err = errors.Join(err, w.lock.Release())
	w.lock = nil // Commit, PrepareIDs and a second Close see a closed writer
	return err
}

func (w *Writer) finish(ctx context.Context) error {
	if err := w.mergeTails(ctx); err != nil {
		return fmt.Errorf("close warehouse: %w", err)
	}
	s, err := w.session(ctx)
	if err != nil {
		return fmt.Errorf("close warehouse: %w", err)
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	if w.opts.Sinks.parquet() {
		if err := w.publishPending(ctx, s); err != nil {
			return fmt.Errorf("close warehouse: %w", err)
		}
		if w.opts.CompactOver > 0 {
			if err := w.compactCrowded(ctx, s); err != nil {
				return fmt.Errorf("close warehouse: %w", err)
			}
		}
		if w.opts.Sinks.duckdb() {
			if err := w.writeStateSnapshot(ctx, s); err != nil {
				return fmt.Errorf("close warehouse: %w", err)
			}
		}
	}
	for r := range w.rejectRuns {
		if err := w.writeRejectedFile(ctx, s, r.table, r.run); err != nil {
			return fmt.Errorf("close warehouse: %w", err)
		}
	}
	if w.opts.Firsts != nil && ctx.Err() == nil {
		start := time.Now()
		res, err := w.closeFirsts(ctx, s)
		switch {
		case err != nil && ctx.Err() == nil:
			w.log.Warn("build the first times (investigations read those days from the activities until they are built)", "err", err)
		case res.Days+res.Folded > 0:
			w.log.Debug("built first times", "days", res.Days, "folded", res.Folded, "rows", res.Rows, "took", time.Since(start).Round(time.Millisecond))
		}
	}
	return nil
}

// closeKeepBytes is the size from which Close's compaction leaves a Parquet file as it is: an
// eighth of the merged file's target, so a day is at most a few dozen files of 64–512 MB.
const closeKeepBytes = compactTargetBytes / 8

// compactCrowded compacts the days of every dataset holding more than Options.CompactOver files.
func (w *Writer) compactCrowded(ctx context.Context, s *session) error {
	single := false
	for _, t := range datasets {
		days, err := w.partitionsWithFiles(t, func(_ partition, n int) bool { return n > w.opts.CompactOver })
		if err != nil {
			return err
		}
		// One thread: two read and buffer a row group each, which at the end of a 5M
		// load took the process from ~400 MB to ~780 MB; one costs ~1.6× the time.
		if len(days) > 0 && !single {
			if err := s.exec(ctx, "SET threads = 1"); err != nil {
				return err
			}
			single = true
		}
		for _, d := range days {
			// Files already merged stay as they are: rewriting a large day's merged files
			// for the sake of a few new parts (1.2M rows, 17–18 s a day in the bench's 20M
			// warehouse) made a small load into a large warehouse pay for every day it touched.
			if _, err := w.compactDay(ctx, s, t, d, CompactOptions{KeepBytes: closeKeepBytes}); err != nil {
				// Compaction only merges files that are already published whole; a day
				// DuckDB cannot merge within the memory budget keeps its parts (every row
				// is there, verify agrees) and the next load or scan tries again.
				if !isOutOfMemory(err) {
					return err
				}
				w.log.Warn("left a crowded parquet day uncompacted: out of memory within the budget; its files are complete and the next load or scan merges them (give it a larger --memory-budget if this repeats)",
					"table", t.name, "tenant", d.tenant, "day", d.day, "error", err)
			}
		}
	}
	return nil
}

// queryStrings runs q and returns its first column as strings.
func queryStrings(ctx context.Context, conn *sql.Conn, q string, args ...any) ([]string, error) {
	rows, err := conn.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
