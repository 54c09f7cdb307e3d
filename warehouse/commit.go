package warehouse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/cmalloc"
	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/idindex"
	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/tenant"
)

// RunInfo describes the run a commit belongs to; zero fields take the writer's defaults.
type RunInfo struct {
	ID      string
	Command string
	Started time.Time
}

// Commit is one unit of work of one tenant: it lands entirely or not at all.
type Commit struct {
	// Tenant is the label the commit's rows, rejects, state and run belong to; default the
	// writer's (Options.Tenant). Every row's tenant column must hold it.
	Tenant string
	// Table is the dataset the rows and rejects go to: TableActivities (also "") or
	// TableCloudAppEvents.
	Table   string
	Records []arrow.RecordBatch // rows in the table's schema (schema.Activities, schema.CloudAppEvents); the caller keeps ownership
	// RawSums, when set, holds RawSums(Records[i]) for every record: the hashes of raw the
	// index stores, computed by the caller where its rows were converted (on several cores,
	// before the commit) rather than on the commit's path. Nil: the commit computes them.
	RawSums [][]uint64
	// IDProbes, when set, holds a probe of the id set for every record (Writer.ProbeIDs, taken
	// where the record was converted): the commit completes them with the ids stored since
	// instead of looking all its ids up itself. A nil or stale probe is ignored (the commit
	// looks up); nil: the commit looks up.
	IDProbes []*IDProbe
	Rejected []schema.Rejected // records that could not become rows, with their raw text
	State    map[string]string // the tenant's state to store with the rows (watermarks, positions)
	Run      RunInfo
}

// CommitResult counts what a Commit did. Every input row is Inserted, a Duplicate or Old.
type CommitResult struct {
	Seq        int64    // the commit's sequence number (0 when nothing was written)
	Inserted   int      // new ids stored
	Duplicates int      // rows whose id was already stored, or seen earlier in this commit
	Conflicts  int      // duplicates whose raw differs from the stored (first) one
	Old        int      // rows dated before the tenant's retention horizon (Prune): not stored
	Horizon    string   // that horizon (YYYY-MM-DD) when Old > 0
	Rejected   int      // rejects stored
	Days       []string // UTC days (YYYY-MM-DD) that received new rows

	committedAt time.Time
}

// ErrNotPublished is wrapped by Commit when the commit is durable in DuckDB (rows, state and
// all: do not send it again) but writing its Parquet files or its rejected/ lines failed.
// Reconciliation at the next Open (or Close) writes them.
var ErrNotPublished = errors.New("warehouse: committed to duckdb, not yet published to parquet")

// Commit stores the rows whose ids are new (the first occurrence wins, also within the
// commit), the rejects, the state and the run bookkeeping in one DuckDB transaction, then
// publishes this commit's new rows to Parquet. If the process dies after the DuckDB commit,
// the next Open publishes them; nothing is lost or doubled.
func (w *Writer) Commit(ctx context.Context, c Commit) (_ CommitResult, err error) {
	defer markStorage(&err)
	if w.lock == nil {
		return CommitResult{}, fmt.Errorf("commit: the warehouse is closed")
	}
	if c.Tenant == "" {
		c.Tenant = w.tenant
	}
	t, err := checkCommit(c)
	if err != nil {
		return CommitResult{}, fmt.Errorf("commit: %w", err)
	}
	run := w.run
	if c.Run.ID != "" {
		run.ID = c.Run.ID
	}
	if c.Run.Command != "" {
		run.Command = c.Run.Command
	}
	if !c.Run.Started.IsZero() {
		run.Started = c.Run.Started
	}
	w.hold.mu.Lock()
	defer w.hold.mu.Unlock()
	s, err := w.commitSession(ctx)
	if err != nil {
		return CommitResult{}, fmt.Errorf("commit: %w", err)
	}
	failed := true
	defer func() {
		// Detaching checkpoints the WAL; if that fails the WAL still holds the commit.
		if err := w.endCommit(context.WithoutCancel(ctx), failed); err != nil {
			w.log.Warn("close the duckdb file after a commit", "err", err)
		}
	}()
	res, pl, err := w.commit(ctx, s, t, c, run)
	if err != nil {
		return res, fmt.Errorf("commit: %w", err)
	}
	defer pl.release()
	failed = false
	// The commit is durable from here on: what follows only derives files from it, and
	// reconciliation redoes whatever fails.
	for k, v := range c.State {
		if w.state[c.Tenant] == nil {
			w.state[c.Tenant] = map[string]string{}
		}
		w.state[c.Tenant][k] = v
	}
	return res, w.derive(ctx, t, c, run, res, pl)
}

