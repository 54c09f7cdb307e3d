package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/audit"
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/mcas"
)

func (e *env) auditCommand() *cli.Command {
	flags := append(connectionFlags(),
		&cli.StringFlag{Name: "since", Value: "30d", Usage: "audit activities from this time on (a duration before the service's now, RFC 3339, a date, or epoch s or ms)"},
		&cli.StringFlag{Name: "exact-since", Usage: "diff windows from this time on by id, whatever their counts (recent days, where a long indexing delay leaves too few missing records for a count to notice)"},
		&cli.StringFlag{Name: "tolerance", Value: "5%", Usage: "how many records a day may lack against the service's approximate total before it is diffed by id: a percentage (5%) or a number of records"},
		&cli.BoolFlag{Name: "repair", Usage: "load the missing records (the watermark does not move; rerunning is harmless)"},
		&cli.StringFlag{Name: "filter", Usage: "the filters of the scan to audit, as given to scan (only --service, --user and --event-type can be counted)"},
		&cli.StringSliceFlag{Name: "service", Usage: "the scan's app `ID` filter; repeat for several"},
		&cli.StringSliceFlag{Name: "user", Usage: "the scan's user `UPN` filter; repeat for several"},
		&cli.StringSliceFlag{Name: "event-type", Usage: "the scan's event type filter; repeat for several"},
		&cli.IntFlag{Name: "rate-limit", Value: mcas.DefaultRequestsPerWindow, Usage: "requests per minute to the tenant (shared with every tool using it)"},
		&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "table", Usage: "output: table, json or csv"},
	)
	flags = append(flags, writerFlags()...)
	return &cli.Command{
		Name:  "audit",
		Usage: "check that the warehouse holds every activity the service has, and repair it",
		Description: "Compares, day by day (hour by hour where a day is large), the warehouse's count of the scan's " +
			"activities stored before its watermark with the service's total for the same window. A window short by " +
			"more than --tolerance (the total is approximate) is judged exactly: its ids are listed from the service " +
			"and diffed with the warehouse. --repair loads exactly the missing records. The requests come out of the " +
			"same --rate-limit budget and are counted.\n\n" +
			"Exit codes: 0 complete (or repaired), 1 failed, 2 usage error, 4 another writer holds the warehouse, " +
			"5 authentication or permission failure, 8 incomplete windows remain.",
		Flags:  flags,
		Action: e.runAudit,
	}
}

func (e *env) runAudit(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageErrorf("audit takes no arguments, got %q", c.Args().First())
	}
	format := c.String("format")
	if format != "table" && format != "json" && format != "csv" {
		return usageErrorf("unknown --format %q: use table, json or csv", format)
	}
	log, err := e.logger(c)
	if err != nil {
		return err
	}
	cfg, err := e.mcasConfig(c)
	if err != nil {
		return err
	}
	if n := c.Int("rate-limit"); n < 1 {
		return usageErrorf("--rate-limit must be at least 1 request per minute, not %d", n)
	}
	cfg.Limiter = mcas.NewLimiter(nil, c.Int("rate-limit"), mcas.DefaultWindow)
	cfg.Logger = log
	opts := audit.Options{Dir: c.String("warehouse"), URL: cfg.URL, Repair: c.Bool("repair"), Logger: log}
	if opts.Filters, err = scopeFilters(c); err != nil {
		return err
	}
	if opts.Since, err = timearg.Parse(c.String("since")); err != nil {
		return usageErrorf("--since: %v", err)
	}
	if v := c.String("exact-since"); v != "" {
		if opts.ExactSince, err = timearg.Parse(v); err != nil {
			return usageErrorf("--exact-since: %v", err)
		}
	}
	if opts.Tolerance, err = audit.ParseTolerance(c.String("tolerance")); err != nil {
		return usageErrorf("--tolerance: %v", err)
	}
	if opts.Writer, opts.Pipeline, err = e.writerSetup(c, scanSource(cfg.URL), "mcasload audit --repair"); err != nil {
		return err
	}
	if opts.Writer.Tenant, opts.Writer.TenantDerived, err = scanTenantLabel(c, cfg.URL); err != nil {
		return err
	}
	opts.Writer.Logger = log
	opts.Pipeline.Command = "audit"
	client, err := mcas.NewClient(cfg)
	if err != nil {
		return clientSetupError(err, exitUsage)
	}
	rep, err := audit.Run(c.Context, client, opts)
	switch {
	case errors.Is(err, audit.ErrNotScanned):
		return withCode(exitFailure, err, "`mcasload load` keeps no watermark: audit a warehouse filled by `mcasload scan`, with the same --url")
	case errors.Is(err, audit.ErrOtherTenant):
		return withCode(exitFailure, err, "pass the --url and filters the warehouse was scanned with (see `mcasload state show`)")
	case errors.Is(err, audit.ErrUncountableScope):
		return withCode(exitFailure, err, clientHint(err))
	case err != nil && rep == nil:
		return scanFailure(err)
	}
	var werr error
	switch format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		werr = enc.Encode(rep)
	case "csv":
		werr = writeAuditCSV(e.stdout, rep)
	default:
		writeAuditTable(e.stdout, rep)
	}
	if err != nil {
		return scanFailure(err)
	}
	if werr != nil {
		return fmt.Errorf("write audit: %w", werr)
	}
	if rep.Incomplete > 0 {
		return withCode(exitIncomplete, fmt.Errorf("%d windows lack records", rep.Incomplete), "rerun with --repair to load them")
	}
	return nil
}

