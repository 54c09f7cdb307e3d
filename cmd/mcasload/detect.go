package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/allowlist"
	"github.com/mcasload/mcasload/delivery"
	"github.com/mcasload/mcasload/detect"
	"github.com/mcasload/mcasload/export"
	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/warehouse"
)

// detectFlags are the flags of detect, and of scan with --detect.
func detectFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringSliceFlag{Name: "deliver", Usage: "send new findings to `SINK`: - (stdout, NDJSON; the default), file:///PATH, https://URL#format=json|teams|slack&secret=FILE, syslog+tcp://HOST:PORT or syslog+tls://HOST:PORT (?format=cef|json), or @FILE naming sinks, one a line; repeat for several (docs/detect.md)"},
		&cli.StringFlag{Name: "investigations", Usage: "run only these detections (`NAMES`, comma-separated; default every detection)"},
		&cli.StringFlag{Name: "exclude", Usage: "do not run these detections (`NAMES`, comma-separated)"},
		&cli.StringFlag{Name: "min-severity", Usage: "keep findings of this `LEVEL` or above: informational, low, medium or high"},
		allowListFlag(),
	}, triageFlags()...)
}

func (e *env) detectCommand() *cli.Command {
	return &cli.Command{
		Name:  "detect",
		Usage: "run the detections over the activities new since the last detect, and deliver new findings",
		Description: "The activities whose created time is past the detect watermark are the new ones (so a late " +
			"arrival counts on the night it becomes visible). Each detection runs over the time buckets those " +
			"activities fall in, with its declared history; a row is a candidate only if its evidence holds a " +
			"new activity. Candidates are matched with the stored findings by key (investigation, entities, " +
			"time bucket): a new key is a new finding; one seen again is delivered again only when its severity " +
			"rose or it was resolved and came back. A finding is marked delivered only once every sink " +
			"accepted it; otherwise it is offered again on the next run, with the same id (docs/detect.md).\n\n" +
			"Exit codes: 0 nothing new, 10 new findings delivered, 9 some findings could not be delivered " +
			"(they are kept for the next run), 1 failed, 2 usage error, 4 another writer holds the warehouse.",
		Flags: append([]cli.Flag{warehouseFlag(), tenantSelectionFlag()}, detectFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("detect takes no arguments, got %q", c.Args().First())
			}
			log, err := e.logger(c)
			if err != nil {
				return err
			}
			p, err := e.planDetect(c, log)
			if err != nil {
				return err
			}
			defer p.disp.Close()
			return e.detect(c, p, log)
		},
	}
}

// detectPlan is what a detect run was asked to do, checked before anything runs.
type detectPlan struct {
	invs  []*queries.Investigation
	min   delivery.Severity
	disp  *delivery.Dispatcher
	allow *allowlist.List
	keep  int
	// tenants are the tenants to run for (nil: every tenant of the warehouse).
	tenants []string
}

// planDetect checks the detect flags: the sinks (their secret and CA files read now), the
// detections and the allow-list; every mistake is a usage error before anything is sent.
func (e *env) planDetect(c *cli.Context, log *slog.Logger) (*detectPlan, error) {
	p := &detectPlan{}
	var err error
	if p.invs, err = detect.Select(splitNames(c.String("investigations")), splitNames(c.String("exclude"))); err != nil {
		return nil, withCode(exitUsage, err, "mcasload query --list shows every investigation and its kind")
	}
	if len(p.invs) == 0 {
		return nil, usageErrorf("--exclude leaves no detection to run")
	}
	if v := c.String("min-severity"); v != "" {
		if p.min, err = delivery.ParseSeverity(v); err != nil {
			return nil, usageErrorf("--min-severity: %v", err)
		}
	}
	if p.keep, err = evidenceCap(c); err != nil {
		return nil, err
	}
	if p.allow, err = loadAllowList(c); err != nil {
		return nil, err
	}
	if c.Command.Name == "detect" {
		// scan --detect runs for every tenant: its own --tenant-label names the tenant it writes.
		if p.tenants, err = tenantSelection(c); err != nil {
			return nil, err
		}
	}
	specs := c.StringSlice("deliver")
	if len(specs) == 0 {
		specs = []string{"-"}
	}
	parsed, err := delivery.ParseSpecs(specs)
	if err == nil {
		p.disp, err = delivery.Open(parsed, delivery.Options{Stdout: e.stdout, Version: version, Log: log})
	}
	if err != nil {
		return nil, withCode(exitUsage, fmt.Errorf("--deliver: %w", err), "docs/detect.md lists the sinks and their options")
	}
	return p, nil
}

