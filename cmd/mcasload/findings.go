package main

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/allowlist"
	"github.com/mcasload/mcasload/detect"
	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/warehouse"
)

func (e *env) findingsCommand() *cli.Command {
	reason := &cli.StringFlag{Name: "reason", Usage: "why (recorded with who and when)"}
	return &cli.Command{
		Name:  "findings",
		Usage: "list, show, acknowledge, suppress or resolve the findings of mcasload detect",
		Description: "Findings are what detect stored: one per key (investigation, entities, time bucket), with its " +
			"status: new (not yet delivered), notified (every sink accepted it), acknowledged, suppressed (never " +
			"delivered again) or resolved (delivered again if it comes back). An ID may be shortened to a unique " +
			"prefix of 6 characters or more (docs/detect.md).",
		Subcommands: []*cli.Command{
			{
				Name: "list", Usage: "list the findings, highest severity and newest first",
				Flags: append(readerFlags(),
					&cli.StringFlag{Name: "status", Usage: "only these statuses (`LIST`: new, notified, acknowledged, suppressed, resolved; comma-separated)"},
					&cli.StringFlag{Name: "investigation", Usage: "only this investigation's findings"},
				),
				Action: e.listFindings,
			},
			{
				Name: "show", Usage: "show one finding whole", ArgsUsage: "ID",
				Flags:  append(readerFlags()[:2], &cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "json", Usage: "output format: json, ndjson, table, csv or markdown"}),
				Action: e.showFinding,
			},
			{
				Name: "ack", Usage: "acknowledge a finding: someone is on it", ArgsUsage: "ID",
				Flags:  []cli.Flag{warehouseFlag(), reason},
				Action: func(c *cli.Context) error { return e.setFindingStatus(c, detect.StatusAcknowledged) },
			},
			{
				Name: "suppress", Usage: "never deliver a finding again; with --entity, add its entity to the allow-list instead", ArgsUsage: "ID",
				Flags: []cli.Flag{warehouseFlag(), reason,
					&cli.StringFlag{Name: "entity", Usage: "add the finding's `KIND` (user, ip or app; or KIND=VALUE with domain and rule too) to the allow-list, for this investigation (or every detection with --global)"},
					&cli.BoolFlag{Name: "global", Usage: "with --entity: allow the entity for every detection"},
					allowListFlag(),
				},
				Action: func(c *cli.Context) error { return e.setFindingStatus(c, detect.StatusSuppressed) },
			},
			{
				Name: "resolve", Usage: "resolve a finding: delivered again if it comes back", ArgsUsage: "ID",
				Flags:  []cli.Flag{warehouseFlag(), reason},
				Action: func(c *cli.Context) error { return e.setFindingStatus(c, detect.StatusResolved) },
			},
		},
	}
}

// findingColumns are the columns of findings list.
const findingColumns = `id, status, severity, investigation, entity_user AS user, entity_ip AS ip, entity_app AS app,
	entity_object AS object, bucket, first_seen, last_seen, len(evidence_ids) AS evidence, evidence_pruned,
	notification, delivered, detected_at, notified_at, status_reason, status_by`

// severityOrder sorts findings by severity, highest first.
const severityOrder = `CASE severity WHEN 'high' THEN 4 WHEN 'medium' THEN 3 WHEN 'low' THEN 2 ELSE 1 END DESC`

func (e *env) listFindings(c *cli.Context) error {
	var where []string
	var args []any
	if v := c.String("status"); v != "" {
		for _, s := range splitNames(v) {
			switch s {
			case detect.StatusNew, detect.StatusNotified, detect.StatusAcknowledged, detect.StatusSuppressed, detect.StatusResolved:
			default:
				return usageErrorf("--status %q: use new, notified, acknowledged, suppressed or resolved", s)
			}
			args = append(args, s)
		}
		where = append(where, "status IN ("+strings.TrimSuffix(strings.Repeat("?, ", len(args)), ", ")+")")
	}
	if v := c.String("investigation"); v != "" {
		if _, err := queries.Lookup(v); err != nil {
			return withCode(exitUsage, err, "mcasload query --list shows every investigation")
		}
		where = append(where, "investigation = ?")
		args = append(args, v)
	}
	q := `SELECT ` + findingColumns + ` FROM findings`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	return e.writeFindings(c, q+` ORDER BY `+severityOrder+`, detected_at DESC, id`, args...)
}

func (e *env) showFinding(c *cli.Context) error {
	if c.NArg() != 1 {
		return usageErrorf("give one finding ID (mcasload findings list shows them)")
	}
	id := c.Args().First()
	return e.writeFindings(c, `SELECT * EXCLUDE (row_json), row_json::JSON AS "row" FROM findings WHERE starts_with(id, ?) AND length(?) >= 6`, id, id)
}

// writeFindings runs q on the warehouse's findings view and writes the result in --format.
func (e *env) writeFindings(c *cli.Context, q string, args ...any) error {
	format, err := output.ParseFormat(c.String("format"))
	if err != nil {
		return usageErrorf("--format: %v", err)
	}
	log, err := e.logger(c)
	if err != nil {
		return err
	}
	r, err := warehouse.OpenReader(c.Context, warehouse.ReaderOptions{Dir: c.String("warehouse"), Logger: log})
	if err != nil {
		return withCode(exitFailure, err, "pass --warehouse DIR (or MCAS_WAREHOUSE) of a warehouse detect ran on")
	}
	defer r.Close()
	rdr, err := r.QueryArrow(c.Context, q, args...)
	if err != nil {
		return fmt.Errorf("read findings: %w", err)
	}
	defer rdr.Release()
	opts := output.Options{Format: format, Meta: &output.Meta{Command: "findings " + c.Command.Name}}
	if opts.Width, err = e.tableWidth(c); err != nil && hasFlag(c, "max-width") {
		return err
	}
	n, err := output.Write(e.stdout, rdr, opts)
	if err != nil {
		return err
	}
	if n == 0 && c.Command.Name == "show" {
		return withCode(exitFailure, fmt.Errorf("no finding with id %q", c.Args().First()), "mcasload findings list shows every finding's id (6 characters or more of it will do)")
	}
	return nil
}