// derive writes what a durable commit derives: its rejected/ lines and its Parquet files; then,
// the dataset having changed, it runs DatasetChanged.
func (w *Writer) derive(ctx context.Context, t *whTable, c Commit, run RunInfo, res CommitResult, pl *plan) error {
	var derived []error
	if len(c.Rejected) > 0 {
		// Appending keeps a commit's cost independent of the run's earlier rejects; Close and
		// the next Open rewrite the file from DuckDB in case a crash cut an append short.
		w.rejectRuns[rejectRun{t, run.ID}] = true
		derived = append(derived, w.appendRejects(t, run.ID, c.Rejected, c.Tenant, res.committedAt))
	}
	if pl.parquet != nil {
		derived = append(derived, w.finishParquet(pl.parquet))
	}
	if err := errors.Join(derived...); err != nil {
		return fmt.Errorf("commit: %w (the next start writes them; free space or fix permissions and rerun): %w", ErrNotPublished, err)
	}
	if pl.parquet != nil {
		if err := w.DatasetChanged(ctx); err != nil {
			return fmt.Errorf("commit %d is durable, then: %w", res.Seq, err)
		}
	}
	return nil
}

// checkCommit checks the commit's tenant and that its records are rows of its dataset, of its
// tenant, and returns the dataset.
func checkCommit(c Commit) (*whTable, error) {
	if c.Tenant == "" {
		return nil, fmt.Errorf("the warehouse holds several tenants and neither the writer nor the commit names one")
	}
	if !tenant.Valid(c.Tenant) {
		return nil, fmt.Errorf("tenant %q: %w", c.Tenant, tenant.ErrBadLabel)
	}
	t, err := datasetNamed(c.Table)
	if err != nil {
		return nil, err
	}
	if c.RawSums != nil && len(c.RawSums) != len(c.Records) {
		return nil, fmt.Errorf("check raw sums: %d lists for %d records", len(c.RawSums), len(c.Records))
	}
	if c.IDProbes != nil && len(c.IDProbes) != len(c.Records) {
		return nil, fmt.Errorf("check id probes: %d probes for %d records", len(c.IDProbes), len(c.Records))
	}
	for i, r := range c.Records {
		if err := checkSchema(t, r.Schema()); err != nil {
			return nil, err
		}
		if c.RawSums != nil && int64(len(c.RawSums[i])) != r.NumRows() {
			return nil, fmt.Errorf("check raw sums: record %d has %d rows and %d sums", i, r.NumRows(), len(c.RawSums[i]))
		}
		if err := checkTenantColumn(t, r, c.Tenant); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func checkSchema(t *whTable, got *arrow.Schema) error {
	want := t.rows
	if got.NumFields() != want.NumFields() {
		return fmt.Errorf("check batch schema: %d columns, want %d (the %s schema)", got.NumFields(), want.NumFields(), t.name)
	}
	for i := range want.NumFields() {
		g, w := got.Field(i), want.Field(i)
		if g.Name != w.Name || !arrow.TypeEqual(g.Type, w.Type) {
			return fmt.Errorf("check batch schema: column %d is %s %s, want %s %s", i, g.Name, g.Type, w.Name, w.Type)
		}
	}
	return nil
}

// checkTenantColumn checks that every row of r carries label in its tenant column: a commit
// stores one tenant's rows, and an id is deduplicated within its tenant only.
func checkTenantColumn(t *whTable, r arrow.RecordBatch, label string) error {
	col := r.Column(t.col("tenant")).(*array.String)
	for i := range col.Len() {
		if col.IsNull(i) || col.Value(i) != label {
			return fmt.Errorf("check batch tenant: row %d carries tenant %q, the commit is tenant %s's", i, col.Value(i), label)
		}
	}
	return nil
}

func (w *Writer) commit(ctx context.Context, s *session, t *whTable, c Commit, run RunInfo) (CommitResult, *plan, error) {
	var res CommitResult
	ids, horizon, err := w.dedupeState(ctx, s, t, c.Tenant)
	if err != nil {
		return res, nil, fmt.Errorf("dedupe batch: %w", err)
	}
	pl, err := planCommit(ctx, s, memory.DefaultAllocator, t, c.Tenant, c.Records, c.RawSums, c.IDProbes, ids, horizon)
	if err != nil {
		return res, nil, fmt.Errorf("dedupe batch: %w", err)
	}
	res.Inserted, res.Duplicates, res.Conflicts, res.Old = pl.inserted, pl.duplicates, pl.conflicts, pl.old
	if res.Old > 0 {
		res.Horizon = horizon.ToTime().Format(time.DateOnly)
		w.log.Debug("records dated before the tenant's retention horizon were not stored", "tenant", c.Tenant, "horizon", res.Horizon, "records", res.Old)
	}
	res.Rejected = len(c.Rejected)
	res.Days = pl.days
	if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM wh.commits`).Scan(&res.Seq); err != nil {
		pl.release()
		return res, nil, fmt.Errorf("next commit: %w", err)
	}
	now := w.opts.Clock.Now().UTC().Truncate(time.Microsecond) // DuckDB's precision
	res.committedAt = now
	// The Parquet files are written (under temporary names) while the index is built and the
	// transaction runs, on a second connection: the two take about as long, and each keeps
	// one core busy. They are renamed in only after the transaction commits (finish).
	if w.opts.Sinks.parquet() && pl.inserted > 0 {
		pl.parquet = w.startParquet(ctx, t, res.Seq, c.Tenant, pl)
	}
	if pl.buildIndex != nil {
		pl.buildIndex()
		// The id set learns the new ids before DuckDB stores them: it is written beside the
		// transaction, which commits only once it is (storeInTx). A crash in between leaves it
		// holding ids that are not stored (harmless: a hit is confirmed in DuckDB), never the
		// reverse.
		pl.addIDs(ids, res.Seq)
	}
	tStore := time.Now()
	var keptRows, keptBytes int64
	if w.opts.Sinks.duckdb() {
		keptRows, keptBytes = recordsSize(pl.keep)
	}
	if err := w.planWALGroup(ctx, s, keptRows, keptBytes); err != nil {
		pl.parquet.abort()
		pl.release()
		return res, nil, err
	}
	if err := w.storeInTx(ctx, s, t, c, run, res, now, pl); err != nil {
		pl.parquet.abort()
		pl.release()
		return res, nil, err
	}
	w.published = nil // deleted from pending by this transaction
	w.noteWALGroup(keptRows, keptBytes)
	if err := privateFiles(filepath.Join(w.dir, DatabaseFile)); err != nil {
		w.log.Warn("make the warehouse files private", "err", err)
	}
	failpoint.Hit("duckdb-after-commit")
	if (res.Inserted > 0 || len(c.Rejected) > 0) && w.log.Enabled(ctx, slog.LevelDebug) {
		w.log.Debug("committed", "seq", res.Seq, "inserted", res.Inserted, "duplicates", res.Duplicates, "conflicts", res.Conflicts,
			"rejected", res.Rejected, "days", len(res.Days), "hash", pl.tHash, "probe", pl.tProbe, "plan", pl.tSum,
			"ids", pl.tIDs, "transaction", time.Since(tStore), "c_heap", cmalloc.InUse())
	}
	return res, pl, nil
}

// dedupeState is what a commit of dataset t for tenant label dedupes against: its id set
// (opened and checked at its first commit) and the tenant's retention horizon.
func (w *Writer) dedupeState(ctx context.Context, s *session, t *whTable, label string) (*idindex.Index, arrow.Date32, error) {
	kk := knownKey{t, label}
	if w.ids[kk] == nil {
		t0 := time.Now()
		x, err := w.openIDs(ctx, s, t, label)
		if err != nil {
			return nil, 0, err
		}
		w.idsMu.Lock()
		if w.ids == nil {
			w.ids = map[knownKey]*idindex.Index{}
		}
		w.ids[kk] = x
		w.idsMu.Unlock()
		w.log.Debug("opened the id index", "table", t.name, "tenant", label, "ids", x.Count(), "runs", x.Runs(), "took", time.Since(t0))
	}
	horizon, err := horizonDay(ctx, s.conn, label)
	return w.ids[kk], horizon, err
}

// withViews registers the plan's index entries and new rows as views (when there are any)
// for the duration of f.
// storeInTx registers the commit's views and stores it in one transaction. The views are
// registered outside the transaction: creating one writes the in-memory catalog, and a DuckDB
// transaction may write only one database.
func (w *Writer) storeInTx(ctx context.Context, s *session, t *whTable, c Commit, run RunInfo, res CommitResult, now time.Time, pl *plan) error {
	return withViews(ctx, s, t, pl, func(indexView, rowsView string) error {
		return w.withFirstsRows(ctx, s, t, c.Tenant, pl, func(firsts *commitFirsts) error {
			return inTx(ctx, s, func() error {
				if err := w.store(ctx, s, t, c, run, res, now, indexView, rowsView, firsts); err != nil {
					return err
				}
				if err := pl.waitIDs(); err != nil {
					return fmt.Errorf("dedupe batch: %w", err)
				}
				failpoint.Hit("duckdb-before-commit")
				return nil
			})
		})
	})
}

func withViews(ctx context.Context, s *session, t *whTable, pl *plan, f func(indexView, rowsView string) error) error {
	if pl.index == nil {
		return f("", "")
	}
	return withView(ctx, s, "batch_index", indexSchema, []arrow.RecordBatch{pl.index}, func(indexView string) error {
		return withView(ctx, s, "batch_rows", t.rows, pl.keep, func(rowsView string) error {
			return f(indexView, rowsView)
		})
	})
}

// store writes one commit inside its transaction: the new rows straight from the caller's
// Arrow buffers (no staging copy, one pass each for the index entries and the rows), the
// bookkeeping, the rejects and the state.
func (w *Writer) store(ctx context.Context, s *session, t *whTable, c Commit, run RunInfo, res CommitResult, now time.Time, indexView, rowsView string, firsts *commitFirsts) error {
	sinks := w.opts.Sinks
	if err := w.deleteDeferred(ctx, s); err != nil {
		return err
	}
	if indexView != "" {
		if err := w.noteAppend(ctx, s, t.index, int64(res.Inserted), int64(res.Inserted)*indexRowBytes); err != nil {
			return err
		}
		if err := s.exec(ctx, `INSERT INTO wh.`+t.index+` (h, id, day, rawsum, seq, tenant) SELECT h, id, day, rawsum, ?, ? FROM `+indexView, res.Seq, c.Tenant); err != nil {
			return fmt.Errorf("store index: %w", err)
		}
		cols := t.columnList("", false)
		var err error
		if sinks.duckdb() {
			rows, bytes := recordsSize(c.Records)
			if err := w.noteAppend(ctx, s, t.name, rows, bytes); err != nil {
				return err
			}
			err = s.exec(ctx, `INSERT INTO wh.`+t.name+` (`+cols+`) SELECT `+cols+` FROM `+rowsView)
			if err == nil && t.name == activitiesTable.name {
				err = w.storeFirsts(ctx, s, c.Tenant, res.Days, firsts)
			}
		} else {
			err = s.exec(ctx, `INSERT INTO wh.`+t.staging+` (seq, `+cols+`) SELECT ?, `+cols+` FROM `+rowsView, res.Seq)
		}
		if err != nil {
			return fmt.Errorf("store rows: %w", err)
		}
	}
	stmts := []struct {
		q    string
		args []any
	}{
		{`INSERT INTO wh.commits (seq, run_id, committed_at, inserted, duplicates, conflicts, rejected, days, tenant) VALUES (?, ?, ?, ?, ?, ?, ?, ?::VARCHAR[], ?)`,
			[]any{res.Seq, run.ID, now, res.Inserted, res.Duplicates, res.Conflicts, res.Rejected, days(res.Days), c.Tenant}},
		{`INSERT INTO wh.runs (run_id, command, source, started, tenant) VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING`, []any{run.ID, run.Command, w.opts.Source, run.Started.UTC(), c.Tenant}},
		{`UPDATE wh.runs SET commits = commits + 1, inserted = inserted + ?, duplicates = duplicates + ?,
			    conflicts = conflicts + ?, rejected = rejected + ? WHERE run_id = ?`, []any{res.Inserted, res.Duplicates, res.Conflicts, res.Rejected, run.ID}},
	}
	if sinks.parquet() && len(res.Days) > 0 {
		stmts = append(stmts, struct {
			q    string
			args []any
		}{`INSERT INTO wh.` + t.pending + ` (day, seq, tenant) SELECT unnest(?::VARCHAR[])::DATE, ?, ?`, []any{days(res.Days), res.Seq, c.Tenant}})
	}
	for _, st := range stmts {
		if err := s.exec(ctx, st.q, st.args...); err != nil {
			return fmt.Errorf("store rows: %w", err)
		}
	}
	if err := w.recordTenant(ctx, s, c.Tenant); err != nil {
		return fmt.Errorf("store tenant: %w", err)
	}
	for _, r := range c.Rejected {
		text := strings.ToValidUTF8(string(r.Raw), "\uFFFD")
		if err := s.exec(ctx, `INSERT INTO wh.`+t.rejects+` (id, raw, reason, run_id, "at", raw_bytes, tenant) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			nullIfEmpty(r.ID), text, r.Reason, run.ID, now, r.Raw, c.Tenant); err != nil {
			return fmt.Errorf("store reject: %w", err)
		}
	}
	for k, v := range c.State {
		if err := s.exec(ctx, `INSERT OR REPLACE INTO wh.state (tenant, key, value, updated) VALUES (?, ?, ?, ?)`, c.Tenant, k, v, now); err != nil {
			return fmt.Errorf("store state %s: %w", k, err)
		}
	}
	return nil
}

