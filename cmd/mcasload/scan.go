package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/humanize"
	"github.com/mcasload/mcasload/internal/progress"
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/warehouse"
)

// scanFlags are the flags of `mcasload scan` besides the connection and writer flags.
func scanFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "since", Usage: "activity time from: a duration before the service's now (36h, 7d, 2w), RFC 3339, a date, or epoch s or ms; an incremental scan uses it only on its first run (default 30 days)"},
		&cli.StringFlag{Name: "until", Usage: "activity time up to (same formats); an incremental watermark then stops there"},
		&cli.StringFlag{Name: "filter", Usage: "API filters as a JSON object, or @FILE holding one, e.g. {\"ip.category\":{\"eq\":[3]}} (time bounds go in --since/--until)"},
		&cli.StringSliceFlag{Name: "service", Usage: "only this app `ID` (11161 Office 365, 20893 Exchange Online, …); repeat for several"},
		&cli.StringSliceFlag{Name: "user", Usage: "only this user `UPN`; repeat for several"},
		&cli.StringSliceFlag{Name: "event-type", Usage: "only this event type (EVENT_CATEGORY_LOGIN, …); repeat for several"},
		&cli.IntFlag{Name: "limit", Value: mcas.DefaultScanLimit, Usage: "records per page, 500 to 5000"},
		&cli.BoolFlag{Name: "full", Usage: "re-scan the --since/--until window (default the last 30 days) without moving the watermark"},
		&cli.DurationFlag{Name: "overlap", Value: loader.DefaultOverlap, Usage: "start an incremental run this long before the watermark (re-fetched records are skipped)"},
		&cli.IntFlag{Name: "parallel", Value: 1, Usage: "scan `N` disjoint time slices at once, inside the one request budget"},
		&cli.DurationFlag{Name: "max-duration", Usage: "stop after this long (e.g. 50m for an hourly cron slot), committing what was fetched; exit code 6"},
		&cli.IntFlag{Name: "rate-limit", Value: mcas.DefaultRequestsPerWindow, Usage: "requests per minute to the tenant (the API allows 30, shared by every tool using the tenant)"},
	}
}

func (e *env) scanCommand() *cli.Command {
	flags := append(connectionFlags(), scanFlags()...)
	flags = append(flags, writerFlags()...)
	flags = append(flags, publishFlags()...)
	flags = append(flags, &cli.BoolFlag{Name: "detect", Usage: "after a scan that committed, run mcasload detect (its flags below) and deliver new findings"})
	flags = append(flags, detectFlags()...)
	return &cli.Command{
		Name:  "scan",
		Usage: "fetch activities from the Defender for Cloud Apps API into the warehouse, incrementally",
		Description: "Scans activities in the order the service stored them (created) from the watermark of the " +
			"previous run minus --overlap, so late arrivals are picked up by the next run and land in their own " +
			"day. The watermark is kept per tenant, URL and filters, and commits with the rows it covers: after a " +
			"crash or Ctrl-C, the same command resumes. The first run looks back 30 days (or to --since). " +
			"--full re-scans a window without moving the watermark.\n\n" +
			"The rows are stored under a tenant label: the portal tenant of --url (contoso for " +
			"https://contoso.eu2.portal.cloudappsecurity.com), or --tenant-label. Several tenants share one " +
			"warehouse; each keeps its own rows, watermarks and Parquet folder (docs/tenants.md).\n\n" +
			"Credentials never go on the command line: MCAS_TOKEN or --token-file, or Entra ID sign-in with " +
			"--auth (client secret, certificate, managed identity, workload identity, Azure CLI, auto); see " +
			"docs/connection.md.\n\n" +
			"Exit codes: 0 done, 1 failed, 2 usage error, 3 done but some records were rejected, 4 another " +
			"writer holds the warehouse, 5 authentication or permission failure, 6 stopped by a signal or " +
			"--max-duration after committing what was fetched (rerun to continue); with --detect also 10 new " +
			"findings delivered and 9 findings kept for the next run, the most severe code of the two steps winning.",
		Flags:  flags,
		Action: e.runScan,
	}
}

// scanSettings are the parsed flags of a scan.
type scanSettings struct {
	opts loader.ScanOptions
	cfg  mcas.Config
}

