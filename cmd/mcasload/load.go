package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/budget"
	"github.com/mcasload/mcasload/internal/progress"
	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/tenant"
	"github.com/mcasload/mcasload/warehouse"
)

// writerFlags are the flags of every command that writes the warehouse (load, scan, demo).
func writerFlags() []cli.Flag {
	return []cli.Flag{
		warehouseFlag(),
		&cli.StringFlag{Name: "sink", Value: "both", Usage: "where rows go: duckdb, parquet or both"},
		&cli.StringFlag{Name: "memory-budget", Value: "256MB", Usage: "memory the whole process may use, e.g. 256MB or 1GB: the Go heap, DuckDB and every buffer (about 70 MB of it is the program itself); commit size, workers and DuckDB's limit follow from it"},
		&cli.StringFlag{Name: "memory-limit", Usage: "deprecated: use --memory-budget, which this is now an alias of (it used to bound only DuckDB's memory)"},
		&cli.IntFlag{Name: "threads", Usage: "DuckDB threads and conversion workers (default: the number of CPUs, fewer when --memory-budget is small)"},
		&cli.IntFlag{Name: "batch-rows", Value: loader.DefaultBatchRows, Usage: "rows per commit"},
		&cli.Int64Flag{Name: "batch-bytes", Usage: "raw JSON bytes per commit, whichever of rows or bytes comes first (default: from --memory-budget, about 11 MiB for 256MB)"},
		&cli.BoolFlag{Name: "progress", Value: true, Usage: "show progress on stderr (one updating line on a terminal, periodic lines otherwise)"},
		&cli.IntFlag{Name: "compact-over", Value: 32, Usage: "at the end of the run, compact days holding more than this many Parquet files (0: never)"},
		&cli.BoolFlag{Name: "allow-mixed-sources", Usage: "store rows of a tenant that was first written from another source"},
		&cli.DurationFlag{Name: "hold-file", Value: time.Second, Hidden: true, Usage: "how long the DuckDB file stays open after a commit, " +
			"waiting for the next (0: closed after every commit, which writes each commit's rows as row groups of their own, " +
			"merged at the end of the run; see docs/loading.md)"},
		tenantLabelFlag("the tenant `LABEL` the rows are stored under (scan, audit: default the tenant of --url, e.g. contoso for " +
			"https://contoso.eu2.portal.cloudappsecurity.com, \"simulator\" for the simulator; load: the warehouse's only tenant, " +
			"\"default\" in an empty one); letters, digits, '-', '_', '.'"),
	}
}

func (e *env) loadCommand() *cli.Command {
	return &cli.Command{
		Name:      "load",
		Usage:     "load activities from JSON files (NDJSON, arrays, pretty-printed, saved API pages) into the warehouse",
		ArgsUsage: "FILE… (- for standard input; gzip is read transparently)",
		Description: "Each FILE holds activities as JSON: one per line (NDJSON), a JSON array, JSON objects one after " +
			"another (pretty-printed, as jq . writes them, or several on a line) or saved API responses " +
			"({\"data\":[…]}, one or more), gzip-compressed or not; the format is detected per file from its content, " +
			"and every file is read as a stream. Every FILE is checked before anything is loaded: a missing one, or one " +
			"that is not JSON (CSV, HTML, Parquet, binary), is refused (exit 2) naming what it looks like. Re-loading a record adds " +
			"nothing (the first copy stored wins within its tenant). A load never moves a scan watermark. " +
			"The rows are stored under --tenant-label, which a warehouse holding several tenants requires.\n\n" +
			"Exit codes: 0 done, 2 a bad flag or input, 3 done but some records were rejected, 4 another writer holds the " +
			"warehouse, 6 stopped by a signal after committing what was read.",
		Flags: append(append(writerFlags(),
			&cli.StringFlag{Name: "source", Value: "file", Usage: "name of the data's origin recorded in the warehouse (tenant URL, \"simulator\", \"file\")"},
		), publishFlags()...),
		Action: e.runLoad,
	}
}