// setFindingStatus records an analyst's decision on one finding: the status, when, who (the OS
// user) and why.
func (e *env) setFindingStatus(c *cli.Context, status string) error {
	if c.NArg() != 1 {
		return usageErrorf("give one finding ID (mcasload findings list shows them)")
	}
	if c.String("entity") != "" && status != detect.StatusSuppressed {
		return usageErrorf("--entity is for suppress")
	}
	w, err := e.openExisting(c, "mcasload findings "+c.Command.Name, "")
	if err != nil {
		return err
	}
	defer w.Close(context.WithoutCancel(c.Context))
	all, err := w.Findings(c.Context, "")
	if err != nil {
		return withStorageHint(err)
	}
	f, err := pickFinding(all, c.Args().First())
	if err != nil {
		return err
	}
	reason := c.String("reason")
	if kind := c.String("entity"); kind != "" {
		path, entry, err := allowEntity(c, f, kind)
		if err != nil {
			return err
		}
		reason = strings.TrimPrefix(reason+"; allow-list "+path+": "+entry, "; ")
		fmt.Fprintf(e.stdout, "added %s to %s\n", entry, path)
	}
	now := time.Now().UTC()
	f.Status, f.StatusReason, f.StatusBy, f.UpdatedAt = status, reason, osUser(), now
	switch status {
	case detect.StatusAcknowledged:
		f.AcknowledgedAt = now
	case detect.StatusSuppressed:
		f.SuppressedAt = now
	case detect.StatusResolved:
		f.ResolvedAt = now
	}
	if err := w.SaveFindings(c.Context, f.Tenant, []warehouse.FindingRow{f}, nil); err != nil {
		return withStorageHint(err)
	}
	fmt.Fprintf(e.stdout, "%s %s (%s, %s) by %s\n", status, f.ID, f.Investigation, f.Bucket, f.StatusBy)
	return nil
}

// pickFinding finds the one finding whose id starts with prefix (6 characters at least).
func pickFinding(all []warehouse.FindingRow, prefix string) (warehouse.FindingRow, error) {
	if len(prefix) < 6 {
		return warehouse.FindingRow{}, usageErrorf("finding id %q: give 6 characters or more of it", prefix)
	}
	var hits []warehouse.FindingRow
	for _, f := range all {
		if strings.HasPrefix(f.ID, prefix) {
			hits = append(hits, f)
		}
	}
	switch len(hits) {
	case 1:
		return hits[0], nil
	case 0:
		return warehouse.FindingRow{}, withCode(exitFailure, fmt.Errorf("no finding with id %q", prefix), "mcasload findings list shows every finding's id")
	}
	return warehouse.FindingRow{}, usageErrorf("finding id %q names %d findings: give more of it", prefix, len(hits))
}

// osUser is who records a decision: the OS user running mcasload.
func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "unknown"
}

// allowEntity adds the finding's entity of kind (or KIND=VALUE) to the allow-list file and
// returns the file and the entry added.
func allowEntity(c *cli.Context, f warehouse.FindingRow, kind string) (string, string, error) {
	kind, value, given := strings.Cut(kind, "=")
	if !given {
		switch kind {
		case "user":
			value = f.User
		case "ip":
			value = f.IP
		case "app":
			value = f.App
		default:
			return "", "", usageErrorf("--entity %s: give user, ip or app (taken from the finding), or KIND=VALUE (kinds user, ip, app, domain, rule)", kind)
		}
		if value == "" {
			return "", "", usageErrorf("--entity %s: finding %s has no %s in its key; give %s=VALUE", kind, f.ID, kind, kind)
		}
		if strings.Contains(value, ",") {
			return "", "", usageErrorf("--entity %s: finding %s has several (%s); give %s=VALUE with one of them", kind, f.ID, value, kind)
		}
	}
	list, ok := allowlist.EntryKind[kind]
	if !ok || value == "" {
		return "", "", usageErrorf("--entity %s=%s: kinds are user, ip, app, domain and rule", kind, value)
	}
	path := c.String("allow-list")
	if path == "" {
		path = filepath.Join(c.String("warehouse"), allowlist.FileName)
	}
	scope := f.Investigation
	if c.Bool("global") {
		scope = ""
	}
	note := fmt.Sprintf("by %s %s, finding %s", osUser(), time.Now().UTC().Format(time.DateOnly), f.ID)
	if r := c.String("reason"); r != "" {
		note += ": " + r
	}
	if err := allowlist.Add(path, scope, list, value, note, queries.Names()); err != nil {
		return "", "", withCode(exitFailure, err, "docs/allow-list.md describes the file; fix it by hand and rerun")
	}
	section := "[global]"
	if scope != "" {
		section = "[investigation." + scope + "]"
	}
	return path, fmt.Sprintf("%s %s %q", section, list, value), nil
}