// splitNames splits a comma-separated list of names, dropping blanks (as --columns is split).
func splitNames(s string) []string { return export.ParseColumns(s) }

// detect runs the detections over what is new, stores the findings with the watermark in one
// transaction, then delivers every finding owed a notification and records what was accepted.
func (e *env) detect(c *cli.Context, p *detectPlan, log *slog.Logger) error {
	ctx := c.Context
	w, err := e.openExisting(c, "mcasload detect", "")
	if err != nil {
		return err
	}
	err = e.detectWith(c, w, p, log)
	if cerr := w.Close(context.WithoutCancel(ctx)); err == nil && cerr != nil {
		err = withStorageHint(fmt.Errorf("finish detect: %w", cerr))
	}
	return err
}

func (e *env) detectWith(c *cli.Context, w *warehouse.Writer, p *detectPlan, log *slog.Logger) error {
	tenants := p.tenants
	if tenants == nil {
		r, err := warehouse.OpenReader(c.Context, warehouse.ReaderOptions{Dir: w.Dir(), Logger: log})
		if err != nil {
			return withStorageHint(err)
		}
		tenants = r.AllTenants
		r.Close()
	}
	var out detect.Outcome
	for _, t := range tenants {
		if c.Context.Err() != nil {
			break // stopped by a signal: the tenants left wait for the next run
		}
		o, err := e.detectTenant(c, w, p, log, t)
		if err != nil {
			return fmt.Errorf("tenant %s: %w", t, err)
		}
		out.Delivered += o.Delivered
		out.Failed += o.Failed
		out.Errors = append(out.Errors, o.Errors...)
	}
	for _, err := range out.Errors {
		log.Warn("finding not delivered", "err", err)
	}
	var outcome error
	switch {
	case out.Failed > 0:
		outcome = withCode(exitUndelivered, fmt.Errorf("%d findings could not be delivered (%d delivered): %w", out.Failed, out.Delivered, errors.Join(out.Errors...)),
			"they are kept and offered again, with the same ids, on the next run; fix the receiver or the sink (docs/detect.md, When delivery fails)")
	case out.Delivered > 0:
		outcome = withCode(exitNewFindings, fmt.Errorf("%d findings delivered", out.Delivered), "mcasload findings list shows them; ack, suppress or resolve them there")
	}
	if c.Context.Err() != nil {
		// A delivery cut short by the signal is a stop (6), not a receiver's failure (9).
		return worstOf(withCode(exitStopped, errors.New("stopped by a signal; the findings are saved, the ones not delivered are kept for the next run"),
			"rerun mcasload detect: it offers them again, with the same ids"), outcome)
	}
	return outcome
}

// detectTenant is one tenant's detect: what is new past its watermark, the candidates, the merge
// with its findings, stored with the new watermark in one transaction, then the delivery of every
// finding owed one.
func (e *env) detectTenant(c *cli.Context, w *warehouse.Writer, p *detectPlan, log *slog.Logger, tenant string) (detect.Outcome, error) {
	ctx := c.Context
	now := time.Now().UTC()
	mark, err := w.DetectWatermark(ctx, tenant)
	if err != nil {
		return detect.Outcome{}, withStorageHint(err)
	}
	stored, err := w.Findings(ctx, tenant)
	if err != nil {
		return detect.Outcome{}, withStorageHint(err)
	}
	span, cands, pruned, err := e.findCandidates(c, w.Dir(), p, tenant, mark, stored, now, log)
	if err != nil {
		return detect.Outcome{}, err
	}
	// Pruned evidence first, so the merge sees the flag.
	byID := map[string]int{}
	for i := range stored {
		byID[stored[i].ID] = i
	}
	for _, f := range pruned {
		stored[byID[f.ID]] = f
	}
	changed, added := detect.Merge(stored, cands, now, p.keep)
	changed = append(keepNotIn(pruned, changed), changed...)
	next, err := nextMark(ctx, w, span, mark)
	if err != nil {
		return detect.Outcome{}, err
	}
	if err := w.SaveFindings(ctx, tenant, changed, next); err != nil {
		return detect.Outcome{}, withStorageHint(err)
	}
	all, err := w.Findings(ctx, tenant)
	if err != nil {
		return detect.Outcome{}, withStorageHint(err)
	}
	out, err := detect.Deliver(ctx, w, p.disp, tenant, all, now)
	if err != nil {
		return out, withStorageHint(err)
	}
	e.sayDetect(tenant, span, mark, p, len(cands), added, out)
	return out, nil
}

