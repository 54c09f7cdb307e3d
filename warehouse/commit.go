package warehouse

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/duckdb/duckdb-go/v2"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/schema"
)

// RunInfo describes the run a commit belongs to; zero fields take the writer's defaults.
type RunInfo struct {
	ID      string
	Command string
	Started time.Time
}

// Commit is one unit of work: it lands entirely or not at all.
type Commit struct {
	Records  []arrow.RecordBatch // rows in schema.Activities; the caller keeps ownership
	Rejected []schema.Rejected   // records that could not become rows, with their raw text
	State    map[string]string   // state to store with the rows (watermarks, positions)
	Run      RunInfo
}

// CommitResult counts what a Commit did. Every input row is either Inserted or a Duplicate.
type CommitResult struct {
	Seq        int64    // the commit's sequence number (0 when nothing was written)
	Inserted   int      // new ids stored
	Duplicates int      // rows whose id was already stored, or seen earlier in this commit
	Conflicts  int      // duplicates whose raw differs from the stored (first) one
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
func (w *Writer) Commit(ctx context.Context, c Commit) (CommitResult, error) {
	if w.lock == nil {
		return CommitResult{}, fmt.Errorf("commit: the warehouse is closed")
	}
	for _, r := range c.Records {
		if err := checkSchema(r.Schema()); err != nil {
			return CommitResult{}, fmt.Errorf("commit: %w", err)
		}
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
	s, err := w.session(ctx)
	if err != nil {
		return CommitResult{}, fmt.Errorf("commit: %w", err)
	}
	defer func() {
		// Detaching checkpoints the WAL; if that fails the WAL still holds the commit.
		if err := s.detachClose(context.WithoutCancel(ctx)); err != nil {
			w.log.Warn("close the duckdb file after a commit", "err", err)
		}
	}()
	res, err := w.commit(ctx, s, c, run)
	if err != nil {
		return res, fmt.Errorf("commit: %w", err)
	}
	// The commit is durable from here on: what follows only derives files from it, and
	// reconciliation redoes whatever fails.
	for k, v := range c.State {
		w.state[k] = v
	}
	var derived []error
	if len(c.Rejected) > 0 {
		// Appending keeps a commit's cost independent of the run's earlier rejects; Close and
		// the next Open rewrite the file from DuckDB in case a crash cut an append short.
		w.rejectRuns[run.ID] = true
		derived = append(derived, appendRejects(rejectedPath(w.dir, run.ID), c.Rejected, run.ID, res.committedAt))
	}
	if w.opts.Sinks.parquet() && res.Inserted > 0 {
		derived = append(derived, w.publish(ctx, s, res.Seq, res.Days, "temp.new_rows"))
	}
	if err := errors.Join(derived...); err != nil {
		return res, fmt.Errorf("commit: %w (the next start writes them; free space or fix permissions and rerun): %w", ErrNotPublished, err)
	}
	return res, nil
}

func checkSchema(got *arrow.Schema) error {
	want := schema.Activities
	if got.NumFields() != want.NumFields() {
		return fmt.Errorf("check batch schema: %d columns, want %d (schema.Activities)", got.NumFields(), want.NumFields())
	}
	for i := range want.NumFields() {
		g, w := got.Field(i), want.Field(i)
		if g.Name != w.Name || !arrow.TypeEqual(g.Type, w.Type) {
			return fmt.Errorf("check batch schema: column %d is %s %s, want %s %s", i, g.Name, g.Type, w.Name, w.Type)
		}
	}
	return nil
}

// stageBatch copies the Arrow batches into the temp table batch_in, in input order. The
// registered view lives in the in-memory catalog and is dropped before its stream is released.
func stageBatch(ctx context.Context, s *session, records []arrow.RecordBatch) error {
	create := `CREATE OR REPLACE TEMP TABLE batch_in (` + columnDefs() + `)`
	if len(records) == 0 {
		return s.exec(ctx, create)
	}
	rdr, err := array.NewRecordReader(records[0].Schema(), records)
	if err != nil {
		return fmt.Errorf("read batch: %w", err)
	}
	defer rdr.Release()
	var release func()
	err = s.conn.Raw(func(dc any) error {
		ar, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
		if err != nil {
			return err
		}
		release, err = ar.RegisterView(rdr, "batch_view")
		return err
	})
	if err != nil {
		return fmt.Errorf("register batch: %w", err)
	}
	defer release()
	if err := s.exec(ctx, `CREATE OR REPLACE TEMP TABLE batch_in AS SELECT `+columnList("", false)+` FROM memory.main.batch_view`); err != nil {
		return fmt.Errorf("stage batch: %w", err)
	}
	if err := s.exec(ctx, `DROP VIEW memory.main.batch_view`); err != nil {
		return fmt.Errorf("drop batch view: %w", err)
	}
	return nil
}

func (w *Writer) commit(ctx context.Context, s *session, c Commit, run RunInfo) (CommitResult, error) {
	var res CommitResult
	t0 := time.Now()
	if err := stageBatch(ctx, s, c.Records); err != nil {
		return res, err
	}
	tStage := time.Since(t0)
	// Dedupe on a narrow copy (ord, id, hashes): the wide rows are copied once more only
	// into the warehouse, never sorted or shuffled.
	steps := []string{
		`CREATE OR REPLACE TEMP TABLE keys AS
		   SELECT rowid AS ord, id, day, md5_number_lower(id) AS h, md5_number_lower(raw) AS rawsum,
		          row_number() OVER (PARTITION BY id ORDER BY rowid) AS rn
		   FROM temp.batch_in`,
		// Stored ids that this batch re-delivers: a scan of the 8-byte hash column, then an
		// exact comparison of the few candidates.
		`CREATE OR REPLACE TEMP TABLE existing AS
		   SELECT a.id, a.rawsum FROM wh.activity_ids a
		   WHERE a.h IN (SELECT h FROM temp.keys)`,
		`CREATE OR REPLACE TEMP TABLE keep AS
		   SELECT k.ord, k.id, k.day, k.h, k.rawsum FROM temp.keys k
		   WHERE k.rn = 1 AND NOT EXISTS (SELECT 1 FROM temp.existing e WHERE e.id = k.id)`,
	}
	for _, q := range steps {
		if err := s.exec(ctx, q); err != nil {
			return res, fmt.Errorf("dedupe batch: %w", err)
		}
	}
	var total, inserted, conflicts int64
	err := s.conn.QueryRowContext(ctx, `
		SELECT (SELECT count(*) FROM temp.keys), (SELECT count(*) FROM temp.keep),
		  (SELECT count(*) FROM temp.keys b
		     LEFT JOIN temp.existing e ON e.id = b.id
		     JOIN temp.keys f ON f.id = b.id AND f.rn = 1
		   WHERE (b.rn > 1 OR e.id IS NOT NULL) AND b.rawsum <> coalesce(e.rawsum, f.rawsum))`).Scan(&total, &inserted, &conflicts)
	if err != nil {
		return res, fmt.Errorf("count batch: %w", err)
	}
	// new_rows is what this commit stores and publishes; when every row is new (the usual
	// case) it is the staged batch itself, without a join.
	newRows := `CREATE OR REPLACE TEMP VIEW new_rows AS SELECT * FROM temp.batch_in`
	if inserted != total {
		newRows += ` WHERE rowid IN (SELECT ord FROM temp.keep)`
	}
	if err := s.exec(ctx, newRows); err != nil {
		return res, fmt.Errorf("dedupe batch: %w", err)
	}
	res.Inserted, res.Duplicates, res.Conflicts = int(inserted), int(total-inserted), int(conflicts)
	res.Rejected = len(c.Rejected)
	res.Days, err = queryStrings(ctx, s.conn, `SELECT DISTINCT strftime(day, '%Y-%m-%d') AS d FROM temp.keep ORDER BY d`)
	if err != nil {
		return res, fmt.Errorf("list days: %w", err)
	}
	if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM wh.commits`).Scan(&res.Seq); err != nil {
		return res, fmt.Errorf("next commit: %w", err)
	}
	tDedupe := time.Since(t0) - tStage
	now := w.opts.Clock.Now().UTC().Truncate(time.Microsecond) // DuckDB's precision
	res.committedAt = now
	sinks := w.opts.Sinks
	err = inTx(ctx, s, func() error {
		stmts := []struct {
			q    string
			args []any
		}{
			{`INSERT INTO wh.activity_ids SELECT h, id, day, rawsum, ? FROM temp.keep`, []any{res.Seq}},
			{`INSERT INTO wh.commits VALUES (?, ?, ?, ?, ?, ?, ?, ?::VARCHAR[])`, []any{res.Seq, run.ID, now, res.Inserted, res.Duplicates, res.Conflicts, res.Rejected, days(res.Days)}},
			{`INSERT INTO wh.runs (run_id, command, source, started) VALUES (?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING`, []any{run.ID, run.Command, w.opts.Source, run.Started.UTC()}},
			{`UPDATE wh.runs SET commits = commits + 1, inserted = inserted + ?, duplicates = duplicates + ?,
			    conflicts = conflicts + ?, rejected = rejected + ? WHERE run_id = ?`, []any{res.Inserted, res.Duplicates, res.Conflicts, res.Rejected, run.ID}},
		}
		if sinks.duckdb() {
			stmts = append(stmts, struct {
				q    string
				args []any
			}{`INSERT INTO wh.activities SELECT ` + columnList("", false) + ` FROM temp.new_rows`, nil})
		} else {
			stmts = append(stmts, struct {
				q    string
				args []any
			}{`INSERT INTO wh.staging SELECT ?, ` + columnList("", false) + ` FROM temp.new_rows`, []any{res.Seq}})
		}
		if sinks.parquet() {
			stmts = append(stmts, struct {
				q    string
				args []any
			}{`INSERT INTO wh.pending SELECT DISTINCT day, ? FROM temp.keep`, []any{res.Seq}})
		}
		for _, st := range stmts {
			if err := s.exec(ctx, st.q, st.args...); err != nil {
				return fmt.Errorf("store rows: %w", err)
			}
		}
		for _, r := range c.Rejected {
			text := strings.ToValidUTF8(string(r.Raw), "\uFFFD")
			if err := s.exec(ctx, `INSERT INTO wh.rejected_activities VALUES (?, ?, ?, ?, ?, ?)`,
				nullIfEmpty(r.ID), text, r.Reason, run.ID, now, r.Raw); err != nil {
				return fmt.Errorf("store reject: %w", err)
			}
		}
		for k, v := range c.State {
			if err := s.exec(ctx, `INSERT OR REPLACE INTO wh.state VALUES (?, ?, ?)`, k, v, now); err != nil {
				return fmt.Errorf("store state %s: %w", k, err)
			}
		}
		failpoint.Hit("duckdb-before-commit")
		return nil
	})
	if err != nil {
		return res, err
	}
	if err := privateFiles(filepath.Join(w.dir, DatabaseFile)); err != nil {
		w.log.Warn("make the warehouse files private", "err", err)
	}
	failpoint.Hit("duckdb-after-commit")
	if res.Inserted > 0 || len(c.Rejected) > 0 {
		w.log.Debug("committed", "seq", res.Seq, "inserted", res.Inserted, "duplicates", res.Duplicates, "conflicts", res.Conflicts,
			"rejected", res.Rejected, "days", len(res.Days), "stage", tStage, "dedupe", tDedupe, "transaction", time.Since(t0)-tStage-tDedupe)
	}
	return res, nil
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
func (w *Writer) FinishRun(ctx context.Context, run RunInfo, summary any) error {
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
		if err := s.exec(ctx, `INSERT INTO wh.runs (run_id, command, source, started) VALUES (?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING`, id, cmd, w.opts.Source, started.UTC()); err != nil {
			return err
		}
		return s.exec(ctx, `UPDATE wh.runs SET finished = ?, summary = ?::JSON WHERE run_id = ?`, now, string(b), id)
	})
	if err != nil {
		return fmt.Errorf("finish run: %w", err)
	}
	return nil
}

// rejectLine is one line of rejected/<run>.ndjson. Raw is the record text; when it is not valid
// UTF-8 it is in RawBase64 instead, so the file keeps exactly what was received.
type rejectLine struct {
	ID        string    `json:"id,omitempty"`
	Reason    string    `json:"reason"`
	RunID     string    `json:"run_id"`
	At        time.Time `json:"at"`
	Raw       string    `json:"raw,omitempty"`
	RawBase64 []byte    `json:"raw_base64,omitempty"`
}

func newRejectLine(id, reason, runID string, at time.Time, raw []byte) rejectLine {
	l := rejectLine{ID: id, Reason: reason, RunID: runID, At: at}
	if utf8.Valid(raw) {
		l.Raw = string(raw)
	} else {
		l.RawBase64 = raw
	}
	return l
}

// appendRejects appends rejects to the run's file and syncs it.
func appendRejects(path string, rejects []schema.Rejected, runID string, at time.Time) error {
	var buf []byte
	for _, r := range rejects {
		b, err := json.Marshal(newRejectLine(r.ID, r.Reason, runID, at, r.Raw))
		if err != nil {
			return fmt.Errorf("encode reject: %w", err)
		}
		buf = append(append(buf, b...), '\n')
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write rejects %s: %w", path, err)
	}
	return nil
}

// writeRejectedFile rewrites rejected/<run>.ndjson from DuckDB (the source of truth), under a
// temporary name, so the file is complete or absent, never half written.
func (w *Writer) writeRejectedFile(ctx context.Context, s *session, runID string) error {
	rows, err := s.conn.QueryContext(ctx, `SELECT coalesce(id, ''), reason, run_id, "at", raw_bytes FROM wh.rejected_activities WHERE run_id = ? ORDER BY "at", rowid`, runID)
	if err != nil {
		return fmt.Errorf("read rejects: %w", err)
	}
	defer rows.Close()
	var buf []byte
	for rows.Next() {
		var id, reason, run string
		var at time.Time
		var raw []byte
		if err := rows.Scan(&id, &reason, &run, &at, &raw); err != nil {
			return fmt.Errorf("read rejects: %w", err)
		}
		b, err := json.Marshal(newRejectLine(id, reason, run, at.UTC(), raw))
		if err != nil {
			return fmt.Errorf("encode reject: %w", err)
		}
		buf = append(append(buf, b...), '\n')
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rejects: %w", err)
	}
	return writeFileAtomic(rejectedPath(w.dir, runID), buf)
}
