package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/output"

	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/warehouse"
)

func (e *env) stateCommand() *cli.Command {
	return &cli.Command{
		Name:  "state",
		Usage: "show or reset the scan watermarks kept in the warehouse",
		Description: "Each incremental scan keeps a watermark per tenant, URL and filters: every activity stored " +
			"by the service (created) before it is in the tenant's rows. `state show` lists them by tenant; " +
			"`state reset` forgets one, so the next scan of those filters starts over (30 days back, or " +
			"--since). Rows already loaded stay; re-fetched ones are skipped. --tenant-label limits either to " +
			"those tenants.",
		Subcommands: []*cli.Command{
			{
				Name:  "show",
				Usage: "list the watermarks",
				Flags: []cli.Flag{
					warehouseFlag(),
					tenantSelectionFlag(),
					&cli.StringSliceFlag{Name: "key", Usage: "show only this watermark `KEY` (as listed); repeat for several"},
					&cli.StringFlag{Name: "format", Value: "table", Usage: "output: table or json"},
				},
				Action: e.runStateShow,
			},
			{
				Name:  "reset",
				Usage: "forget watermarks so the next scan of their filters starts over",
				Flags: []cli.Flag{
					warehouseFlag(),
					tenantSelectionFlag(),
					&cli.StringSliceFlag{Name: "key", Usage: "forget this watermark `KEY` (as `state show` lists it) in each selected tenant holding it; repeat for several"},
					&cli.BoolFlag{Name: "all", Usage: "forget every watermark"},
				},
				Action: e.runStateReset,
			},
		},
	}
}

// watermarkEntry is one stored watermark as `state show` reports it.
type watermarkEntry struct {
	Tenant  string          `json:"tenant"`
	Key     string          `json:"key"`
	URL     string          `json:"url"`
	Filters json.RawMessage `json:"filters"`
	Created *time.Time      `json:"watermark"` // nil after a reset
	Updated time.Time       `json:"updated"`
	Reset   bool            `json:"reset,omitempty"`
	// The service's time the watermark came from, and where that time was read.
	ServiceTime *time.Time `json:"service_time,omitempty"`
	ServiceFrom string     `json:"service_time_from,omitempty"`
	// damaged is why the stored value cannot be read; `state reset` can still forget it.
	damaged error
}

// damagedWatermark is the first watermark of list that cannot be read, as an error whose hint
// says how to forget it; nil when every one reads.
func damagedWatermark(list []watermarkEntry) error {
	for _, w := range list {
		if w.damaged != nil {
			return withCode(exitFailure, fmt.Errorf("read watermark %s: %w", w.Key, w.damaged), resetWatermarkHint(w.Key))
		}
	}
	return nil
}

// readWatermarks lists the scan watermarks of the warehouse without taking the writer lock,
// damaged ones included (marked), so that reset can forget them.
func (e *env) readWatermarks(c *cli.Context) ([]watermarkEntry, warehouse.Sinks, error) {
	log, err := e.logger(c)
	if err != nil {
		return nil, "", err
	}
	sel, err := tenantSelection(c)
	if err != nil {
		return nil, "", err
	}
	r, err := warehouse.OpenReader(c.Context, warehouse.ReaderOptions{Dir: c.String("warehouse"), Logger: log, Tenants: sel})
	if err != nil {
		switch {
		case errors.Is(err, warehouse.ErrNoWarehouse):
			return nil, "", withCode(exitFailure, err, "pass --warehouse DIR, or run mcasload scan first")
		case errors.Is(err, warehouse.ErrUnknownTenant):
			return nil, "", withCode(exitUsage, err, "mcasload state show without --tenant-label lists every tenant's watermarks")
		}
		return nil, "", err
	}
	defer r.Close()
	if r.From != warehouse.FromDuckDB {
		return nil, "", withCode(exitFailure, fmt.Errorf("read watermarks: %s", r.Fallback), "watermarks live in the DuckDB file; try again when the writer has finished")
	}
	// The writer that resets must open the warehouse with the sinks it keeps.
	var sinks string
	if err := r.Conn().QueryRowContext(c.Context, `SELECT value FROM wh.meta WHERE key = 'sinks'`).Scan(&sinks); err != nil {
		return nil, "", fmt.Errorf("read warehouse sinks: %w", err)
	}
	// Only the selected tenants' watermarks.
	rows, err := r.Conn().QueryContext(c.Context, `SELECT tenant, key, value, updated FROM wh.state
		WHERE starts_with(key, ?) AND list_contains(?::VARCHAR[], tenant) ORDER BY tenant, key`, loader.WatermarkPrefix, sqlList(r.Tenants))
	if err != nil {
		return nil, "", withCode(exitFailure, fmt.Errorf("read watermarks: %w", err), "a warehouse made by an earlier mcasload is upgraded by any writer: run mcasload migrate first")
	}
	defer rows.Close()
	var out []watermarkEntry
	for rows.Next() {
		var label, key, value string
		var updated time.Time
		if err := rows.Scan(&label, &key, &value, &updated); err != nil {
			return nil, "", fmt.Errorf("read watermarks: %w", err)
		}
		u, f, _ := loader.ParseWatermarkKey(key)
		ent := watermarkEntry{Tenant: label, Key: key, URL: u, Filters: json.RawMessage(f), Updated: updated.UTC()}
		if value == loader.ResetWatermark {
			ent.Reset = true
		} else {
			if wm, err := loader.DecodeWatermark(value); err != nil {
				ent.damaged = err
			} else {
				t := wm.Created
				ent.Created = &t
				if wm.Service.Known() {
					st := wm.Service.At
					ent.ServiceTime, ent.ServiceFrom = &st, wm.Service.Source
				}
			}
		}
		out = append(out, ent)
	}
	return out, warehouse.Sinks(sinks), rows.Err()
}

