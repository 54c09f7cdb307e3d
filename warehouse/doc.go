// Package warehouse is the storage core of mcasload: a DuckDB file and a day-partitioned
// Parquet dataset in one folder, written by one writer at a time so that every activity lands
// exactly once in both, whatever happens to the process.
//
// Layout of a warehouse folder (files 0600, folders 0700):
//
//	mcasload.duckdb                               the source of truth (tables below)
//	mcasload.lock                                 the writer lock: JSON {pid, host, start, command}
//	parquet/activities/day=YYYY-MM-DD/part-F-T.parquet   rows of commits F..T for that UTC day
//	rejected/<run>.ndjson                         records a run could not store, with the reason
//	tmp/                                          DuckDB spill files
//
// A Writer (Open) holds the lock for its whole run but opens the DuckDB file only inside
// Commit, Close and the maintenance calls, each time as an in-memory DuckDB that ATTACHes the
// file, so readers can open it between commits. Commit stores rows, rejects, state and run
// bookkeeping in one transaction together with the list of (day, commit) pairs still to
// publish; it then writes this commit's rows to Parquet under a temporary name, syncs,
// renames to a name that records the commit, and marks the day published. Open reconciles the
// dataset with DuckDB, so a crash between any two of those steps is repaired at the next start.
//
// Readers (OpenReader, OpenParquetReader) get an in-memory DuckDB with the views activities
// and rejected_activities, over the file attached read-only or, when a writer holds it, over
// the committed Parquet files. docs/warehouse.md describes the whole design.
package warehouse
