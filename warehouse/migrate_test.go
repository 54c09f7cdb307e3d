package warehouse

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/tenant"
)

// mailRecord is an API-like record; kind picks what rawDataJson.Parameters holds.
func mailRecord(i int, ts time.Time) string {
	id := fmt.Sprintf("m-%06d", i)
	head := fmt.Sprintf(`{"_id":%q,"timestamp":%d,"user":{"userName":"u%d@contoso.com"},"mainInfo":{"rawOperationName":"New-InboxRule"}`,
		id, ts.UnixMilli(), i%5)
	switch i % 6 {
	case 0: // a rule with forwarding, an escaped quote and non-ASCII text
		return head + fmt.Sprintf(`,"rawDataJson":{"Operation":"New-InboxRule","Parameters":[{"Name":"Name","Value":"r\"%d é"},{"Name":"ForwardTo","Value":"x%d@evil.example"}],"LogonType":0}}`, i, i)
	case 1: // no rawDataJson
		return head + `,"description":"Parameters mentioned in prose"}`
	case 2: // rawDataJson without Parameters, with the other copies of raw (schema version 4)
		return head + fmt.Sprintf(`,"rawDataJson":{"Operation":"MailItemsAccessed","Nested":{"Parameters":[1]},"LogonType":%d,"MailboxOwnerUPN":"Boss%d@contoso.com","awsRegion":"eu-west-%d","ModifiedProperties":[{"Name":"StrongAuthenticationMethod","NewValue":"[{\"MethodType\":%d}]","OldValue":"[]"}]}}`, i%3, i, i%3, i)
	case 3: // Parameters and ModifiedProperties that are not arrays, a LogonType that is a numeric string: NULL, NULL, 2
		return head + `,"rawDataJson":{"Parameters":{"Name":"ForwardTo"},"ModifiedProperties":"x","LogonType":"2","awsRegion":7}}`
	case 4: // Parameters null
		return head + `,"rawDataJson":{"Parameters":null}}`
	default: // an empty array
		return head + `,"rawDataJson":{"Parameters":[]}}`
	}
}

// convertRecords runs the schema's converter over raws, for testTenant.
func convertRecords(t testing.TB, mem memory.Allocator, raws []string) arrow.RecordBatch {
	t.Helper()
	return convertTenant(t, mem, testTenant, raws)
}

// convertTenant runs the schema's converter over raws, for tenant label.
func convertTenant(t testing.TB, mem memory.Allocator, label string, raws []string) arrow.RecordBatch {
	t.Helper()
	in := make([]json.RawMessage, len(raws))
	for i, r := range raws {
		in[i] = json.RawMessage(r)
	}
	b, err := schema.NewConverter(mem, schema.Options{Tenant: label}).Convert(in)
	if err != nil || len(b.Rejected) > 0 {
		t.Fatalf("convert: %v, rejected %v", err, b.Rejected)
	}
	return b.Record
}

