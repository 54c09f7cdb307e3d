package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/queries"
)

// compareSourcesCommand is "compare-sources": the activities API's records beside the stream's.
func (e *env) compareSourcesCommand() *cli.Command {
	return &cli.Command{
		Name:  "compare-sources",
		Usage: "compare the activities API's records with the Streaming API's (cloud_app_events) per tenant, day and app",
		Description: "Pairs every activity of the window with its CloudAppEvents row: by id (ReportId is the\n" +
			"activity's _id, bare or with _<ApplicationId>), else by a fingerprint (same app, action class,\n" +
			"an account identifier in common, times within --time-window, the same IP or one missing),\n" +
			"and lists per tenant, day and app the records in both, by which mapping, and those only one\n" +
			"source has, with samples (--rows differences or all: one row per record). docs/sources.md.\n" +
			"Exit 0 when every record is in both sources, 11 when some are not, 7 when neither holds one in the window.",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "since", Usage: "start of the window (default: the later of the two sources' first records)"},
			&cli.StringFlag{Name: "until", Usage: "end of the window (default: the earlier of the two sources' last records)"},
			&cli.DurationFlag{Name: "time-window", Value: queries.DefaultPairWindow, Usage: "how far apart the two sources' times of one event may be for a pair by fingerprint"},
			&cli.StringFlag{Name: "rows", Value: string(queries.CompareSummary), Usage: "what to list: summary (per tenant, day and app), differences (each record not paired by id) or all (each record)"},
			&cli.IntFlag{Name: "samples", Value: 3, Usage: "ids of each difference a summary row shows"},
		}, readerFlags()...),
		Action: e.compareSources,
	}
}

func (e *env) compareSources(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("compare-sources takes no arguments (got %q)", c.Args().First())
	}
	format, err := output.ParseFormat(c.String("format"))
	if err != nil {
		return usageErrorf("--format: %v", err)
	}
	req, err := compareRequest(c, time.Now())
	if err != nil {
		return err
	}
	var cmp *queries.Comparison
	err = e.withSession(c, readScope{}, func(ctx context.Context, s *queries.Session) (array.RecordReader, *output.Meta, error) {
		if cmp, err = s.CompareSources(ctx, req); err != nil {
			return nil, nil, err
		}
		rdr, err := cmp.Reader()
		return rdr, &cmp.Meta, err
	}, format)
	if cmp != nil {
		defer cmp.Release()
	}
	if errors.Is(err, queries.ErrNoOverlap) {
		return withCode(exitUsage, err, "give --since and --until")
	}
	if errors.Is(err, queries.ErrNothingToCompare) {
		return withCode(exitFailure, err, "load both sources first: mcasload scan (or load) for the activities API, mcasload stream for the Streaming API")
	}
	switch {
	case err != nil:
		return err
	case cmp.APIRecords+cmp.StreamRecords == 0:
		return withCode(exitNoData, fmt.Errorf("neither source holds a record between %s and %s", req.Since.Format(time.RFC3339), req.Until.Format(time.RFC3339)), "")
	case cmp.Agree():
		return nil
	}
	return withCode(exitDisagree, fmt.Errorf("the sources differ: %d records only in the activities API, %d only in the stream", cmp.OnlyAPI, cmp.OnlyStream),
		"list them with --rows differences; docs/sources.md says why sources differ")
}

// compareRequest reads the comparison's flags.
func compareRequest(c *cli.Context, now time.Time) (queries.CompareRequest, error) {
	req := queries.CompareRequest{Window: c.Duration("time-window"), Samples: c.Int("samples")}
	var err error
	if req.Rows, err = queries.ParseCompareRows(c.String("rows")); err != nil {
		return req, usageErrorf("--rows: %v", err)
	}
	if req.Window <= 0 || req.Samples <= 0 {
		return req, usageErrorf("--time-window and --samples must be above 0")
	}
	for _, f := range []struct {
		name string
		to   *time.Time
	}{{"since", &req.Since}, {"until", &req.Until}} {
		if v := c.String(f.name); v != "" {
			if *f.to, err = timearg.ParseAt(v, now); err != nil {
				return req, usageErrorf("--%s: %v", f.name, err)
			}
		}
	}
	if !req.Since.IsZero() && !req.Until.IsZero() && !req.Until.After(req.Since) {
		return req, usageErrorf("--until must be after --since")
	}
	return req, nil
}
