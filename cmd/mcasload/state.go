package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
		Description: "Each incremental scan keeps a watermark per tenant URL and filters: every activity stored " +
			"by the service (created) before it is in the warehouse. `state show` lists them; `state reset` " +
			"forgets one, so the next scan of those filters starts over (30 days back, or --since). Rows " +
			"already loaded stay; re-fetched ones are skipped.",
		Subcommands: []*cli.Command{
			{
				Name:  "show",
				Usage: "list the watermarks",
				Flags: []cli.Flag{
					warehouseFlag(),
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
					&cli.StringSliceFlag{Name: "key", Usage: "forget this watermark `KEY` (as `state show` lists it); repeat for several"},
					&cli.BoolFlag{Name: "all", Usage: "forget every watermark"},
				},
				Action: e.runStateReset,
			},
		},
	}
}

// watermarkEntry is one stored watermark as `state show` reports it.
type watermarkEntry struct {
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
	r, err := warehouse.OpenReader(c.Context, warehouse.ReaderOptions{Dir: c.String("warehouse"), Logger: log})
	if err != nil {
		if errors.Is(err, warehouse.ErrNoWarehouse) {
			return nil, "", withCode(exitFailure, err, "pass --warehouse DIR, or run mcasload scan first")
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
	rows, err := r.Conn().QueryContext(c.Context, `SELECT key, value, updated FROM wh.state WHERE starts_with(key, ?) ORDER BY key`, loader.WatermarkPrefix)
	if err != nil {
		return nil, "", fmt.Errorf("read watermarks: %w", err)
	}
	defer rows.Close()
	var out []watermarkEntry
	for rows.Next() {
		var key, value string
		var updated time.Time
		if err := rows.Scan(&key, &value, &updated); err != nil {
			return nil, "", fmt.Errorf("read watermarks: %w", err)
		}
		u, f, _ := loader.ParseWatermarkKey(key)
		ent := watermarkEntry{Key: key, URL: u, Filters: json.RawMessage(f), Updated: updated.UTC()}
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
			i := slices.IndexFunc(all, func(w watermarkEntry) bool { return w.Key == k })
			if i < 0 {
				return unknownKey(k, all)
			}
			list = append(list, all[i])
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

// writeWatermarks prints one watermark per line, newest scope first by update.
func writeWatermarks(w io.Writer, list []watermarkEntry) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no scan watermarks yet: the next mcasload scan is a first run (30 days back, or --since)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WATERMARK (created)\tSERVICE TIME (from)\tUPDATED (local)\tURL\tFILTERS")
	for _, m := range list {
		wm := "(reset: next scan starts over)"
		if m.Created != nil {
			wm = m.Created.Format(time.RFC3339Nano)
		}
		svc := "-"
		if m.ServiceTime != nil {
			svc = m.ServiceTime.Format(time.RFC3339) + " (" + m.ServiceFrom + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", wm, svc, m.Updated.Format(time.RFC3339), m.URL, string(m.Filters))
	}
	tw.Flush()
	fmt.Fprintln(w, "keys (for --key):")
	for _, m := range list {
		fmt.Fprintf(w, "  %s\n", m.Key)
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
	if c.Bool("all") {
		for _, w := range all {
			if !w.Reset {
				keys = append(keys, w.Key)
			}
		}
		if len(keys) == 0 {
			fmt.Fprintln(e.stdout, "no watermarks to reset")
			return nil
		}
	}
	for _, k := range keys {
		if !slices.ContainsFunc(all, func(w watermarkEntry) bool { return w.Key == k }) {
			return unknownKey(k, all)
		}
	}
	log, err := e.logger(c)
	if err != nil {
		return err
	}
	w, err := openWriter(c.Context, warehouse.Options{Dir: c.String("warehouse"), Command: "mcasload state reset", Logger: log, Sinks: sinks})
	if err != nil {
		return err
	}
	state := map[string]string{}
	for _, k := range keys {
		state[k] = loader.ResetWatermark
	}
	// The reset is a commit of its own: it lands whole or not at all, like any watermark move.
	_, cerr := w.Commit(c.Context, warehouse.Commit{State: state})
	if err := errors.Join(cerr, w.Close(context.WithoutCancel(c.Context))); err != nil {
		return fmt.Errorf("reset watermarks: %w", err)
	}
	for _, k := range keys {
		fmt.Fprintf(e.stdout, "reset %s\n", k)
	}
	return nil
}