// loadMail builds a warehouse with two commits of mail records over three days (so each day has
// two Parquet parts) and returns the parameters per id the converter produced.
func loadMail(t *testing.T, dir string, sinks Sinks) map[string]string {
	t.Helper()
	mem := newMem(t)
	w := openTest(t, dir, sinks)
	want := map[string]string{}
	for c := range 2 {
		var raws []string
		for i := c * 60; i < (c+1)*60; i++ {
			raws = append(raws, mailRecord(i, day0.Add(time.Duration(i%60)*71*time.Minute)))
		}
		rec := convertRecords(t, mem, raws)
		ids := rec.Column(0)
		for i := range int(rec.NumRows()) {
			if v := copiesOf(rec, i); v != "" {
				want[ids.ValueStr(i)] = v
			}
		}
		if _, err := w.Commit(t.Context(), Commit{Records: recs(rec)}); err != nil {
			t.Fatal(err)
		}
		rec.Release()
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// parameters in kinds 0 and 5, the other copies in 2, a logon type in 3: 20 records each
	if len(want) != 80 {
		t.Fatalf("the converter found copies of raw in %d records, want 80", len(want))
	}
	return want
}

// copiesOf renders row i's copies of raw (rawCopies) as one comparable text, "" when they are
// all NULL. A JSON array is compared by what it holds (the converter keeps the bytes, DuckDB's
// re-serialisation may differ in spacing).
func copiesOf(rec arrow.RecordBatch, i int) string {
	var parts []string
	some := false
	for _, c := range rawCopies {
		col := rec.Column(schema.Activities.FieldIndices(c.name)[0])
		v := "NULL"
		if !col.IsNull(i) {
			v, some = canonicalJSON(col.ValueStr(i)), true
		}
		parts = append(parts, c.name+"="+v)
	}
	if !some {
		return ""
	}
	return strings.Join(parts, " ")
}

// canonicalJSON re-encodes a JSON array or object compactly; any other text is itself.
func canonicalJSON(v string) string {
	var x any
	if (strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{")) && json.Unmarshal([]byte(v), &x) == nil {
		b, _ := json.Marshal(x)
		return string(b)
	}
	return v
}

// sqlSession opens an in-memory DuckDB with the warehouse file (if any) attached as wh.
func sqlSession(t testing.TB, dir string, attach bool) *session {
	t.Helper()
	file := ""
	if attach {
		file = filepath.Join(dir, DatabaseFile)
	}
	s, err := openSession(context.Background(), sessionConfig{memoryLimit: "300MB", threads: 2, lockWait: 5 * time.Second}, file, false)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustExec(t testing.TB, s *session, q string, args ...any) {
	t.Helper()
	if err := s.exec(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// downgradeParquet rewrites each file as schema version 1 wrote it: no copies of raw,
// version 1 in the key-value metadata.
func downgradeParquet(t testing.TB, files []string) {
	t.Helper()
	rewriteParquet(t, files, 1)
}

// rewriteParquet rewrites each file as schema version (1 or 3) wrote it: without the copies of
// raw added since, version in the key-value metadata.
func rewriteParquet(t testing.TB, files []string, version int) {
	t.Helper()
	s := sqlSession(t, "", false)
	defer s.close()
	for _, f := range files {
		var drop []string
		for _, c := range copiesSince(version) {
			var n int
			if err := s.conn.QueryRowContext(context.Background(), fmt.Sprintf(`SELECT count(*) FROM (DESCRIBE SELECT * FROM read_parquet(%s, hive_partitioning = false)) WHERE column_name = ?`, quoteString(f)), c).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				drop = append(drop, c)
			}
		}
		tmp := f + ".old"
		mustExec(t, s, fmt.Sprintf(`COPY (SELECT * EXCLUDE (%s) FROM read_parquet(%s, hive_partitioning = false)) TO %s
			(FORMAT PARQUET, COMPRESSION zstd, KV_METADATA {'mcasload.schema_version': '%d'})`, strings.Join(drop, ", "), quoteString(f), quoteString(tmp), version))
		if err := os.Chmod(tmp, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f); err != nil {
			t.Fatal(err)
		}
	}
}

// wantCopies is what parquetVersions says of a file this mcasload writes.
var wantCopies = fmt.Sprintf("copies=%d version=%d", len(rawCopies), schema.Version)

// copiesSince are the copies of raw a warehouse of schema version lacks.
func copiesSince(version int) []string {
	var out []string
	for _, c := range rawCopies {
		if version < 2 || c.name != "parameters" {
			out = append(out, c.name)
		}
	}
	return out
}

// downgradeToV3 turns a warehouse into what schema version 3 left: no copies of raw but
// parameters in its tables and files, no first times, migrations 8 and 9 not recorded,
// version 3 in meta.
func downgradeToV3(t testing.TB, dir string) {
	t.Helper()
	s := sqlSession(t, dir, true)
	for _, tb := range []string{"activities", "staging"} {
		for _, c := range copiesSince(3) {
			mustExec(t, s, `ALTER TABLE wh.`+tb+` DROP COLUMN `+c)
		}
	}
	mustExec(t, s, `DROP TABLE wh.activity_firsts`)
	mustExec(t, s, `DROP TABLE wh.activity_firsts_days`)
	mustExec(t, s, `DELETE FROM wh.schema_migrations WHERE version >= 8`)
	mustExec(t, s, `UPDATE wh.meta SET value = '3' WHERE key IN ('schema_version', 'parquet_schema_version')`)
	if err := s.detachClose(context.Background()); err != nil {
		t.Fatal(err)
	}
	rewriteParquet(t, absParts(t, dir), 3)
}

// downgradeToV2 turns a warehouse of one tenant into what schema version 2 left (before
// tenants): no tenant columns, state keyed by key alone, no tenants table, migrations 3 and 4
// not recorded, the source in meta, and the Parquet files in <root>/day=…/.
func downgradeToV2(t testing.TB, dir string) {
	t.Helper()
	downgradeToV3(t, dir)
	s := sqlSession(t, dir, true)
	// Version 5's dataset first (the tables of cloud_app_events).
	for _, tb := range []string{"cloud_app_events", "cloud_app_event_keys", "cloud_app_events_staging", "cloud_app_events_pending", "rejected_cloud_app_events"} {
		mustExec(t, s, `DROP TABLE wh.`+tb)
	}
	mustExec(t, s, `DELETE FROM wh.meta WHERE key = '`+cloudAppEventsTable.versionKey+`'`)
	for _, tb := range []string{"activities", "staging", "activity_ids", "pending", "rejected_activities", "runs", "commits"} {
		mustExec(t, s, `ALTER TABLE wh.`+tb+` DROP COLUMN tenant`)
	}
	for _, q := range []string{
		`CREATE TABLE wh.state_v2 (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL, updated TIMESTAMPTZ NOT NULL)`,
		`INSERT INTO wh.state_v2 SELECT key, value, updated FROM wh.state`,
		`DROP TABLE wh.state`,
		`ALTER TABLE wh.state_v2 RENAME TO state`,
		`DROP TABLE wh.tenants`,
		`DROP TABLE wh.horizons`,
		`DELETE FROM wh.schema_migrations WHERE version >= 3`,
		`UPDATE wh.meta SET value = '2' WHERE key IN ('schema_version', 'parquet_schema_version')`,
		`DELETE FROM wh.meta WHERE key IN ('upgrade_tenant', 'source')`,
		`INSERT INTO wh.meta VALUES ('source', 'simulator')`,
	} {
		mustExec(t, s, q)
	}
	if err := s.detachClose(context.Background()); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, ParquetDir)
	days, _ := filepath.Glob(filepath.Join(root, "tenant=*", "day=*"))
	for _, d := range days {
		if err := os.Rename(d, filepath.Join(root, filepath.Base(d))); err != nil {
			t.Fatal(err)
		}
	}
	tenants, _ := filepath.Glob(filepath.Join(root, "tenant=*"))
	for _, d := range tenants {
		if err := os.Remove(d); err != nil {
			t.Fatal(err)
		}
	}
}

// downgradeToV1 turns a warehouse into the layout schema version 1 left: what version 2 left
// (downgradeToV2), and DuckDB tables without parameters, migration 2 not recorded, and version 1
// Parquet files.
func downgradeToV1(t testing.TB, dir string) {
	t.Helper()
	downgradeToV2(t, dir)
	s := sqlSession(t, dir, true)
	for _, q := range []string{
		`ALTER TABLE wh.activities DROP COLUMN parameters`,
		`ALTER TABLE wh.staging DROP COLUMN parameters`,
		`DELETE FROM wh.schema_migrations WHERE version >= 2`,
		`UPDATE wh.meta SET value = '1' WHERE key = 'schema_version'`,
		`DELETE FROM wh.meta WHERE key = 'parquet_schema_version'`,
		// Warehouses made by early builds (the 5M test warehouse) have meta without a key.
		`CREATE TABLE wh.meta_v1 AS SELECT * FROM wh.meta`,
		`DROP TABLE wh.meta`,
		`ALTER TABLE wh.meta_v1 RENAME TO meta`,
	} {
		mustExec(t, s, q)
	}
	if err := s.detachClose(context.Background()); err != nil {
		t.Fatal(err)
	}
	downgradeParquet(t, absParts(t, dir))
}

func absParts(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	for _, f := range testkit.Files(t, filepath.Join(dir, ParquetDir)) {
		out = append(out, filepath.Join(dir, ParquetDir, f))
	}
	return out
}

// parquetVersions returns, per file, how many of the copies of raw (rawCopies) it has and its
// schema version.
func parquetVersions(t testing.TB, files []string) map[string]string {
	t.Helper()
	s := sqlSession(t, "", false)
	defer s.close()
	names := make([]string, len(rawCopies))
	for i, c := range rawCopies {
		names[i] = quoteString(c.name)
	}
	out := map[string]string{}
	for _, f := range files {
		var has int
		var version string
		err := s.conn.QueryRowContext(context.Background(), `SELECT
			(SELECT count(*) FILTER (WHERE name IN (`+strings.Join(names, ", ")+`)) FROM parquet_schema(?)),
			(SELECT coalesce(max(decode(value)) FILTER (WHERE decode(key) = 'mcasload.schema_version'), '') FROM parquet_kv_metadata(?))`, f, f).Scan(&has, &version)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(filepath.Dir(f))+"/"+filepath.Base(f)] = fmt.Sprintf("copies=%d version=%s", has, version)
	}
	return out
}

// readParameters returns the copies of raw per id as a reader sees them (see copiesOf), for the
// rows that have one.
func readParameters(t testing.TB, r *Reader) map[string]string {
	t.Helper()
	cols := make([]string, len(rawCopies))
	for i, c := range rawCopies {
		cols[i] = c.name
	}
	rdr, err := r.QueryArrow(context.Background(), `SELECT id, `+strings.Join(cols, ", ")+` FROM activities`)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	out := map[string]string{}
	for rdr.Next() {
		rec := rdr.RecordBatch()
		ids := rec.Column(0)
		for i := range int(rec.NumRows()) {
			var parts []string
			some := false
			for j, c := range rawCopies {
				col := rec.Column(j + 1)
				v := "NULL"
				if !col.IsNull(i) {
					v, some = canonicalJSON(col.ValueStr(i)), true
				}
				parts = append(parts, c.name+"="+v)
			}
			if some { // (copies: the strings alias the batch's buffers, which the next batch reuses)
				out[strings.Clone(ids.ValueStr(i))] = strings.Clone(strings.Join(parts, " "))
			}
		}
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func diffParameters(t testing.TB, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d rows with copies of raw, want %d", what, len(got), len(want))
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("%s: %s copies of raw = %q, want %q", what, id, got[id], w)
		}
	}
}

func readerParameters(t testing.TB, dir string, parquet bool) map[string]string {
	t.Helper()
	var r *Reader
	var err error
	if parquet {
		r, err = OpenParquetReader(context.Background(), dir)
	} else {
		r, err = OpenReader(context.Background(), ReaderOptions{Dir: dir, Logger: testLogger(nil)})
	}
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return readParameters(t, r)
}

// movedParts is where the upgrade moves files of the layout before tenants: into the folder of
// the tenant label.
func movedParts(dir string, files []string, label string) []string {
	root := filepath.Join(dir, ParquetDir)
	out := make([]string, len(files))
	for i, f := range files {
		rel, _ := filepath.Rel(root, f)
		out[i] = filepath.Join(root, "tenant="+label, rel)
	}
	return out
}

func fileStamps(t testing.TB, files []string) map[string]os.FileInfo {
	t.Helper()
	out := map[string]os.FileInfo{}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		out[f] = fi
	}
	return out
}

// TestMigrateV1Warehouse: a warehouse left by schema version 1 reads right before anyone
// upgrades it, and the first writer upgrades DuckDB and every Parquet file in place (same
// names, same rows, parameters filled as the converter fills them); a second Open changes
// nothing.
func TestMigrateV1Warehouse(t *testing.T) {
	for _, sinks := range []Sinks{SinkBoth, SinkParquet} {
		t.Run(string(sinks), func(t *testing.T) {
			dir := t.TempDir()
			want := loadMail(t, dir, sinks)
			before := map[string]contents{FromParquet: readSink(t, dir, FromParquet)}
			if sinks.duckdb() {
				before[FromDuckDB] = readSink(t, dir, FromDuckDB)
			}
			downgradeToV1(t, dir)
			files := absParts(t, dir)
			if len(files) != 6 {
				t.Fatalf("%d parquet files, want 2 for each of 3 days", len(files))
			}
			for f, v := range parquetVersions(t, files) {
				if v != "copies=0 version=1" {
					t.Fatalf("downgraded %s: %s", f, v)
				}
			}

			// Readers of the unmigrated warehouse compute the copies of raw from raw.
			diffParameters(t, "v1 parquet reader", readerParameters(t, dir, true), want)
			if sinks.duckdb() {
				diffParameters(t, "v1 duckdb reader", readerParameters(t, dir, false), want)
			}

			var log bytes.Buffer
			w, err := Open(t.Context(), Options{Dir: dir, Sinks: sinks, MemoryLimit: "300MB", Threads: 2, Logger: testLogger(&log), Source: "simulator"})
			if err != nil {
				t.Fatalf("open v1 warehouse: %v", err)
			}
			mustVerify(t, w)
			if err := w.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), "upgraded parquet files") {
				t.Errorf("no upgrade logged:\n%s", log.String())
			}
			after := absParts(t, dir)
			if strings.Join(after, "\n") != strings.Join(movedParts(dir, files, tenant.Simulator), "\n") {
				t.Errorf("files after the upgrade:\n%v\nbefore:\n%v", after, files)
			}
			for f, v := range parquetVersions(t, after) {
				if v != wantCopies {
					t.Errorf("upgraded %s: %s", f, v)
				}
			}
			for from, c := range before {
				if got := readSink(t, dir, from); !equalContents(got, c) {
					t.Errorf("%s after the upgrade holds %v, before %v", from, got, c)
				}
			}
			diffParameters(t, "upgraded parquet", readerParameters(t, dir, true), want)
			if sinks.duckdb() {
				diffParameters(t, "upgraded duckdb", readerParameters(t, dir, false), want)
			} else {
				s := sqlSession(t, dir, true)
				var n int
				if err := s.conn.QueryRowContext(t.Context(), `SELECT count(*) FROM wh.staging`).Scan(&n); err != nil || n != 0 {
					t.Errorf("staging holds %d rows (%v), want 0 once published", n, err)
				}
				s.detachClose(t.Context())
			}
			checkMigrated(t, dir)

			// A second Open is a no-op: no file is rewritten, nothing is logged as upgraded.
			stamps := fileStamps(t, after)
			log.Reset()
			w, err = Open(t.Context(), Options{Dir: dir, Sinks: sinks, MemoryLimit: "300MB", Threads: 2, Logger: testLogger(&log), Source: "simulator"})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			for f, fi := range fileStamps(t, absParts(t, dir)) {
				if old, ok := stamps[f]; !ok || !os.SameFile(old, fi) || !old.ModTime().Equal(fi.ModTime()) {
					t.Errorf("%s was rewritten by the second open", f)
				}
			}
			if strings.Contains(log.String(), "upgrad") {
				t.Errorf("second open upgraded again:\n%s", log.String())
			}
		})
	}
}