// nextMark is the watermark after a run that looked at span (nil: unchanged). The activities'
// part moves to the newest created time less the scan's overlap: a scan re-reads that overlap
// and may store, later, an activity created just before its watermark; detect looks at the same
// overlap again, and the key keeps a finding from repeating. The stream's part moves to the last
// commit when the run saw new stream rows: the run holds the warehouse, so every row committed
// so far was among them.
func nextMark(ctx context.Context, w *warehouse.Writer, span detect.Span, mark warehouse.DetectMark) (*warehouse.DetectMark, error) {
	next, moved := mark, false
	if span.Count > span.Streamed && !span.MaxCreated.IsZero() {
		if n := span.MaxCreated.Add(-loader.DefaultOverlap); n.After(mark.Created) {
			next.Created, moved = n, true
		}
	}
	if span.Streamed > 0 {
		last, err := w.LastCommit(ctx)
		if err != nil {
			return nil, withStorageHint(err)
		}
		if last > mark.Stream {
			next.Stream, moved = last, true
		}
	}
	if !moved {
		return nil, nil
	}
	return &next, nil
}

// findCandidates opens the warehouse read-only and runs the detections over what is new.
func (e *env) findCandidates(c *cli.Context, dir string, p *detectPlan, tenant string, mark warehouse.DetectMark, stored []warehouse.FindingRow, now time.Time, log *slog.Logger) (detect.Span, []detect.Candidate, []warehouse.FindingRow, error) {
	ctx := c.Context
	var span detect.Span
	r, err := warehouse.OpenReader(ctx, warehouse.ReaderOptions{Dir: dir, Logger: log, Tenants: []string{tenant}})
	if err != nil {
		return span, nil, nil, withStorageHint(err)
	}
	defer r.Close()
	if span, err = detect.NewActivities(ctx, r.Conn(), mark); err != nil {
		return span, nil, nil, err
	}
	pruned, err := detect.MarkPruned(ctx, r.Conn(), stored, now)
	if err != nil || span.Count == 0 {
		return span, nil, pruned, err
	}
	s, err := queries.Open(ctx, r.Conn(), queries.Lockdown{AllowedDirectories: []string{r.Dir}})
	if err != nil {
		return span, nil, nil, err
	}
	if p.allow != nil {
		if err := s.UseAllowList(ctx, p.allow); err != nil {
			return span, nil, nil, err
		}
	}
	if err := useTriage(ctx, c, r, s); err != nil {
		return span, nil, nil, err
	}
	cands, notes, err := detect.Find(ctx, s, r.Conn(), span, detect.Options{Tenant: tenant, Investigations: p.invs,
		MinSeverity: p.min, Watermark: mark, Now: now})
	for _, n := range notes {
		log.Info("detect: provisional", "note", n)
	}
	return span, cands, pruned, err
}

// keepNotIn is the rows of a whose id is not in b.
func keepNotIn(a, b []warehouse.FindingRow) []warehouse.FindingRow {
	var out []warehouse.FindingRow
	for _, f := range a {
		found := false
		for _, g := range b {
			found = found || g.ID == f.ID
		}
		if !found {
			out = append(out, f)
		}
	}
	return out
}

// sayDetect writes the run's one summary line on stderr: what was new, what was found, what
// was delivered.
func (e *env) sayDetect(tenant string, span detect.Span, mark warehouse.DetectMark, p *detectPlan, cands, added int, out detect.Outcome) {
	since := "ever"
	if !mark.Created.IsZero() {
		since = mark.Created.Format("2006-01-02 15:04:05 UTC")
	}
	stream := ""
	if span.Streamed > 0 {
		after := "ever"
		if mark.Stream > 0 {
			after = fmt.Sprintf("commit %d", mark.Stream)
		}
		stream = fmt.Sprintf(" and %d stream rows loaded since %s", span.Streamed, after)
	}
	if span.Count == 0 {
		fmt.Fprintf(e.errOut(), "detect %s: nothing new (no activity created since %s, no stream row loaded since the last detect); ", tenant, since)
	} else {
		fmt.Fprintf(e.errOut(), "detect %s: %d activities created since %s%s (activity time %s to %s); %d detections: %d candidates, %d new findings; ",
			tenant, span.Count-span.Streamed, since, stream, span.From.Format("2006-01-02 15:04"), span.To.Format("2006-01-02 15:04"), len(p.invs), cands, added)
	}
	fmt.Fprintf(e.errOut(), "delivered %d, kept for the next run %d\n", out.Delivered, out.Failed)
}