// parseScanFlags turns the flags into client and scan options; every mistake is a usage error
// that says what is accepted.
func (e *env) parseScanFlags(c *cli.Context) (scanSettings, error) {
	var s scanSettings
	cfg, err := e.mcasConfig(c)
	if err != nil {
		return s, err
	}
	if n := c.Int("rate-limit"); n < 1 {
		return s, usageErrorf("--rate-limit must be at least 1 request per minute, not %d", n)
	}
	cfg.Limiter = mcas.NewLimiter(nil, c.Int("rate-limit"), mcas.DefaultWindow)
	s.cfg = cfg

	o := loader.ScanOptions{URL: cfg.URL, Full: c.Bool("full"), Overlap: c.Duration("overlap"), MaxDuration: c.Duration("max-duration")}
	// Relative times stay relative: the scan resolves them on the service's clock.
	for _, b := range []struct {
		flag string
		dst  *timearg.Time
	}{{"since", &o.Since}, {"until", &o.Until}} {
		if v := c.String(b.flag); v != "" {
			t, err := timearg.Parse(v)
			if err != nil {
				return s, usageErrorf("--%s: %v", b.flag, err)
			}
			*b.dst = t
		}
	}
	if !o.Since.IsZero() && !o.Until.IsZero() && o.Since.Relative() == o.Until.Relative() {
		// Both on the same clock: their order does not depend on which.
		now := time.Now()
		if since, until := o.Since.Resolve(now), o.Until.Resolve(now); !since.Before(until) {
			return s, usageErrorf("--since (%s) must be before --until (%s)", o.Since, o.Until)
		}
	}
	o.Limit = c.Int("limit")
	if o.Limit < mcas.MinScanLimit || o.Limit > mcas.MaxScanLimit {
		return s, usageErrorf("--limit %d: scan pages hold %d to %d records", o.Limit, mcas.MinScanLimit, mcas.MaxScanLimit)
	}
	o.Parallel = c.Int("parallel")
	if o.Parallel < 1 || o.Parallel > 64 {
		return s, usageErrorf("--parallel %d: use 1 to 64 slices", o.Parallel)
	}
	if o.Overlap < 0 {
		return s, usageErrorf("--overlap must not be negative")
	}
	if o.MaxDuration < 0 {
		return s, usageErrorf("--max-duration must not be negative")
	}

	filters, err := scopeFilters(c)
	if err != nil {
		return s, err
	}
	o.Filters = filters
	s.opts = o
	return s, nil
}

// scopeFilters reads --filter and the shortcut flags into the API filters of a scan scope.
func scopeFilters(c *cli.Context) (mcas.Filters, error) {
	var err error
	filters := mcas.Filters{}
	if v := c.String("filter"); v != "" {
		filters, err = mcas.ParseFilterArg(v, os.ReadFile)
		if err != nil {
			return nil, usageErrorf("--filter: %v", err)
		}
	}
	short := mcas.Filters{}
	if v := c.StringSlice("service"); len(v) > 0 {
		ids := make([]int, 0, len(v))
		for _, x := range v {
			id, err := strconv.Atoi(strings.TrimSpace(x))
			if err != nil || id <= 0 {
				return nil, usageErrorf("--service %q: want a numeric app ID such as 11161 (Office 365) or 20893 (Exchange Online)", x)
			}
			ids = append(ids, id)
		}
		short = short.Service(ids...)
	}
	if v := c.StringSlice("user"); len(v) > 0 {
		short = short.User(v...)
	}
	if v := c.StringSlice("event-type"); len(v) > 0 {
		short = short.EventType(v...)
	}
	filters, err = filters.Merge(short)
	if err != nil {
		return nil, usageErrorf("--filter and a shortcut flag set the same filter: %v", err)
	}
	if _, err := loader.CanonicalFilters(filters); err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("--filter: %w", err), clientHint(err))
	}
	return filters, nil
}

// scanSource is what the warehouse records as its origin: "simulator" for a loopback URL (the
// simulator's port changes from run to run), else the tenant URL.
func scanSource(rawURL string) string {
	if u, err := url.Parse(rawURL); err == nil {
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return "simulator"
		}
	}
	return loader.CanonicalURL(rawURL)
}