// TestMigrateV3Warehouse: a warehouse left by schema version 3 (parameters, tenants, none of
// version 4's copies of raw) reads right before anyone upgrades it, its readers computing the
// copies from raw as the converter fills them; the first writer adds them to DuckDB (migration
// 8) and to every Parquet file in place.
func TestMigrateV3Warehouse(t *testing.T) {
	for _, sinks := range []Sinks{SinkBoth, SinkParquet} {
		t.Run(string(sinks), func(t *testing.T) {
			dir := t.TempDir()
			want := loadMail(t, dir, sinks)
			before := readSink(t, dir, FromParquet)
			downgradeToV3(t, dir)
			files := absParts(t, dir)
			for f, v := range parquetVersions(t, files) {
				if v != "copies=1 version=3" {
					t.Fatalf("downgraded %s: %s", f, v)
				}
			}
			diffParameters(t, "v3 parquet reader", readerParameters(t, dir, true), want)
			if sinks.duckdb() {
				diffParameters(t, "v3 duckdb reader", readerParameters(t, dir, false), want)
			}
			var log bytes.Buffer
			w, err := Open(t.Context(), Options{Dir: dir, Sinks: sinks, MemoryLimit: "300MB", Threads: 2, Logger: testLogger(&log), Source: "simulator"})
			if err != nil {
				t.Fatalf("open v3 warehouse: %v", err)
			}
			mustVerify(t, w)
			if err := w.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), "upgraded parquet files") {
				t.Errorf("no upgrade logged:\n%s", log.String())
			}
			if after := absParts(t, dir); strings.Join(after, "\n") != strings.Join(files, "\n") {
				t.Errorf("files after the upgrade:\n%v\nbefore:\n%v", after, files)
			}
			for f, v := range parquetVersions(t, files) {
				if v != wantCopies {
					t.Errorf("upgraded %s: %s", f, v)
				}
			}
			if got := readSink(t, dir, FromParquet); !equalContents(got, before) {
				t.Errorf("parquet after the upgrade holds %v, before %v", got, before)
			}
			diffParameters(t, "upgraded parquet", readerParameters(t, dir, true), want)
			if sinks.duckdb() {
				diffParameters(t, "upgraded duckdb", readerParameters(t, dir, false), want)
			}
			checkMigrated(t, dir)
		})
	}
}

