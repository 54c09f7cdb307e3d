package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/budget"
	"github.com/mcasload/mcasload/internal/humanize"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/warehouse"
)

func (e *env) optimizeCommand() *cli.Command {
	return &cli.Command{
		Name:  "optimize",
		Usage: "pack the DuckDB file's small row groups into full ones, so that queries over a large warehouse read less",
		Description: "A load builds row groups within its memory budget: with the raw records in the rows, " +
			"about 10,000 rows each, and a query reads a 256 KB block per row group for any column it " +
			"needs and keeps every row group's metadata in memory. At tens of millions of rows that is " +
			"several times what the query uses. optimize moves the rows of the small row groups to the " +
			"end of the table, packed into row groups of up to 122,880 rows (the activities, the stream's " +
			"events and their dedupe indexes), a slice per transaction. Nothing is added or removed: a " +
			"stopped optimize leaves every row stored once, and the next run goes on where it stopped. " +
			"The Parquet dataset is not touched. About 40 s per million rows on two cores; its peak " +
			"memory grows with the row groups it reads (389 MB for 20M rows in 1,855 row groups), beyond " +
			"--memory-budget, which bounds DuckDB's share only (docs/warehouse.md, \"Optimize: full row groups\").",
		Flags: []cli.Flag{
			warehouseFlag(),
			&cli.StringFlag{Name: "memory-budget", Value: "256MB", Usage: "memory budget whose DuckDB share (107 MiB of 256MB) is DuckDB's limit while rewriting; the row groups' metadata comes on top (docs/warehouse.md)"},
		},
		Action: e.runOptimize,
	}
}

func (e *env) runOptimize(c *cli.Context) error {
	plan, err := e.memoryPlan(c)
	if err != nil {
		return err
	}
	// Opened as the other maintenance commands open it (a warehouse of an earlier version is
	// migrated first, which can need more than the budget's share at millions of rows); the
	// rewrite itself runs within the budget's share for DuckDB.
	w, err := e.openRewriting(c, "mcasload optimize", "")
	if err != nil {
		return err
	}
	res, oerr := w.Optimize(c.Context, warehouse.OptimizeOptions{MemoryLimit: budget.Format(plan.DuckDB)})
	var fres warehouse.FirstsResult
	if oerr == nil {
		fres, oerr = w.RefreshFirsts(c.Context, queries.Firsts())
	}
	if err := w.Close(context.WithoutCancel(c.Context)); err != nil && oerr == nil {
		oerr = err
	}
	for _, r := range res {
		printOptimized(e, r)
	}
	switch {
	case fres.Days+fres.Folded > 0:
		fmt.Fprintf(e.stdout, "activity_firsts: built the first times of %s, folded %d, in %s\n",
			plural(fres.Days, "day"), fres.Folded, humanize.Seconds(fres.Took))
	case oerr == nil:
		fmt.Fprintln(e.stdout, "activity_firsts: every day's first times are current")
	}
	if oerr != nil {
		return withCode(exitFailure, oerr, "rerun mcasload optimize: the days it rewrote stay rewritten, and it goes on with the rest")
	}
	return nil
}

func printOptimized(e *env, r warehouse.OptimizeResult) {
	switch {
	case r.Rows == 0:
		fmt.Fprintf(e.stdout, "%s: empty\n", r.Table)
	case r.Moved == 0:
		fmt.Fprintf(e.stdout, "%s: nothing to pack (%s rows in %s, %d of them small)\n",
			r.Table, humanize.Count(r.Rows), plural(r.GroupsBefore, "row group"), r.Small)
	default:
		fmt.Fprintf(e.stdout, "%s: packed %s small row groups (%s of %s rows): %s → %d, in %s\n",
			r.Table, humanize.Count(int64(r.Small)), humanize.Count(r.Moved), humanize.Count(r.Rows),
			plural(r.GroupsBefore, "row group"), r.GroupsAfter, humanize.Seconds(r.Took))
	}
}