func (e *env) runStateShow(c *cli.Context) error {
	format := c.String("format")
	if format != "table" && format != "json" {
		return usageErrorf("unknown --format %q: use table or json", format)
	}
	all, _, err := e.readWatermarks(c)
	if err != nil {
		return err
	}
	list := all
	if keys := c.StringSlice("key"); len(keys) > 0 {
		list = nil
		for _, k := range keys {
			n := len(list)
			for _, w := range all {
				if w.Key == k {
					list = append(list, w)
				}
			}
			if len(list) == n {
				return unknownKey(k, all)
			}
		}
	}
	if err := damagedWatermark(list); err != nil {
		return err
	}
	if format == "json" {
		if list == nil {
			list = []watermarkEntry{}
		}
		return output.WriteJSON(e.stdout, &output.Meta{Command: "state show"}, list)
	}
	writeWatermarks(e.stdout, list)
	return nil
}

// writeWatermarks prints one watermark per line, grouped by tenant.
func writeWatermarks(w io.Writer, list []watermarkEntry) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no scan watermarks yet: the next mcasload scan is a first run (30 days back, or --since)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENANT\tWATERMARK (created)\tSERVICE TIME (from)\tUPDATED (local)\tURL\tFILTERS")
	for _, m := range list {
		wm := "(reset: next scan starts over)"
		if m.Created != nil {
			wm = m.Created.Format(time.RFC3339Nano)
		}
		svc := "-"
		if m.ServiceTime != nil {
			svc = m.ServiceTime.Format(time.RFC3339) + " (" + m.ServiceFrom + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", m.Tenant, wm, svc, m.Updated.Format(time.RFC3339), m.URL, string(m.Filters))
	}
	tw.Flush()
	fmt.Fprintln(w, "keys (for --key, with --tenant-label TENANT):")
	for _, m := range list {
		fmt.Fprintf(w, "  %s: %s\n", m.Tenant, m.Key)
	}
}

func unknownKey(k string, all []watermarkEntry) error {
	var known []string
	for _, w := range all {
		known = append(known, "'"+w.Key+"'")
	}
	if len(known) == 0 {
		return usageErrorf("no watermark %q: the warehouse has none yet", k)
	}
	return usageErrorf("no watermark %q; known keys: %s", k, strings.Join(known, ", "))
}

func (e *env) runStateReset(c *cli.Context) error {
	keys := c.StringSlice("key")
	if len(keys) == 0 && !c.Bool("all") {
		return usageErrorf("state reset: name the watermarks with --key (see mcasload state show) or pass --all")
	}
	if len(keys) > 0 && c.Bool("all") {
		return usageErrorf("state reset: pass --key or --all, not both")
	}
	all, sinks, err := e.readWatermarks(c)
	if err != nil {
		return err
	}
	// tenant → keys to forget: every selected tenant's watermark of each key.
	reset := map[string][]string{}
	for _, w := range all {
		if (c.Bool("all") && !w.Reset) || slices.Contains(keys, w.Key) {
			reset[w.Tenant] = append(reset[w.Tenant], w.Key)
		}
	}
	for _, k := range keys {
		if !slices.ContainsFunc(all, func(w watermarkEntry) bool { return w.Key == k }) {
			return unknownKey(k, all)
		}
	}
	if len(reset) == 0 {
		fmt.Fprintln(e.stdout, "no watermarks to reset")
		return nil
	}
	log, err := e.logger(c)
	if err != nil {
		return err
	}
	w, err := openWriter(c.Context, warehouse.Options{Dir: c.String("warehouse"), Command: "mcasload state reset", Logger: log, Sinks: sinks})
	if err != nil {
		return err
	}
	// Each tenant's reset is a commit of its own: it lands whole or not at all, like any
	// watermark move.
	var cerr error
	labels := slices.Sorted(maps.Keys(reset))
	for _, label := range labels {
		state := map[string]string{}
		for _, k := range reset[label] {
			state[k] = loader.ResetWatermark
		}
		if _, cerr = w.Commit(c.Context, warehouse.Commit{Tenant: label, State: state}); cerr != nil {
			break
		}
	}
	if err := errors.Join(cerr, w.Close(context.WithoutCancel(c.Context))); err != nil {
		return fmt.Errorf("reset watermarks: %w", err)
	}
	for _, label := range labels {
		for _, k := range reset[label] {
			fmt.Fprintf(e.stdout, "reset %s: %s\n", label, k)
		}
	}
	return nil
}

// sqlList renders labels as a DuckDB list literal (they are checked tenant labels).
func sqlList(labels []string) string {
	q := make([]string, len(labels))
	for i, l := range labels {
		q[i] = "'" + l + "'"
	}
	return "[" + strings.Join(q, ", ") + "]"
}
