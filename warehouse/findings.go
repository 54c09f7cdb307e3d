package warehouse

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcasload/mcasload/internal/failpoint"
)

// The findings table (issue 20, docs/detect.md): what `mcasload detect` found and where each
// finding stands, its acknowledgements and its delivery state. It lives in the DuckDB file and,
// since a rebuilt DuckDB file must keep it, in a Parquet snapshot of the whole table that every
// change rewrites: parquet/findings/findings-<generation>.parquet. The generation counts the
// changes (meta key findings_generation, raised in the transaction of the change); the snapshot
// of the current generation is written after the transaction commits and the older ones are
// removed, so a crash in between leaves the previous snapshot, which the next Open replaces
// (reconcileFindings). The snapshot also carries the detect watermarks in its key-value metadata.

// FindingsDir is the folder of the findings snapshot, beside the activities dataset.
const FindingsDir = "parquet/findings"

// findingsVersion is the version of the findings row schema (meta key findings_version and the
// snapshot's mcasload.findings_version).
const findingsVersion = 1

// kindFindings: a table kept in DuckDB with a Parquet snapshot of the whole table after every
// change (the findings). reconcile writes a missing snapshot of the current generation, verify
// compares the two, repair and RebuildDatabase restore DuckDB from the snapshot.
const kindFindings tableKind = "findings"

// findingsColumns is the findings table, column by column: the one list the migration, the
// row reader and the inserts use.
var findingsColumns = []struct{ name, typ string }{
	{"tenant", "VARCHAR NOT NULL"},
	{"id", "VARCHAR NOT NULL"},
	{"investigation", "VARCHAR NOT NULL"},
	{"entity_user", "VARCHAR NOT NULL"},
	{"entity_ip", "VARCHAR NOT NULL"},
	{"entity_app", "VARCHAR NOT NULL"},
	{"entity_object", "VARCHAR NOT NULL"},
	{"bucket", "VARCHAR NOT NULL"},
	{"title", "VARCHAR"},
	{"severity", "VARCHAR NOT NULL"},
	{"techniques", "VARCHAR[]"},
	{"first_seen", "TIMESTAMPTZ NOT NULL"},
	{"last_seen", "TIMESTAMPTZ NOT NULL"},
	{"evidence_ids", "VARCHAR[]"},
	{"evidence_pruned", "BOOLEAN NOT NULL"},
	{"portal_urls", "VARCHAR[]"},
	{"portal_note", "VARCHAR"},
	{"row_json", "VARCHAR"},
	{"status", "VARCHAR NOT NULL"},
	{"status_reason", "VARCHAR"},
	{"status_by", "VARCHAR"},
	{"detected_at", "TIMESTAMPTZ NOT NULL"},
	{"updated_at", "TIMESTAMPTZ NOT NULL"},
	{"notified_at", "TIMESTAMPTZ"},
	{"acknowledged_at", "TIMESTAMPTZ"},
	{"suppressed_at", "TIMESTAMPTZ"},
	{"resolved_at", "TIMESTAMPTZ"},
	{"notification", "INTEGER NOT NULL"},
	{"reason", "VARCHAR NOT NULL"},
	{"previous_severity", "VARCHAR"},
	{"delivered", "INTEGER NOT NULL"},
	{"delivered_severity", "VARCHAR"},
	{"accepted_sinks", "VARCHAR[]"},
}

func findingsColumnNames() string {
	names := make([]string, len(findingsColumns))
	for i, c := range findingsColumns {
		names[i] = c.name
	}
	return strings.Join(names, ", ")
}

// migrationFindings creates the findings table (tolerating one a downgraded test warehouse kept).
var migrationFindings = func() string {
	cols := make([]string, len(findingsColumns))
	for i, c := range findingsColumns {
		cols[i] = c.name + " " + c.typ
	}
	return `CREATE TABLE IF NOT EXISTS wh.findings (` + strings.Join(cols, ", ") + `);`
}()