func (e *env) runScan(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return usageErrorf("scan takes no arguments, got %q; filters go in --filter, --service, --user or --event-type", c.Args().First())
	}
	log, err := e.logger(c)
	if err != nil {
		return err
	}
	set, err := e.parseScanFlags(c)
	if err != nil {
		return err
	}
	set.cfg.Logger = log
	client, err := mcas.NewClient(set.cfg)
	if err != nil {
		return clientSetupError(err, exitUsage)
	}
	wopts, popts, err := e.writerSetup(c, scanSource(set.cfg.URL), "mcasload scan "+scanCommandLine(c))
	if err != nil {
		return err
	}
	if wopts.Tenant, wopts.TenantDerived, err = scanTenantLabel(c, set.cfg.URL); err != nil {
		return err
	}
	wopts.Logger = log
	pub, err := e.publishOption(c, &wopts, log)
	if err != nil {
		return err
	}
	w, err := openWriter(c.Context, wopts)
	if err != nil {
		return err
	}
	var plan *detectPlan
	if c.Bool("detect") {
		if plan, err = e.planDetect(c, log); err != nil {
			w.Close(context.WithoutCancel(c.Context))
			return err
		}
		defer plan.disp.Close()
	}
	set.opts.Logger = log
	set.opts.Pipeline = popts
	horizon, err := w.Horizon(c.Context, w.Tenant())
	if err != nil {
		w.Close(context.WithoutCancel(c.Context))
		return err
	}
	var prog *progress.Display
	set.opts.OnStart = func(plan loader.ScanPlan, snap func() progress.Snapshot) {
		if !horizon.IsZero() && plan.From.Before(horizon) {
			fmt.Fprintf(e.stderr, "mcasload: the scan window starts %s, before tenant %s's retention horizon %s (mcasload prune): records dated before the horizon are not stored\n",
				plan.From.Format(time.RFC3339), w.Tenant(), horizon.Format(time.DateOnly))
		}
		if !c.Bool("progress") {
			return
		}
		prog = e.progress("scan", snap)
		prog.Start(c.Context)
	}
	sum, scanErr := loader.Scan(c.Context, client, w, set.opts)
	endProgress(prog, sum)
	err = e.finishRun(c, w, sum, scanErr, scanRun)
	pub.report(e)
	if plan == nil {
		return err
	}
	return e.detectAfterScan(c, plan, log, err)
}

// detectAfterScan runs detect after a scan whose run committed (it finished, maybe with rejected
// records, or stopped at --max-duration), and returns the outcome of the two steps whose code is
// the most severe; the other's message is logged.
func (e *env) detectAfterScan(c *cli.Context, plan *detectPlan, log *slog.Logger, scanErr error) error {
	code := exitCodeOf(scanErr)
	if code != exitOK && code != exitRejected && (code != exitStopped || c.Context.Err() != nil) {
		log.Warn("detect skipped: the scan did not finish", "exit_code", code)
		return scanErr
	}
	detectErr := e.detect(c, plan, log)
	if combineExit(code, exitCodeOf(detectErr)) == code {
		if detectErr != nil {
			log.Info("detect", "outcome", detectErr.Error())
		}
		return scanErr
	}
	if scanErr != nil {
		log.Warn("scan", "outcome", scanErr.Error())
	}
	return detectErr
}

// scanCommandLine is the command recorded in the lock and runs table: the flags as given, which
// never hold a secret (no flag takes one).
func scanCommandLine(c *cli.Context) string {
	var parts []string
	for _, f := range c.Command.Flags {
		name := f.Names()[0]
		if !c.IsSet(name) {
			continue
		}
		switch f.(type) {
		case *cli.BoolFlag:
			if c.Bool(name) {
				parts = append(parts, "--"+name)
			}
		case *cli.StringSliceFlag:
			for _, x := range c.StringSlice(name) {
				parts = append(parts, "--"+name, x)
			}
		default:
			parts = append(parts, "--"+name, fmt.Sprint(c.Value(name)))
		}
	}
	return strings.Join(parts, " ")
}

// writeScanCounters prints the scan-only figures under the summary line.
func writeScanCounters(e *env, sum *loader.Summary) {
	k := sum.Counters
	fmt.Fprintf(e.stdout, "  %d pages in %d requests, %d throttled (429), %d retries, %d tie groups, %s waiting for the rate budget\n",
		k["pages"], k["requests"], k["throttled_429"], k["retries"], k["tie_groups"], humanize.Seconds(time.Duration(k["throttle_wait_ms"])*time.Millisecond))
	if k["slice_splits"] > 0 || k["empty_last_pages"] > 0 {
		fmt.Fprintf(e.stdout, "  %d slice splits, %d empty last pages that were not the end\n", k["slice_splits"], k["empty_last_pages"])
	}
	if ms, ok := k["watermark_ms"]; ok {
		fmt.Fprintf(e.stdout, "  watermark now %s\n", time.UnixMilli(ms).UTC().Format(time.RFC3339Nano))
	}
}

// scanFailure maps a failed scan (or audit) to an exit code and a hint: what the failure's
// category says to do, then what became of the run.
func scanFailure(err error) error {
	hint := clientHint(err)
	var wm *loader.WatermarkError
	switch {
	case errors.Is(err, loader.ErrEmptyWindow), errors.Is(err, loader.ErrTimeFilter):
		return withCode(exitUsage, err, hint)
	case errors.As(err, &wm):
		return withCode(exitFailure, err, hint) // the scan stopped before fetching anything
	case errors.Is(err, mcas.ErrAuth):
		return withCode(exitAuth, err, joinHints(hint, "check the credential with `mcasload check`; what was fetched before the failure is committed"))
	case errors.Is(err, warehouse.ErrLocked):
		return withCode(exitLocked, err, "only one writer at a time")
	}
	return withCode(exitFailure, err, joinHints(hint, "what was fetched before the failure is committed; rerun the same command to continue"))
}
