package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/humanize"
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/warehouse"
)

func (e *env) pruneCommand() *cli.Command {
	return &cli.Command{
		Name:  "prune",
		Usage: "remove whole days older than a retention horizon from both sinks, per tenant",
		Description: "Removes every UTC day before the day --older-than reaches (400d: the day 400 days " +
			"ago is the first kept) from the DuckDB tables that have days, the Parquet dataset and the " +
			"dedupe's id set, for each tenant selected with --tenant-label (default every tenant), and " +
			"records that day as the tenant's horizon: later loads and scans store nothing older and say " +
			"so in their summary, and mcasload status shows it. The horizon never moves back. Crash-safe: " +
			"a prune that is stopped is finished by the next run of prune, load or scan; rerun it.",
		Flags: []cli.Flag{
			warehouseFlag(),
			tenantSelectionFlag(),
			&cli.StringFlag{Name: "older-than", Required: true, Usage: "the retention: a duration back from now (400d, 56w) or a UTC date (2025-11-01), the first day kept"},
		},
		Action: e.runPrune,
	}
}

func (e *env) runPrune(c *cli.Context) error {
	sel, err := tenantSelection(c)
	if err != nil {
		return err
	}
	at, err := timearg.ParseAt(c.String("older-than"), time.Now())
	if err != nil {
		return usageErrorf("--older-than: %v", err)
	}
	horizon := at.UTC().Truncate(24 * time.Hour)
	w, err := e.openRewriting(c, "mcasload prune", "")
	if err != nil {
		return err
	}
	res, perr := w.Prune(c.Context, horizon, sel)
	if err := w.Close(context.WithoutCancel(c.Context)); err != nil && perr == nil {
		perr = err
	}
	for _, r := range res {
		printPruned(e, r)
	}
	if errors.Is(perr, warehouse.ErrUnknownTenant) {
		return withCode(exitUsage, perr, "mcasload status lists the tenants of the warehouse")
	}
	if perr != nil {
		return withCode(exitFailure, perr, "rerun mcasload prune: it finishes what a stopped prune left")
	}
	return nil
}

func printPruned(e *env, r warehouse.PruneResult) {
	if len(r.Days) == 0 {
		fmt.Fprintf(e.stdout, "tenant %s: no day before %s left to remove (%s dropped from the dedupe set); horizon %s\n",
			r.Tenant, r.Horizon, plural(int(r.IDs), "id"), r.Horizon)
		return
	}
	span := r.Days[0]
	if n := len(r.Days); n > 1 {
		span += " … " + r.Days[n-1]
	}
	fmt.Fprintf(e.stdout, "tenant %s: removed %s before %s (%s): %s from duckdb, %s (%s) from parquet, %s from the dedupe set; horizon %s\n",
		r.Tenant, plural(len(r.Days), "day"), r.Horizon, span, plural(int(r.Rows), "row"),
		plural(r.ParquetFiles, "file"), humanize.Bytes(r.ParquetBytes), plural(int(r.IDs), "id"), r.Horizon)
}