// FindingRow is one row of the findings table. Times that were never reached are zero.
type FindingRow struct {
	Tenant        string
	ID            string
	Investigation string
	// The key's entities (normalized) and time bucket.
	User, IP, App, Object, Bucket string
	Title                         string
	Severity                      string
	Techniques                    []string
	FirstSeen, LastSeen           time.Time
	EvidenceIDs                   []string
	EvidencePruned                bool
	PortalURLs                    []string
	PortalNote                    string
	// Row is the investigation's result row as a JSON object.
	Row string
	// Status is new, notified, acknowledged, suppressed or resolved; StatusReason and StatusBy
	// say why and who for the last status an analyst set.
	Status, StatusReason, StatusBy string
	DetectedAt, UpdatedAt          time.Time
	NotifiedAt, AcknowledgedAt     time.Time
	SuppressedAt, ResolvedAt       time.Time
	// Notification is the number of the delivery the finding is owed (or was given): 1 when
	// it is new, raised when its severity rises or it comes back; Reason says why.
	Notification     int
	Reason           string
	PreviousSeverity string
	// Delivered is the last notification every sink accepted (0: none); DeliveredSeverity the
	// severity it carried. AcceptedSinks are the sinks (their IDs) that accepted Notification
	// while others have not yet.
	Delivered         int
	DeliveredSeverity string
	AcceptedSinks     []string
}