// days renders a list for DuckDB's VARCHAR[] cast: a JSON array is a valid list literal.
func days(d []string) string {
	if d == nil {
		d = []string{}
	}
	b, _ := json.Marshal(d)
	return strings.ReplaceAll(string(b), `"`, `'`)
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// FinishRun records the end of the run and its summary (any JSON-encodable value) in the runs
// table, for mcasload status.
func (w *Writer) FinishRun(ctx context.Context, run RunInfo, summary any) (err error) {
	defer markStorage(&err)
	id := run.ID
	if id == "" {
		id = w.run.ID
	}
	b, err := json.Marshal(summary)
	if err != nil {
		return fmt.Errorf("finish run: encode summary: %w", err)
	}
	s, err := w.session(ctx)
	if err != nil {
		return fmt.Errorf("finish run: %w", err)
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	cmd, started := w.run.Command, w.run.Started
	if run.Command != "" {
		cmd = run.Command
	}
	if !run.Started.IsZero() {
		started = run.Started
	}
	now := w.opts.Clock.Now().UTC()
	err = inTx(ctx, s, func() error {
		if err := s.exec(ctx, `INSERT INTO wh.runs (run_id, command, source, started, tenant) VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING`, id, cmd, w.opts.Source, started.UTC(), nullIfEmpty(w.tenant)); err != nil {
			return err
		}
		return s.exec(ctx, `UPDATE wh.runs SET finished = ?, summary = ?::JSON WHERE run_id = ?`, now, string(b), id)
	})
	if err != nil {
		return fmt.Errorf("finish run: %w", err)
	}
	return nil
}