// checkMigrated checks the DuckDB side of the upgrade: every migration recorded once, the
// schema version and the Parquet marker in meta, and the last copy of raw last in both tables.
func checkMigrated(t testing.TB, dir string) {
	t.Helper()
	s := sqlSession(t, dir, true)
	defer s.detachClose(context.Background())
	var versions, meta, last string
	err := s.conn.QueryRowContext(context.Background(), `SELECT
		(SELECT string_agg(version::VARCHAR, ',' ORDER BY version) FROM wh.schema_migrations),
		(SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM wh.meta WHERE key LIKE '%schema_version'),
		(SELECT string_agg(table_name || ':' || column_name, ',' ORDER BY table_name) FROM duckdb_columns() c
		 WHERE database_name = 'wh' AND table_name IN ('activities', 'staging')
		   AND column_index = (SELECT max(column_index) FROM duckdb_columns() d WHERE d.database_name = 'wh' AND d.table_name = c.table_name))`).
		Scan(&versions, &meta, &last)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for v := range migrations {
		all = append(all, strconv.Itoa(v+1))
	}
	if versions != strings.Join(all, ",") || meta != "cloud_app_events_schema_version=1,parquet_schema_version=4,schema_version=4" || last != "activities:mailbox_owner,staging:mailbox_owner" {
		t.Errorf("migrations %s, meta %s, last columns %s", versions, meta, last)
	}
}