// Pending reports whether the finding is owed a delivery: a notification no sink set accepted
// yet, unless an analyst suppressed it.
func (f *FindingRow) Pending() bool {
	return f.Notification > f.Delivered && f.Status != "suppressed"
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

func jsonList(l []string) string {
	if l == nil {
		l = []string{}
	}
	b, _ := json.Marshal(l)
	return string(b)
}

// findingsInsert inserts one row; lists travel as JSON text, turned into VARCHAR[] by DuckDB.
var findingsInsert = func() string {
	vals := make([]string, len(findingsColumns))
	for i, c := range findingsColumns {
		vals[i] = "?"
		if strings.HasPrefix(c.typ, "VARCHAR[]") {
			vals[i] = `from_json(?::JSON, '["VARCHAR"]')`
		}
	}
	return `INSERT INTO wh.findings (` + findingsColumnNames() + `) VALUES (` + strings.Join(vals, ", ") + `)`
}()

func (f *FindingRow) args() []any {
	return []any{f.Tenant, f.ID, f.Investigation, f.User, f.IP, f.App, f.Object, f.Bucket,
		f.Title, f.Severity, jsonList(f.Techniques), f.FirstSeen.UTC(), f.LastSeen.UTC(),
		jsonList(f.EvidenceIDs), f.EvidencePruned, jsonList(f.PortalURLs), f.PortalNote, f.Row,
		f.Status, f.StatusReason, f.StatusBy, f.DetectedAt.UTC(), f.UpdatedAt.UTC(),
		nullTime(f.NotifiedAt), nullTime(f.AcknowledgedAt), nullTime(f.SuppressedAt), nullTime(f.ResolvedAt),
		f.Notification, f.Reason, f.PreviousSeverity, f.Delivered, f.DeliveredSeverity, jsonList(f.AcceptedSinks)}
}

// findingsSelect reads rows in the order of FindingRow.scan; lists come back as JSON text.
var findingsSelect = func() string {
	cols := make([]string, len(findingsColumns))
	for i, c := range findingsColumns {
		cols[i] = c.name
		switch {
		case strings.HasPrefix(c.typ, "VARCHAR[]"):
			cols[i] = "to_json(coalesce(" + c.name + ", []::VARCHAR[]))::VARCHAR"
		case strings.HasPrefix(c.typ, "VARCHAR") && !strings.HasSuffix(c.typ, "NOT NULL"):
			cols[i] = "coalesce(" + c.name + ", '')"
		}
	}
	return `SELECT ` + strings.Join(cols, ", ")
}()

func scanFinding(rows *sql.Rows) (FindingRow, error) {
	var f FindingRow
	var tech, ev, urls, sinks string
	var notified, acked, suppressed, resolved sql.NullTime
	err := rows.Scan(&f.Tenant, &f.ID, &f.Investigation, &f.User, &f.IP, &f.App, &f.Object, &f.Bucket,
		&f.Title, &f.Severity, &tech, &f.FirstSeen, &f.LastSeen, &ev, &f.EvidencePruned, &urls, &f.PortalNote, &f.Row,
		&f.Status, &f.StatusReason, &f.StatusBy, &f.DetectedAt, &f.UpdatedAt,
		&notified, &acked, &suppressed, &resolved,
		&f.Notification, &f.Reason, &f.PreviousSeverity, &f.Delivered, &f.DeliveredSeverity, &sinks)
	if err != nil {
		return f, err
	}
	for _, l := range []struct {
		text string
		dst  *[]string
	}{{tech, &f.Techniques}, {ev, &f.EvidenceIDs}, {urls, &f.PortalURLs}, {sinks, &f.AcceptedSinks}} {
		if err := json.Unmarshal([]byte(l.text), l.dst); err != nil {
			return f, fmt.Errorf("read finding %s: %w", f.ID, err)
		}
	}
	f.NotifiedAt, f.AcknowledgedAt, f.SuppressedAt, f.ResolvedAt = notified.Time, acked.Time, suppressed.Time, resolved.Time
	for _, t := range []*time.Time{&f.FirstSeen, &f.LastSeen, &f.DetectedAt, &f.UpdatedAt, &f.NotifiedAt, &f.AcknowledgedAt, &f.SuppressedAt, &f.ResolvedAt} {
		if !t.IsZero() {
			*t = t.UTC()
		}
	}
	return f, nil
}

// readFindings reads the rows of table (wh.findings, or a snapshot) that where selects.
func readFindings(ctx context.Context, conn *sql.Conn, table, where string, args ...any) ([]FindingRow, error) {
	rows, err := conn.QueryContext(ctx, findingsSelect+` FROM `+table+` `+where+` ORDER BY tenant, detected_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("read findings: %w", err)
	}
	defer rows.Close()
	var out []FindingRow
	for rows.Next() {
		f, err := scanFinding(rows)
		if err != nil {
			return nil, fmt.Errorf("read findings: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read findings: %w", err)
	}
	return out, nil
}

// Findings returns the findings of tenant (every tenant when empty), oldest first.
func (w *Writer) Findings(ctx context.Context, tenant string) (_ []FindingRow, err error) {
	defer markStorage(&err)
	s, err := w.session(ctx)
	if err != nil {
		return nil, err
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	if tenant == "" {
		return readFindings(ctx, s.conn, "wh.findings", "")
	}
	return readFindings(ctx, s.conn, "wh.findings", "WHERE tenant = ?", tenant)
}

// detectWatermarkKey is the meta key of a tenant's detect watermark over its activities (a
// created time, in epoch ms); detectStreamKey the key of its watermark over the stream (a
// commit).
func detectWatermarkKey(tenant string) string { return "detect_watermark/" + tenant }
func detectStreamKey(tenant string) string    { return "detect_stream_watermark/" + tenant }

// DetectMark is how far detect has looked at a tenant's rows. Activities are new when their
// created time is past Created; the stream has no created time, so a stream row is new when the
// commit that loaded it (its dedupe index's seq) is past Stream. Zero values: detect never looked.
type DetectMark struct {
	Created time.Time
	Stream  int64
}

// DetectWatermark is how far detect has looked at tenant's activities and stream rows (zero when
// it never ran).
func (w *Writer) DetectWatermark(ctx context.Context, tenant string) (_ DetectMark, err error) {
	defer markStorage(&err)
	s, err := w.session(ctx)
	if err != nil {
		return DetectMark{}, err
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	var m DetectMark
	for _, k := range []string{detectWatermarkKey(tenant), detectStreamKey(tenant)} {
		var v sql.NullString
		if err := s.conn.QueryRowContext(ctx, `SELECT value FROM wh.meta WHERE key = ?`, k).Scan(&v); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return DetectMark{}, fmt.Errorf("read detect watermark: %w", err)
		}
		if !v.Valid {
			continue
		}
		n, err := strconv.ParseInt(v.String, 10, 64)
		if err != nil {
			return DetectMark{}, fmt.Errorf("read detect watermark %s %q: %w", k, v.String, err)
		}
		if k == detectStreamKey(tenant) {
			m.Stream = n
		} else {
			m.Created = time.UnixMilli(n).UTC()
		}
	}
	return m, nil
}

// LastCommit is the warehouse's last commit (0 when nothing was committed): every row stored so
// far was loaded by it or an earlier one.
func (w *Writer) LastCommit(ctx context.Context) (_ int64, err error) {
	defer markStorage(&err)
	s, err := w.session(ctx)
	if err != nil {
		return 0, err
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	var seq int64
	if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM wh.commits`).Scan(&seq); err != nil {
		return 0, fmt.Errorf("read the last commit: %w", err)
	}
	return seq, nil
}

// SaveFindings stores rows (each replaces the row of its tenant and id) and, when watermark is
// not nil, tenant's detect watermarks (each part that is not zero), in one transaction, then
// publishes the snapshot. A crash before the commit leaves everything as it was; after it, the
// next Open publishes the snapshot.
func (w *Writer) SaveFindings(ctx context.Context, tenant string, rows []FindingRow, watermark *DetectMark) (err error) {
	defer markStorage(&err)
	if len(rows) == 0 && watermark == nil {
		return nil
	}
	s, err := w.session(ctx)
	if err != nil {
		return err
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	err = inTx(ctx, s, func() error {
		for i := range rows {
			f := &rows[i]
			if f.Tenant != tenant {
				return fmt.Errorf("finding %s belongs to tenant %q, not %q", f.ID, f.Tenant, tenant)
			}
			if err := s.exec(ctx, `DELETE FROM wh.findings WHERE tenant = ? AND id = ?`, f.Tenant, f.ID); err != nil {
				return err
			}
			if err := s.exec(ctx, findingsInsert, f.args()...); err != nil {
				return err
			}
		}
		if err := saveDetectMark(ctx, s, tenant, watermark); err != nil {
			return err
		}
		return s.exec(ctx, `INSERT OR REPLACE INTO wh.meta VALUES ('findings_generation',
			(SELECT (coalesce(max(value::BIGINT), 0) + 1)::VARCHAR FROM wh.meta WHERE key = 'findings_generation'))`)
	})
	if err != nil {
		return fmt.Errorf("save findings: %w", err)
	}
	failpoint.Hit("findings-committed")
	if err := w.publishFindings(ctx, s); err != nil {
		return fmt.Errorf("save findings: %w", err)
	}
	return nil
}

// saveDetectMark stores the parts of tenant's detect watermarks m gives (nil or zero: kept).
func saveDetectMark(ctx context.Context, s *session, tenant string, m *DetectMark) error {
	if m == nil {
		return nil
	}
	if !m.Created.IsZero() {
		if err := s.exec(ctx, `INSERT OR REPLACE INTO wh.meta VALUES (?, ?)`, detectWatermarkKey(tenant), strconv.FormatInt(m.Created.UnixMilli(), 10)); err != nil {
			return err
		}
	}
	if m.Stream > 0 {
		if err := s.exec(ctx, `INSERT OR REPLACE INTO wh.meta VALUES (?, ?)`, detectStreamKey(tenant), strconv.FormatInt(m.Stream, 10)); err != nil {
			return err
		}
	}
	return nil
}

// findingsGeneration is the generation DuckDB's findings are at (0: never changed).
func findingsGeneration(ctx context.Context, s *session) (int64, error) {
	var g int64
	err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(value::BIGINT), 0) FROM wh.meta WHERE key = 'findings_generation'`).Scan(&g)
	if err != nil {
		return 0, fmt.Errorf("read findings generation: %w", err)
	}
	return g, nil
}

var snapshotRE = regexp.MustCompile(`^findings-(\d+)\.parquet$`)

// findingSnapshots lists the snapshots in dir/FindingsDir by generation, highest first.
func findingSnapshots(dir string) ([]int64, error) {
	entries, err := os.ReadDir(filepath.Join(dir, FindingsDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list findings snapshots: %w", err)
	}
	var gens []int64
	for _, e := range entries {
		if m := snapshotRE.FindStringSubmatch(e.Name()); m != nil {
			g, _ := strconv.ParseInt(m[1], 10, 64)
			gens = append(gens, g)
		}
	}
	slices.Sort(gens)
	slices.Reverse(gens)
	return gens, nil
}

func snapshotName(gen int64) string { return fmt.Sprintf("findings-%d.parquet", gen) }

// detectWatermarks reads every tenant's detect watermarks of one kind from meta (prefix
// "detect_watermark/": created times in ms; "detect_stream_watermark/": commits), as JSON
// {"tenant": n}.
func detectWatermarks(ctx context.Context, s *session, prefix string) (string, error) {
	marks := map[string]int64{}
	err := scanRows(ctx, s.conn, `SELECT key, value FROM wh.meta WHERE starts_with(key, `+quoteString(prefix)+`)`, func(r *sql.Rows) error {
		var k, v string
		if err := r.Scan(&k, &v); err != nil {
			return err
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("meta %s: %w", k, err)
		}
		marks[strings.TrimPrefix(k, prefix)] = n
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("read detect watermarks: %w", err)
	}
	b, _ := json.Marshal(marks)
	return string(b), nil
}

// publishFindings writes the snapshot of DuckDB's current generation (when the warehouse keeps
// Parquet) and removes the older ones.
func (w *Writer) publishFindings(ctx context.Context, s *session) error {
	if !w.opts.Sinks.parquet() {
		return nil
	}
	gen, err := findingsGeneration(ctx, s)
	if err != nil || gen == 0 {
		return err
	}
	dir := filepath.Join(w.dir, FindingsDir)
	if err := mkdirAll(dir); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	name := snapshotName(gen)
	if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
		marks, err := detectWatermarks(ctx, s, detectWatermarkKey(""))
		if err != nil {
			return err
		}
		streamMarks, err := detectWatermarks(ctx, s, detectStreamKey(""))
		if err != nil {
			return err
		}
		tmp := filepath.Join(dir, "."+name+".tmp")
		if err := os.WriteFile(tmp, nil, 0o600); err != nil {
			return fmt.Errorf("write findings snapshot: %w", err)
		}
		md := fmt.Sprintf("{'mcasload.findings_version': '%d', 'mcasload.findings_generation': '%d', 'mcasload.detect_watermarks': %s, 'mcasload.detect_stream_watermarks': %s}",
			findingsVersion, gen, quoteString(marks), quoteString(streamMarks))
		q := fmt.Sprintf(`COPY (SELECT %s FROM wh.findings ORDER BY tenant, id) TO %s (FORMAT PARQUET, COMPRESSION zstd, KV_METADATA %s, USE_TMP_FILE false)`,
			findingsColumnNames(), quoteString(tmp), md)
		if err := s.exec(ctx, q); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("write findings snapshot: %w", err)
		}
		if err := syncFile(tmp); err != nil {
			os.Remove(tmp)
			return err
		}
		if err := publishTemp(tmp, name, "findings"); err != nil {
			return err
		}
	}
	return removeOldSnapshots(dir, gen)
}

// removeOldSnapshots removes the snapshots before gen and temporary files.
func removeOldSnapshots(dir string, gen int64) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list findings snapshots: %w", err)
	}
	for _, e := range entries {
		m := snapshotRE.FindStringSubmatch(e.Name())
		old := m != nil && func() bool { g, _ := strconv.ParseInt(m[1], 10, 64); return g < gen }()
		if old || strings.HasSuffix(e.Name(), ".tmp") {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("remove old findings snapshot: %w", err)
			}
		}
	}
	return nil
}

// reconcileFindings publishes the snapshot a crash left unwritten. A snapshot newer than DuckDB
// (the DuckDB file was replaced) is left for repair to read back.
func (w *Writer) reconcileFindings(ctx context.Context, s *session) error {
	gen, err := findingsGeneration(ctx, s)
	if err != nil || gen == 0 {
		return err
	}
	gens, err := findingSnapshots(w.dir)
	if err != nil {
		return err
	}
	if len(gens) > 0 && gens[0] > gen {
		w.log.Warn("the findings snapshot is newer than the duckdb file: run mcasload repair --from parquet to restore the findings from it",
			"snapshot", snapshotName(gens[0]), "duckdb_generation", gen)
		return nil
	}
	return w.publishFindings(ctx, s)
}

// verifyFindings compares DuckDB's findings with the snapshot of their generation.
func (w *Writer) verifyFindings(ctx context.Context, s *session) ([]string, error) {
	if !w.opts.Sinks.parquet() {
		return nil, nil
	}
	gen, err := findingsGeneration(ctx, s)
	if err != nil || gen == 0 {
		return nil, err
	}
	file := filepath.Join(w.dir, FindingsDir, snapshotName(gen))
	if _, err := os.Stat(file); err != nil {
		return []string{fmt.Sprintf("findings: the snapshot %s of generation %d is missing", filepath.Join(FindingsDir, snapshotName(gen)), gen)}, nil
	}
	cols := findingsColumnNames()
	var onlyDuck, onlyParquet int64
	q := fmt.Sprintf(`SELECT (SELECT count(*) FROM (SELECT %[1]s FROM wh.findings EXCEPT ALL SELECT %[1]s FROM read_parquet(%[2]s))),
		(SELECT count(*) FROM (SELECT %[1]s FROM read_parquet(%[2]s) EXCEPT ALL SELECT %[1]s FROM wh.findings))`, cols, quoteString(file))
	if err := s.conn.QueryRowContext(ctx, q).Scan(&onlyDuck, &onlyParquet); err != nil {
		return []string{fmt.Sprintf("findings: the snapshot %s cannot be read: %v", snapshotName(gen), err)}, nil
	}
	if onlyDuck+onlyParquet > 0 {
		return []string{fmt.Sprintf("findings: %d rows differ in duckdb and %d in the snapshot %s", onlyDuck, onlyParquet, snapshotName(gen))}, nil
	}
	return nil, nil
}

// restoreFindings replaces DuckDB's findings and detect watermarks with the newest snapshot's
// when that is newer than DuckDB's generation (a rebuilt or replaced DuckDB file), in one
// transaction; with DuckDB as newer or equal, it rewrites the snapshot from DuckDB.
func (w *Writer) restoreFindings(ctx context.Context, s *session) error {
	gen, err := findingsGeneration(ctx, s)
	if err != nil {
		return err
	}
	gens, err := findingSnapshots(w.dir)
	if err != nil {
		return err
	}
	if len(gens) == 0 || gens[0] <= gen {
		return w.publishFindings(ctx, s)
	}
	file := quoteString(filepath.Join(w.dir, FindingsDir, snapshotName(gens[0])))
	wm, err := snapshotMarks(ctx, s, file, "mcasload.detect_watermarks")
	if err != nil {
		return err
	}
	sm, err := snapshotMarks(ctx, s, file, "mcasload.detect_stream_watermarks")
	if err != nil {
		return err
	}
	// A stream watermark names a commit. Commits the lost DuckDB file had recorded past the last
	// one Parquet names are gone, and new commits take their numbers again: a watermark past the
	// last commit would hide them, so it comes back no further than the last commit.
	var last int64
	if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM wh.commits`).Scan(&last); err != nil {
		return fmt.Errorf("read the last commit: %w", err)
	}
	err = inTx(ctx, s, func() error {
		if err := s.exec(ctx, `DELETE FROM wh.findings`); err != nil {
			return err
		}
		if err := s.exec(ctx, `INSERT INTO wh.findings BY NAME SELECT `+findingsColumnNames()+` FROM read_parquet(`+file+`)`); err != nil {
			return err
		}
		for t, ms := range wm {
			if err := s.exec(ctx, `INSERT OR REPLACE INTO wh.meta VALUES (?, ?)`, detectWatermarkKey(t), strconv.FormatInt(ms, 10)); err != nil {
				return err
			}
		}
		for t, seq := range sm {
			if err := s.exec(ctx, `INSERT OR REPLACE INTO wh.meta VALUES (?, ?)`, detectStreamKey(t), strconv.FormatInt(min(seq, last), 10)); err != nil {
				return err
			}
		}
		return s.exec(ctx, `INSERT OR REPLACE INTO wh.meta VALUES ('findings_generation', ?)`, strconv.FormatInt(gens[0], 10))
	})
	if err != nil {
		return fmt.Errorf("restore findings from %s: %w", snapshotName(gens[0]), err)
	}
	w.log.Info("restored the findings from their parquet snapshot", "snapshot", snapshotName(gens[0]))
	return removeOldSnapshots(filepath.Join(w.dir, FindingsDir), gens[0])
}