// writeAuditTable prints one line per window, the ids missing, and what the audit cost.
func writeAuditTable(w io.Writer, rep *audit.Report) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WINDOW (activity time)\tSERVICE TOTAL\tWAREHOUSE\tMISSING\tSTATUS")
	for _, win := range rep.Windows {
		total := "-"
		if win.Service >= 0 {
			total = strconv.Itoa(win.Service)
		}
		how := win.Status
		if win.Exact {
			how += " (by id)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", auditWindowText(win), total, win.Warehouse, len(win.Missing), how)
	}
	tw.Flush()
	for _, win := range rep.Windows {
		if len(win.Missing) == 0 {
			continue
		}
		shown := win.Missing
		if len(shown) > 20 {
			shown = shown[:20]
		}
		fmt.Fprintf(w, "missing in %s: %s", auditWindowText(win), strings.Join(shown, " "))
		if n := len(win.Missing) - len(shown); n > 0 {
			fmt.Fprintf(w, " … and %d more (--format json lists all)", n)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "audit of %s %s: activities from %s stored before the watermark %s (service time %s, %s); %d windows, %d incomplete, %d records repaired, %d requests\n",
		rep.URL, rep.Filters.Canonical(), rep.From.UTC().Format(time.RFC3339), rep.Watermark.UTC().Format(time.RFC3339Nano),
		rep.Service.At.UTC().Format(time.RFC3339), rep.Service.Source, len(rep.Windows), rep.Incomplete, rep.Repaired, rep.Requests)
}

func auditWindowText(win audit.Window) string {
	if win.To.Sub(win.From) == timearg.Day && win.From.Equal(win.From.Truncate(timearg.Day)) {
		return win.From.UTC().Format(time.DateOnly)
	}
	return win.From.UTC().Format("2006-01-02T15:04:05Z") + "/" + win.To.UTC().Format("15:04:05Z")
}

func writeAuditCSV(w io.Writer, rep *audit.Report) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"from", "to", "service_total", "warehouse", "missing", "status", "diffed_by_id", "extra", "missing_ids"})
	for _, win := range rep.Windows {
		_ = cw.Write([]string{win.From.UTC().Format(time.RFC3339Nano), win.To.UTC().Format(time.RFC3339Nano), strconv.Itoa(win.Service),
			strconv.Itoa(win.Warehouse), strconv.Itoa(len(win.Missing)), win.Status, strconv.FormatBool(win.Exact), strconv.Itoa(win.Extra),
			strings.Join(win.Missing, " ")})
	}
	cw.Flush()
	return cw.Error()
}
