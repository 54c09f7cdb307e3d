// Command duckref is the reference the offline-conversion benchmark compares `mcasload load`
// with: DuckDB's own C++ JSON reader, driven through duckdb-go, loading the same NDJSON file into
// a DuckDB file and then writing day-partitioned zstd Parquet. It runs as a separate process so
// its wall time and peak memory are measured exactly like mcasload's.
//
//	duckref --input FILE --out DIR [--threads 2] [--memory-limit 1GB] [--read-options ignore_errors=true]
//
// It prints one line: "duckref: ROWS rows, read Xs, parquet Ys".
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"
)

func main() {
	input := flag.String("input", "", "NDJSON `FILE` to read")
	out := flag.String("out", "", "output `DIR` (created; must not exist): ref.duckdb and parquet/")
	threads := flag.Int("threads", 2, "DuckDB threads")
	memLimit := flag.String("memory-limit", "", "DuckDB memory_limit (default: DuckDB's own, 80% of RAM)")
	readOpts := flag.String("read-options", "", "extra read_json_auto `OPTIONS`, e.g. ignore_errors=true (trusted text, spliced into SQL)")
	flag.Parse()
	if *input == "" || *out == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "duckref: usage: duckref --input FILE --out DIR [--threads 2] [--memory-limit SIZE]")
		os.Exit(2)
	}
	if err := run(context.Background(), *input, *out, *threads, *memLimit, *readOpts); err != nil {
		fmt.Fprintf(os.Stderr, "duckref: %v\n", err)
		os.Exit(1)
	}
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func run(ctx context.Context, input, out string, threads int, memLimit, readOpts string) error {
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("output %s exists: remove it or pick another folder", out)
	}
	if err := os.MkdirAll(out, 0o700); err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	connector, err := duckdb.NewConnector(filepath.Join(out, "ref.duckdb"), nil)
	if err != nil {
		return fmt.Errorf("open duckdb: %w", err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	db.SetMaxOpenConns(1)
	stmts := []string{"SET TimeZone='UTC'", fmt.Sprintf("SET threads=%d", threads)}
	if memLimit != "" {
		stmts = append(stmts, "SET memory_limit="+quote(memLimit))
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("configure duckdb (%s): %w", q, err)
		}
	}
	args := quote(input) + ", format='newline_delimited'"
	if readOpts != "" {
		args += ", " + readOpts
	}
	start := time.Now()
	if _, err := db.ExecContext(ctx, "CREATE TABLE t AS SELECT * FROM read_json_auto("+args+")"); err != nil {
		return fmt.Errorf("read json: %w", err)
	}
	if _, err := db.ExecContext(ctx, "CHECKPOINT"); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	read := time.Since(start)
	start = time.Now()
	dir := filepath.Join(out, "parquet")
	if _, err := db.ExecContext(ctx, `COPY (SELECT *, epoch_ms("timestamp")::DATE AS day FROM t) TO `+quote(dir)+
		` (FORMAT PARQUET, PARTITION_BY (day), COMPRESSION zstd)`); err != nil {
		return fmt.Errorf("write parquet: %w", err)
	}
	write := time.Since(start)
	var rows int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&rows); err != nil {
		return fmt.Errorf("count rows: %w", err)
	}
	if rows == 0 {
		return errors.New("no rows read")
	}
	fmt.Printf("duckref: %d rows, read %.3fs, parquet %.3fs\n", rows, read.Seconds(), write.Seconds())
	return nil
}
