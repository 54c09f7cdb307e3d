package warehouse

import (
	"context"
	"database/sql"
	"path/filepath"
	"time"

	"github.com/mcasload/mcasload/tenant"
)

// DatasetStatus counts one tenant's rows of a dataset beside activities (cloud_app_events).
// The JSON names are those of mcasload status --format json.
type DatasetStatus struct {
	Rows        int64     `json:"rows"`            // keys stored (the dedupe index), as for activities
	Days        int       `json:"days"`            // days with rows
	Newest      time.Time `json:"newest,omitzero"` // the newest row's ts; zero when there is none
	ParquetRows int64     `json:"parquet_rows"`    // rows the published Parquet files hold (their footers)
	Rejected    int64     `json:"rejected"`
}

// readCloudAppEvents: each tenant's rows of cloud_app_events: keys and days from the index, the
// newest ts from the newest day's rows, Parquet rows from the files' footers, and rejects. A
// warehouse no writer has opened since the table came (schema 5) has none.
func (b *statusReader) readCloudAppEvents(ctx context.Context) error {
	if ok, err := hasColumn(ctx, b.conn, "wh", cloudAppEventsTable.index, "tenant"); err != nil || !ok {
		return err
	}
	newestDay := map[string]string{}
	err := scanRows(ctx, b.conn, `SELECT tenant, count(*), count(DISTINCT day), strftime(max(day), '%Y-%m-%d') FROM wh.`+cloudAppEventsTable.index+
		` WHERE `+tenantFilterOn("tenant", b.selection)+` GROUP BY ALL`, func(r *sql.Rows) error {
		var t, day string
		var rows int64
		var days int
		err := r.Scan(&t, &rows, &days, &day)
		ds := &b.tenant(t).CloudAppEvents
		ds.Rows, ds.Days, newestDay[t] = rows, days, day
		return err
	})
	if err == nil {
		err = b.readStreamRejects(ctx)
	}
	if err != nil {
		return err
	}
	files, err := b.streamParquet(ctx)
	if err != nil {
		return err
	}
	return b.readStreamNewest(ctx, newestDay, files)
}

func (b *statusReader) readStreamRejects(ctx context.Context) error {
	return scanRows(ctx, b.conn, `SELECT tenant, count(*) FROM wh.`+cloudAppEventsTable.rejects+` WHERE `+tenantFilterOn("tenant", b.selection)+` GROUP BY ALL`, func(r *sql.Rows) error {
		var t string
		var n int64
		err := r.Scan(&t, &n)
		b.tenant(t).CloudAppEvents.Rejected = n
		return err
	})
}

// streamParquet counts the rows of the selected tenants' cloud_app_events Parquet files and
// returns the readable files by partition.
func (b *statusReader) streamParquet(ctx context.Context) (map[partition][]string, error) {
	parts, _, _, err := listParts(filepath.Join(b.dir, CloudAppEventsParquetDir), b.legacy)
	if err != nil {
		return nil, err
	}
	files := map[partition][]string{}
	tenantOf := map[string]string{}
	var readable []string
	for _, p := range parts {
		if !tenant.Selected(b.selection, p.tenant) {
			continue
		}
		if bad, err := damagedParquet(p.path); err == nil && !bad {
			files[p.partition] = append(files[p.partition], p.path)
			tenantOf[p.path] = p.tenant
			readable = append(readable, p.path)
		}
	}
	if len(readable) == 0 {
		return files, nil
	}
	return files, scanRows(ctx, b.conn, `SELECT DISTINCT file_name, num_rows FROM parquet_file_metadata(`+fileList(readable)+`)`, func(r *sql.Rows) error {
		var f string
		var n int64
		err := r.Scan(&f, &n)
		b.tenant(tenantOf[f]).CloudAppEvents.ParquetRows += n
		return err
	})
}

// readStreamNewest finds each tenant's newest ts on its newest day: in DuckDB's table when the
// warehouse keeps one, else in that day's Parquet files (only them: one column of one day).
func (b *statusReader) readStreamNewest(ctx context.Context, newestDay map[string]string, files map[partition][]string) error {
	for t, day := range newestDay {
		q := `SELECT max(ts) FROM wh.` + cloudAppEventsTable.name + ` WHERE tenant = ` + quoteString(t) + ` AND day = DATE ` + quoteString(day)
		if !b.st.Sinks.duckdb() {
			f := files[partition{tenant: t, day: day}]
			if len(f) == 0 {
				continue // not published yet
			}
			q = `SELECT max(ts) FROM read_parquet(` + fileList(f) + `)`
		}
		var newest sql.NullTime
		if err := b.conn.QueryRowContext(ctx, q).Scan(&newest); err != nil {
			return err
		}
		if newest.Valid {
			b.tenant(t).CloudAppEvents.Newest = newest.Time.UTC()
		}
	}
	return nil
}