// snapshotMarks reads the watermarks a findings snapshot (file, quoted) keeps under key in its
// metadata ({"tenant": n}; none when the key is missing: a snapshot from before it).
func snapshotMarks(ctx context.Context, s *session, file, key string) (map[string]int64, error) {
	var marks sql.NullString
	if err := s.conn.QueryRowContext(ctx, `SELECT decode(value) FROM parquet_kv_metadata(`+file+`) WHERE decode(key) = ?`, key).Scan(&marks); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read findings snapshot: %w", err)
	}
	out := map[string]int64{}
	if marks.Valid {
		if err := json.Unmarshal([]byte(marks.String), &out); err != nil {
			return nil, fmt.Errorf("read findings snapshot's %s: %w", key, err)
		}
	}
	return out, nil
}

// findingsView is the reader's findings view: the DuckDB table, else the newest snapshot, else
// an empty table of the same columns.
func findingsView(ctx context.Context, conn *sql.Conn, from, dir string) string {
	if from == FromDuckDB {
		var n int
		if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables() WHERE database_name = 'wh' AND table_name = 'findings'`).Scan(&n); err == nil && n > 0 {
			return `CREATE VIEW memory.main.findings AS SELECT * FROM wh.findings`
		}
	}
	if gens, _ := findingSnapshots(dir); len(gens) > 0 {
		return `CREATE VIEW memory.main.findings AS SELECT * FROM read_parquet(` + quoteString(filepath.Join(dir, FindingsDir, snapshotName(gens[0]))) + `)`
	}
	return strings.Replace(migrationFindings, "wh.findings", "memory.main.findings", 1)
}