// TestCompactMixedVersions: compaction merges parts of both schema versions into one file whose
// parameters are right for the rows of each.
func TestCompactMixedVersions(t *testing.T) {
	dir := t.TempDir()
	want := loadMail(t, dir, SinkBoth)
	w := openTest(t, dir, SinkBoth)
	defer w.Close(t.Context())
	// One part of each day goes back to version 1 (as if copied in from an old warehouse).
	var v1 []string
	for i, f := range absParts(t, dir) {
		if i%2 == 0 {
			v1 = append(v1, f)
		}
	}
	downgradeParquet(t, v1)
	res, err := w.Compact(t.Context(), CompactOptions{MinFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.FilesBefore != 6 || res.FilesAfter != 3 {
		t.Fatalf("compact %+v, want 6 files to 3", res)
	}
	for f, v := range parquetVersions(t, absParts(t, dir)) {
		if v != wantCopies {
			t.Errorf("compacted %s: %s", f, v)
		}
	}
	diffParameters(t, "compacted parquet", readerParameters(t, dir, true), want)
	mustVerify(t, w)
}

// TestFileScanChoosesByVersion: compaction reads parts that all hold every copy of raw
// directly, and computes the copies only when a part lacks them.
func TestFileScanChoosesByVersion(t *testing.T) {
	dir := t.TempDir()
	loadMail(t, dir, SinkBoth)
	files := absParts(t, dir)
	s := sqlSession(t, dir, true)
	defer s.detachClose(context.Background())
	scan := func() string {
		t.Helper()
		var quoted []string
		for _, f := range files {
			quoted = append(quoted, quoteString(f))
		}
		q, err := activitiesTable.fileScan(t.Context(), s.conn, "["+strings.Join(quoted, ", ")+"]")
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	if q := scan(); strings.Contains(q, "parquet_schema") {
		t.Errorf("current parts are read through the per-file version test:\n%s", q)
	}
	downgradeParquet(t, files[:1])
	if q := scan(); !strings.Contains(q, "parquet_schema") {
		t.Errorf("a version 1 part is read directly (its copies of raw would be NULL):\n%s", q)
	}
}

// TestMixedParquetReader: a Parquet folder holding both versions reads right.
func TestMixedParquetReader(t *testing.T) {
	dir := t.TempDir()
	want := loadMail(t, dir, SinkParquet)
	files := absParts(t, dir)
	downgradeParquet(t, files[:3])
	diffParameters(t, "mixed parquet reader", readerParameters(t, dir, true), want)
}

// TestMigrateCrash kills the upgrading writer around the rename of a Parquet file (twice in a
// row), then lets one finish: the warehouse ends as an uninterrupted upgrade leaves it.
func TestMigrateCrash(t *testing.T) {
	cases := [][]string{
		{"migrate-before-rename@2"},
		{"migrate-after-rename@3", "migrate-before-rename@2"},
		{"layout-before-rename@3"},
		{"layout-after-rename@2", "layout-before-rename@3"},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		for _, fp := range c {
			name, _, _ := strings.Cut(fp, "@")
			covered[name] = true
		}
	}
	for _, n := range failpoint.UpgradeNames {
		if !covered[n] {
			t.Errorf("failpoint %s is not exercised", n)
		}
	}
	if testing.Short() {
		cases = []([]string){cases[1], cases[3]} // the chains cover every failpoint
	}
	for _, crash := range cases {
		t.Run(strings.Join(crash, "+"), func(t *testing.T) {
			dir := t.TempDir()
			want := loadMail(t, dir, SinkBoth)
			before := readSink(t, dir, FromParquet)
			downgradeToV1(t, dir)
			files := absParts(t, dir)
			for _, fp := range crash {
				runCrashChild(t, "open-close", dir, SinkBoth, fp)
				testkit.CheckModes(t, dir)
			}
			// Killed mid-upgrade: some files are new, some old, and readers still read right.
			diffParameters(t, "half-upgraded parquet", readerParameters(t, dir, true), want)
			runCrashChild(t, "open-close", dir, SinkBoth, "")
			moved := movedParts(dir, files, tenant.Simulator)
			if got := absParts(t, dir); strings.Join(got, "\n") != strings.Join(moved, "\n") {
				t.Errorf("files after the upgrade:\n%v\nbefore:\n%v", got, files)
			}
			for _, f := range testkit.Files(t, filepath.Join(dir, ParquetDir)) {
				if !partRE.MatchString(filepath.Base(f)) {
					t.Errorf("leftover file %s", f)
				}
			}
			for f, v := range parquetVersions(t, moved) {
				if v != wantCopies {
					t.Errorf("upgraded %s: %s", f, v)
				}
			}
			if got := readSink(t, dir, FromParquet); !equalContents(got, before) {
				t.Errorf("parquet after the upgrade holds %v, before %v", got, before)
			}
			diffParameters(t, "upgraded parquet", readerParameters(t, dir, true), want)
			diffParameters(t, "upgraded duckdb", readerParameters(t, dir, false), want)
			checkMigrated(t, dir)
		})
	}
}
