package bench

import (
	"bufio"
	"context"
	"crypto/md5"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdb "github.com/duckdb/duckdb-go/v2"
	"github.com/zeebo/xxh3"

	"github.com/mcasload/mcasload/internal/arrowscan"
	"github.com/mcasload/mcasload/internal/budget"
	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/warehouse"
)

// limitsSample bounds the records each stage of the limits step works on: they are held in
// memory (as JSON and as Arrow), so that every stage measures itself and not the disk.
const limitsSample = 128 << 20

// noiseFigure is the figure of a derived stage whose CPU came out zero or less.
const noiseFigure = "within the machine's noise (convert and scan measured apart by less)"

// stageRun is one stage measured alone: what it processed and the time it took, by the wall
// clock and in CPU (the whole process's, which runs nothing else meanwhile).
type stageRun struct {
	name       string
	records    int64
	bytes      int64 // bytes of JSON the stage stands for
	wall, cpu  time.Duration
	inPipeline bool // the stage is part of a load (the comparison hashes are not)
}

// perCore is the stage's rate in MB of JSON per CPU-second.
func (s stageRun) perCore() float64 { return rate(MB(s.bytes), s.cpu) }

// limits is measurement 7, the distance to the limit: every stage of a load measured alone on
// one core, over the same records (a sample of the smallest offline file of each shape, held
// in memory), against the end-to-end rate of `mcasload load` on the whole file. A load needs
// every stage once per byte, so the stages' CPU per MB added up is what a perfect pipeline on
// this machine would spend; on Threads cores it could go Threads times as fast as one core.
func (h *Harness) limits(ctx context.Context) error {
	if len(h.cfg.Offline) == 0 {
		return fmt.Errorf("limits: no offline size to measure on")
	}
	n := slices.Min(h.cfg.Offline)
	plan, err := budget.For(budget.Default)
	if err != nil {
		return err
	}
	for _, shape := range h.cfg.Shapes {
		file, size, err := h.shapeInput(ctx, shape, n)
		if err != nil {
			return err
		}
		dir, err := h.workPath("limits-" + shape)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
		stages, err := measureStages(ctx, file, dir, plan.BatchBytes)
		h.drop(dir)
		if err != nil {
			return err
		}
		load, ok := h.offlineLoads[offlineKey{shape, n}]
		if !ok {
			if load, _, err = h.loadOnce(ctx, file, "limits-load-"+shape); err != nil {
				return err
			}
		}
		h.addLimits(shape+" "+short(n), stages, load, size)
	}
	return nil
}

// addLimits adds a row per stage, the limit they make, and the load's distance to it.
func (h *Harness) addLimits(label string, stages []stageRun, load Usage, size int64) {
	const step = "7 limits"
	var cpuPerMB float64 // CPU-seconds per MB of JSON, all stages of a load
	for _, s := range stages {
		if s.inPipeline {
			cpuPerMB += s.cpu.Seconds() / MB(s.bytes)
		}
	}
	loadCPUPerMB := load.CPU().Seconds() / MB(size)
	for _, s := range stages {
		fig := fmt.Sprintf("%.0f MB/s per core", s.perCore())
		if s.cpu <= 0 {
			// Only the derived stage (convert − scan) can come out so: two measurements
			// apart by less than a busy machine's noise.
			fig = noiseFigure
		} else if s.inPipeline {
			fig += fmt.Sprintf(", %.0f %% of the stages' CPU", 100*s.cpu.Seconds()/MB(s.bytes)/cpuPerMB)
		} else {
			fig += " (not part of a load: for comparison)"
		}
		h.Table.Add(Row{Step: step, What: label + ": " + s.name, Records: s.records, Wall: s.wall,
			RecPerSec: rate(float64(s.records), s.cpu), MBPerSec: s.perCore(), Figure: fig})
	}
	limit := float64(h.cfg.Threads) / cpuPerMB
	e2e := rate(MB(size), load.Wall)
	h.Table.Add(
		Row{Step: step, What: fmt.Sprintf("%s: limit, every stage once on %d cores, perfectly parallel", label, h.cfg.Threads), MBPerSec: limit,
			Figure: fmt.Sprintf("%.0f MB/s per core for all stages", 1/cpuPerMB)},
		Row{Step: step, What: label + ": mcasload load end to end", Wall: load.Wall, MBPerSec: e2e,
			Figure: fmt.Sprintf("%.0f %% of the limit; CPU %.2f× the stages' sum (%.0f MB/s per core)", 100*e2e/limit, loadCPUPerMB/cpuPerMB, 1/loadCPUPerMB)},
	)
}

