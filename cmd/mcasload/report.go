package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/report"
	"github.com/mcasload/mcasload/warehouse"
)

func (e *env) reportCommand() *cli.Command {
	return &cli.Command{
		Name:  "report",
		Usage: "write a self-contained HTML report of a window: activity, sign-ins by country and every investigation's findings",
		Description: "Writes one HTML file that opens anywhere without network access: the window and source it\n" +
			"covers, activity over time per app, top users and apps, sign-ins by country, failed sign-ins over\n" +
			"time, and the findings of every canned investigation (row count, top rows, a chart). --redact\n" +
			"replaces user names and IP addresses with stable pseudonyms, for a report sent outside.",
		Flags: append([]cli.Flag{
			warehouseFlag(),
			parquetFlag(),
			tenantSelectionFlag(),
			&cli.StringFlag{Name: "since", Value: "7d", Usage: "start of the window: a duration ago (7d, 2w, 1d12h), RFC 3339, a date, or epoch s (10 digits) or ms (13)"},
			&cli.StringFlag{Name: "until", Value: "now", Usage: "end of the window"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Required: true, Usage: "HTML `FILE` to write (- for stdout)"},
			&cli.BoolFlag{Name: "redact", Usage: "replace user names and IP addresses with pseudonyms (keyed hash, stable within the report)"},
			&cli.IntFlag{Name: "top", Value: 10, Usage: "users, apps and rows per finding to show"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing --out"},
			&cli.StringFlag{Name: "previous", Usage: "an earlier report `FILE` to count the findings new since (default: the --out report --force replaces)"},
			&cli.BoolFlag{Name: "progress", Value: true, Usage: "show progress on stderr"},
		}, triageFlags()...),
		Action: e.runReport,
	}
}

func (e *env) runReport(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", strings.Join(c.Args().Slice(), " "))
	}
	now := time.Now()
	since, err := timearg.ParseAt(c.String("since"), now)
	if err != nil {
		return usageErrorf("--since: %v", err)
	}
	until, err := timearg.ParseAt(c.String("until"), now)
	if err != nil {
		return usageErrorf("--until: %v", err)
	}
	if !since.Before(until) {
		return usageErrorf("--since (%s) must be before --until (%s)", since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	if c.Int("top") < 1 || c.Int("top") > 1000 {
		return usageErrorf("--top %d: give 1 to 1000", c.Int("top"))
	}
	out := c.String("out")
	if out != stdoutName {
		if err := checkOut(out, c.Bool("force")); err != nil {
			return err
		}
	}
	log, err := e.logger(c)
	if err != nil {
		return err
	}
	ctx := c.Context
	r, s, cov, err := e.openReadSession(c, log, false, since, until)
	if err != nil {
		return err
	}
	defer r.Close()
	fmt.Fprintln(e.stderr, cov.Line())
	if err := useTriage(ctx, c, r, s); err != nil {
		return err
	}

	prev, err := previousReport(c)
	if err != nil {
		return err
	}
	opts := report.Options{Since: since, Until: until, Generated: now, Covers: e.covers(ctx, r), Top: c.Int("top"),
		Previous: prev, LastScan: lastScan(ctx, r), Coverage: coverageBanner(cov), CoverageWarning: cov.State != output.CoverFull}
	if c.Bool("redact") {
		opts.Redactor = report.NewRedactor(nil)
	}
	if c.Bool("progress") {
		con := e.errOut()
		opts.Progress = func(st report.Step) {
			con.Draw(fmt.Sprintf("report: [%d/%d] %s", st.Done, st.Total, st.Name))
		}
		defer con.End()
	}
	rep, err := report.Build(ctx, s, opts)
	if err != nil {
		return err
	}
	var page bytes.Buffer
	if err := rep.Render(&page); err != nil {
		return err
	}
	if out == stdoutName {
		if _, err := e.stdout.Write(page.Bytes()); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		out = "stdout"
	} else if _, err := writeFileAtomic(out, func(w io.Writer) (int, error) { n, err := w.Write(page.Bytes()); return n, err }); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "wrote %s (%d KB, %d charts, %d investigations) in %s\n", out, (page.Len()+1023)/1024,
		strings.Count(page.String(), "data-chart="), len(rep.Findings), time.Since(now).Round(time.Millisecond))
	return noData(cov)
}

// coverageBanner is the report's sentence about the data it saw: what the window holds, and
// for a window the warehouse does not cover (or covers in part), what is missing.
func coverageBanner(cov *output.Coverage) string {
	switch cov.State {
	case output.CoverNone:
		return "No activity in this window, so every figure below is zero: " + cov.Warehouse.Text() + "."
	case output.CoverPartial:
		return "Only part of this window holds activity: " + strings.TrimPrefix(cov.Line(), "coverage ") + "."
	}
	return strings.TrimPrefix(cov.Line(), "coverage ") + "."
}

// covers names what the report covers for its header: the tenants (with the source each was
// loaded from, when the warehouse recorded it) and the folder.
func (e *env) covers(ctx context.Context, r *warehouse.Reader) string {
	where := "warehouse " + r.Dir
	if r.From == warehouse.FromParquet {
		where = "Parquet dataset " + r.Dir
		if r.Fallback != "" {
			where += " (" + r.Fallback + ")"
		}
	}
	var names []string
	for _, t := range r.Tenants {
		var source string
		_ = r.Conn().QueryRowContext(ctx, `SELECT coalesce(source, '') FROM wh.tenants WHERE tenant = ?`, t).Scan(&source)
		names = append(names, describeTenant(t, source))
	}
	if len(names) == 0 {
		return where
	}
	return strings.Join(names, "; ") + ", " + where
}

// describeTenant names a tenant and where its rows came from, for people.
func describeTenant(label, source string) string {
	switch source {
	case "":
		return "tenant " + label
	case "simulator":
		return "tenant " + label + " (the simulator: mcasload sim or demo)"
	case "file":
		return "tenant " + label + " (activities loaded from files)"
	}
	for _, p := range []string{"https://", "http://"} {
		source = strings.TrimPrefix(source, p)
	}
	return "tenant " + label + " (" + strings.TrimSuffix(source, "/") + ")"
}

// previousReport reads --previous, or the report --out holds when --force replaces it; nil when
// there is none to compare with.
func previousReport(c *cli.Context) (*report.Previous, error) {
	path := c.String("previous")
	if path == "" {
		if !c.Bool("force") {
			return nil, nil
		}
		path = c.String("out")
		if _, err := os.Stat(path); err != nil {
			return nil, nil
		}
	}
	page, err := os.ReadFile(path)
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("read previous report: %w", err), "pass --previous FILE of a report mcasload wrote")
	}
	p, ok := report.KeysOf(page)
	if !ok {
		p.Keys = nil
	}
	p.Name = filepath.Base(path)
	return &p, nil
}

// lastScan is when a scan last moved a watermark of the warehouse; zero when none did (loaded
// from files) or the watermarks cannot be read (the Parquet dataset keeps none).
func lastScan(ctx context.Context, r *warehouse.Reader) time.Time {
	var last time.Time
	if r.From != warehouse.FromDuckDB {
		return last
	}
	rows, err := r.Conn().QueryContext(ctx, `SELECT value FROM wh.state WHERE starts_with(key, ?)`, loader.WatermarkPrefix)
	if err != nil {
		return last
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if rows.Scan(&v) != nil {
			continue
		}
		if w, err := loader.DecodeWatermark(v); err == nil && w.Updated.After(last) {
			last = w.Updated
		}
	}
	return last
}