// writerSetup turns the writer flags into warehouse and pipeline options: the memory budget
// decides the commit size, the Go heap's limit, DuckDB's memory limit and cache, and how many
// workers convert (unless --batch-bytes or --threads say otherwise).
func (e *env) writerSetup(c *cli.Context, source, command string) (warehouse.Options, loader.Options, error) {
	sinks, err := warehouse.ParseSinks(c.String("sink"))
	if err != nil {
		return warehouse.Options{}, loader.Options{}, usageErrorf("%v", err)
	}
	if c.Int("threads") < 0 {
		return warehouse.Options{}, loader.Options{}, usageErrorf("--threads must be 0 (all CPUs) or more, not %d", c.Int("threads"))
	}
	if c.Int("batch-rows") <= 0 || c.Int64("batch-bytes") < 0 {
		return warehouse.Options{}, loader.Options{}, usageErrorf("--batch-rows and --batch-bytes must be positive")
	}
	label, err := tenantLabel(c)
	if err != nil {
		return warehouse.Options{}, loader.Options{}, err
	}
	plan, err := e.memoryPlan(c)
	if err != nil {
		return warehouse.Options{}, loader.Options{}, err
	}
	threads := c.Int("threads")
	if threads == 0 {
		threads = min(runtime.GOMAXPROCS(0), plan.MaxWorkers)
	}
	wopts := warehouse.Options{
		Dir:               c.String("warehouse"),
		Sinks:             sinks,
		MemoryLimit:       budget.Format(plan.DuckDB),
		HoldCache:         plan.DuckDBCache,
		AllocatorFlush:    plan.DuckDBFlush,
		Threads:           threads,
		Source:            source,
		AllowMixedSources: c.Bool("allow-mixed-sources"),
		Tenant:            label,
		Command:           command,
		CompactOver:       compactOver(c.Int("compact-over")),
		HoldIdle:          holdIdle(c.Duration("hold-file")),
		Firsts:            firsts(),
	}
	popts := loader.Options{
		Workers: threads, BatchRows: c.Int("batch-rows"), BatchBytes: plan.BatchBytes,
		GoMemoryLimit: plan.GoLimit, Source: source,
	}
	return wopts, popts, nil
}

// memoryPlan reads --memory-budget (or the deprecated --memory-limit, with a warning) and
// --batch-bytes into a budget plan.
func (e *env) memoryPlan(c *cli.Context) (budget.Plan, error) {
	flag, value := "memory-budget", c.String("memory-budget")
	if c.IsSet("memory-limit") {
		if c.IsSet("memory-budget") {
			return budget.Plan{}, usageErrorf("--memory-limit is a deprecated alias of --memory-budget: pass only --memory-budget")
		}
		fmt.Fprintln(e.stderr, "mcasload: --memory-limit is deprecated; use --memory-budget, which bounds the whole process (--memory-limit bounded only DuckDB's memory)")
		flag, value = "memory-limit", c.String("memory-limit")
	}
	size, err := budget.Parse(value)
	if err != nil {
		return budget.Plan{}, usageErrorf("--%s: %v", flag, err)
	}
	plan, err := budget.For(size)
	if err != nil {
		return budget.Plan{}, usageErrorf("--%s: %v", flag, err)
	}
	if b := c.Int64("batch-bytes"); b > 0 {
		plan = plan.WithBatch(b)
	}
	return plan, nil
}

// compactOver maps the flag (0 disables) to warehouse.Options.CompactOver (negative disables).
func compactOver(n int) int {
	if n <= 0 {
		return -1
	}
	return n
}

// openWriter opens the warehouse for writing and maps its failures to exit codes with hints.
func openWriter(ctx context.Context, opts warehouse.Options) (*warehouse.Writer, error) {
	if err := refuseCopy(opts.Dir); err != nil {
		return nil, err
	}
	w, err := warehouse.Open(ctx, opts)
	if hinted, ok := publishFailed(err); ok {
		return nil, hinted
	}
	switch {
	case err == nil:
		return w, nil
	case errors.Is(err, warehouse.ErrLocked):
		return nil, withCode(exitLocked, err, "only one writer at a time; readers (status, query) can run alongside it")
	case errors.Is(err, warehouse.ErrSourceMismatch):
		return nil, withCode(exitFailure, err, "store these rows under another --tenant-label, or pass --allow-mixed-sources to mix sources in this tenant (load also takes --source with the recorded source)")
	case errors.Is(err, warehouse.ErrTenantRequired):
		return nil, tenantRequired(err)
	case errors.Is(err, tenant.ErrBadLabel):
		return nil, withCode(exitUsage, err, "a tenant label holds letters, digits, '-', '_' and '.'")
	case errors.Is(err, warehouse.ErrNoFolder):
		return nil, withCode(exitUsage, err, "pass --warehouse DIR")
	}
	var sinks *warehouse.SinkMismatchError
	if errors.As(err, &sinks) {
		return nil, withCode(exitFailure, err, fmt.Sprintf("pass --sink %s, the sinks this warehouse keeps (or rebuild the other sink with mcasload repair)", sinks.Keeps))
	}
	return nil, withStorageHint(err)
}