// processCPU is the CPU time (user and system) of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// timed runs f and measures it.
func timed(name string, records, bytes int64, inPipeline bool, f func() error) (stageRun, error) {
	c0, t0 := processCPU(), time.Now()
	err := f()
	return stageRun{name: name, records: records, bytes: bytes, wall: time.Since(t0), cpu: processCPU() - c0, inPipeline: inPipeline}, err
}

// measureStages measures each stage over file: reading it whole, then, on a sample of its
// first records, scanning, converting, hashing, DuckDB's insert and the Parquet write, in
// commits of batch bytes as a load makes them. dir holds the DuckDB file and Parquet files.
func measureStages(ctx context.Context, file, dir string, batch int64) ([]stageRun, error) {
	var chunks []*schema.Chunk
	var sample, records, total int64
	read, err := timed("read NDJSON into chunks (reader)", 0, 0, true, func() error {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		r := schema.NewNDJSONReader(bufio.NewReaderSize(f, 1<<20), schema.NDJSONOptions{ChunkBytes: int(batch / 4)})
		for {
			ch, err := r.Next()
			if ch != nil {
				records += int64(len(ch.Records))
				total += int64(len(ch.Data))
				if sample < limitsSample {
					chunks = append(chunks, ch)
					sample += int64(len(ch.Data))
				}
			}
			if err != nil {
				return nil
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	read.records, read.bytes = records, total
	var n int64
	for _, ch := range chunks {
		n += int64(len(ch.Records))
	}
	stages := []stageRun{read}
	scan, err := timed("scan JSON (the converter's scanner, validating only)", n, sample, false, func() error {
		for _, ch := range chunks {
			for _, r := range ch.Records {
				if err := schema.Validate(r); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	var batches []arrow.RecordBatch
	defer func() {
		for _, b := range batches {
			b.Release()
		}
	}()
	conv, err := timed("convert JSON to Arrow (scan + build)", n, sample, true, func() error {
		c := schema.NewConverter(memory.DefaultAllocator, schema.Options{})
		for _, ch := range chunks {
			b, err := c.ConvertChunk(ch)
			if err != nil {
				return err
			}
			batches = append(batches, b.Record)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	build := stageRun{name: "build Arrow columns (convert − scan)", records: n, bytes: sample, wall: conv.wall - scan.wall, cpu: conv.cpu - scan.cpu}
	md5s, xxh := measureHashes(chunks, n, sample)
	duck, pq, err := measureDuckDB(ctx, dir, batches, n, sample, batch)
	if err != nil {
		return nil, err
	}
	return append(stages, scan, build, conv, md5s, xxh, duck, pq), nil
}

// measureHashes times md5 (what the dedupe index stores) and xxh3 (a hash that would do) of
// every raw record of chunks.
func measureHashes(chunks []*schema.Chunk, n, sample int64) (md5s, xxh stageRun) {
	var sink uint64
	md5s, _ = timed("md5 of raw (the dedupe index's stored rawsum)", n, sample, true, func() error {
		for _, ch := range chunks {
			for _, r := range ch.Records {
				d := md5.Sum(r)
				sink += uint64(d[0])
			}
		}
		return nil
	})
	xxh, _ = timed("xxh3 of raw (a hash that would do)", n, sample, false, func() error {
		for _, ch := range chunks {
			for _, r := range ch.Records {
				sink += xxh3.Hash(r)
			}
		}
		return nil
	})
	_ = sink
	return md5s, xxh
}

// measureDuckDB inserts the batches into a DuckDB file table shaped like the warehouse's
// activities (raw with zstd, one thread, the writer's settings),
// one commit per batch bytes of JSON, then writes each commit's rows to a zstd Parquet file.
func measureDuckDB(ctx context.Context, dir string, batches []arrow.RecordBatch, n, sample, batch int64) (stageRun, stageRun, error) {
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return stageRun{}, stageRun{}, fmt.Errorf("open duckdb: %w", err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	conn, err := db.Conn(ctx)
	if err != nil {
		return stageRun{}, stageRun{}, fmt.Errorf("open duckdb: %w", err)
	}
	defer conn.Close()
	var cols []string
	for _, c := range schema.Columns {
		col := c.Name + " " + schema.SQLType(c.Type)
		if c.Name == "raw" {
			col += " USING COMPRESSION zstd"
		}
		cols = append(cols, col)
	}
	stmts := []string{"SET threads = 1", "SET TimeZone = 'UTC'", "ATTACH '" + filepath.Join(dir, "limits.duckdb") + "' AS t (STORAGE_VERSION 'v1.5.0')"}
	stmts = append(stmts, warehouse.WriterSettings()...)
	for _, q := range append(stmts, "CREATE TABLE t.activities ("+strings.Join(cols, ", ")+")") {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return stageRun{}, stageRun{}, fmt.Errorf("prepare duckdb (%s): %w", q, err)
		}
	}
	// Commits of batch bytes, as a load cuts them.
	var commits [][]arrow.RecordBatch
	var size int64
	for _, b := range batches {
		if len(commits) == 0 || size >= batch {
			commits = append(commits, nil)
			size = 0
		}
		commits[len(commits)-1] = append(commits[len(commits)-1], b)
		raw := b.Column(slices.IndexFunc(schema.Columns, func(c schema.Column) bool { return c.Name == "raw" })).Data().Buffers()[2]
		size += int64(raw.Len())
	}
	insert, err := timed("DuckDB insert into a zstd table, a commit each", n, sample, true, func() error {
		for _, c := range commits {
			if err := withArrowView(ctx, conn, c, "INSERT INTO t.activities SELECT * FROM %s"); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return insert, stageRun{}, err
	}
	pq, err := timed("Parquet write, zstd level 1, a file each", n, sample, true, func() error {
		for i, c := range commits {
			out := filepath.Join(dir, fmt.Sprintf("part-%d.parquet", i))
			q := "COPY (SELECT * FROM %s) TO '" + out + "' (FORMAT PARQUET, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE_BYTES '32MB')"
			if err := withArrowView(ctx, conn, c, q); err != nil {
				return err
			}
		}
		return nil
	})
	return insert, pq, err
}

// withArrowView registers records as a view on conn's in-memory catalog, runs the statement
// query (its %s names the view), and drops the view.
func withArrowView(ctx context.Context, conn *sql.Conn, records []arrow.RecordBatch, query string) error {
	rdr, err := array.NewRecordReader(schema.Activities, records)
	if err != nil {
		return err
	}
	defer rdr.Release()
	var release func()
	if err := conn.Raw(func(dc any) error {
		var err error
		release, err = arrowscan.Register(dc.(driver.Conn), rdr, "limits_rows")
		return err
	}); err != nil {
		return fmt.Errorf("register arrow view: %w", err)
	}
	defer release()
	_, err = conn.ExecContext(ctx, fmt.Sprintf(query, "memory.main.limits_rows"))
	if _, derr := conn.ExecContext(context.WithoutCancel(ctx), "DROP VIEW IF EXISTS memory.main.limits_rows"); err == nil {
		err = derr
	}
	return err
}