func (e *env) runLoad(c *cli.Context) error {
	ctx := c.Context
	files := c.Args().Slice()
	if len(files) == 0 {
		return usageErrorf("load: name at least one file, or - for standard input")
	}
	stdin := 0
	for _, f := range files {
		if f == "-" {
			stdin++
		}
	}
	if stdin > 1 {
		return usageErrorf("load: standard input (-) can be read only once")
	}
	log, err := e.logger(c)
	if err != nil {
		return err
	}
	opts, popts, err := e.writerSetup(c, c.String("source"), "mcasload load "+strings.Join(files, " "))
	if err != nil {
		return err
	}
	opts.Logger = log
	// Without --tenant-label the rows are the tenant of a --source URL (a saved export of that
	// tenant), else the warehouse's only tenant's (refused when it holds several), or
	// tenant.Default's in an empty warehouse.
	if src := c.String("source"); opts.Tenant == "" && strings.Contains(src, "://") {
		if l, err := tenant.FromURL(src); err == nil {
			opts.Tenant, opts.TenantDerived = l, true
		}
	}
	opts.TenantFromWarehouse = true
	pub, err := e.publishOption(c, &opts, log)
	if err != nil {
		return err
	}
	inputs := make([]loader.Input, len(files))
	for i, f := range files {
		inputs[i] = loader.Input{Name: f, Reader: e.stdin}
	}
	// Every input is checked before the warehouse is opened (or created): a missing second
	// file or a CSV is refused before the first is committed.
	if inputs, err = loader.CheckInputs(ctx, inputs); err != nil {
		return inputFailure(ctx, err)
	}
	w, err := openWriter(ctx, opts)
	if err != nil {
		return err
	}
	lopts := loader.LoadOptions{
		Pipeline: popts,
		OnFile:   func(name string, f loader.Format) { log.Debug("reading input", "file", name, "format", string(f)) },
	}
	sum, loadErr := e.runPipeline(c, w, "load", func(progress func(*loader.Pipeline)) (*loader.Summary, error) {
		return loader.Load(ctx, w, inputs, lopts, progress)
	})
	err = e.finishRun(c, w, sum, loadErr, loadRun)
	pub.report(e)
	return err
}

// inputFailure maps an input CheckInputs refused to its exit code: 2 for a path that is not a
// readable file or holds no JSON (the command line names the wrong thing), 6 for a signal that
// came while standard input was still silent (nothing was opened, nothing is lost).
func inputFailure(ctx context.Context, err error) error {
	var ie *loader.InputError
	var nj *loader.NotJSONError
	switch {
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		return withCode(exitStopped, errors.New("stopped by a signal before standard input sent anything; nothing was loaded"), "rerun the same command")
	case errors.As(err, &nj):
		return withCode(exitUsage, err, "load reads activities as JSON: NDJSON, a JSON array, JSON objects one after another (pretty-printed too) or saved API pages, optionally gzip-compressed; nothing was loaded")
	case errors.As(err, &ie):
		return withCode(exitUsage, err, "check the path; nothing was loaded")
	}
	return withCode(exitFailure, err, "nothing was loaded")
}

// runPipeline runs fn with progress reporting when --progress asks for it.
func (e *env) runPipeline(c *cli.Context, w *warehouse.Writer, label string, fn func(func(*loader.Pipeline)) (*loader.Summary, error)) (*loader.Summary, error) {
	var prog *progress.Display
	hook := func(p *loader.Pipeline) {
		if !c.Bool("progress") {
			return
		}
		prog = e.progress(label, p.Snapshot)
		prog.Start(c.Context)
	}
	sum, err := fn(hook)
	endProgress(prog, sum)
	return sum, err
}

// progress is the live progress line of a command, drawn through the console the log shares.
func (e *env) progress(label string, snap func() progress.Snapshot) *progress.Display {
	con := e.errOut()
	return progress.New(e.stderr, snap, progress.Options{Label: label, Terminal: con.Terminal(), Console: con})
}

// endProgress ends a run's progress line with the figures of its summary (or as it stands when
// the run ended without one), so the last frame and the summary under it agree.
func endProgress(prog *progress.Display, sum *loader.Summary) {
	if prog == nil {
		return
	}
	if sum == nil {
		prog.Stop()
		return
	}
	k := sum.Counters
	prog.Finish(progress.Snapshot{
		Records: sum.Records, Bytes: sum.Bytes, New: sum.New, Duplicates: sum.Duplicates, Rejected: sum.Rejected,
		Pages: k["pages"], Throttled: k["throttled_429"], Waited: time.Duration(k["throttle_wait_ms"]) * time.Millisecond,
	}, time.Duration(sum.ElapsedSecs*float64(time.Second)))
}

// holdIdle is warehouse.Options.HoldIdle for --hold-file: 0 lets go of the file after every
// commit.
func holdIdle(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
