package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/humanize"
	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/warehouse"
)

func (e *env) statusCommand() *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show each tenant's rows and bytes per day, the last runs, pending work and rejects",
		Description: "Reads the warehouse without taking the writer lock, so it works while a load or " +
			"scan runs (it then shows what is committed). --tenant-label shows only those tenants.",
		Flags: []cli.Flag{
			warehouseFlag(),
			tenantSelectionFlag(),
			&cli.StringFlag{Name: "format", Value: "table", Usage: "output: table or json"},
		},
		Action: e.runStatus,
	}
}

func (e *env) runStatus(c *cli.Context) error {
	format := c.String("format")
	if format != "table" && format != "json" {
		return usageErrorf("unknown --format %q: use table or json", format)
	}
	sel, err := tenantSelection(c)
	if err != nil {
		return err
	}
	log, err := e.logger(c)
	if err != nil {
		return err
	}
	st, err := warehouse.ReadStatus(c.Context, warehouse.ReaderOptions{Dir: c.String("warehouse"), Logger: log, Tenants: sel})
	if err != nil {
		if errors.Is(err, warehouse.ErrNoWarehouse) && format == "table" {
			if ok, cerr := e.copyStatus(c.String("warehouse")); ok || cerr != nil {
				return cerr
			}
		}
		switch {
		case errors.Is(err, warehouse.ErrNoWarehouse):
			return withCode(exitFailure, err, "create one with mcasload load FILE or mcasload scan, or pass --warehouse DIR")
		case errors.Is(err, warehouse.ErrUnknownTenant):
			return withCode(exitUsage, err, "mcasload status without --tenant-label lists every tenant")
		}
		return withStorageHint(err)
	}
	if format == "json" {
		return writeStatusJSON(e.stdout, st)
	}
	writeStatusTable(e.stdout, st)
	return nil
}

// statusJSON is the warehouse summary in `status --format json`, for monitoring: the meta's
// "status" of the one JSON shape, whose rows are the days (dayJSON).
type statusJSON struct {
	Dir         string           `json:"dir"`
	Sinks       string           `json:"sinks"`
	DuckDBBytes int64            `json:"duckdb_bytes"`
	Rows        int64            `json:"rows"`
	Tenants     []tenantJSON     `json:"tenants"`
	Runs        []runJSON        `json:"runs"`
	PendingDays []string         `json:"pending_days"` // "<tenant>/<day>"
	Rejects     map[string]int64 `json:"rejects"`
}

type tenantJSON struct {
	Tenant   string `json:"tenant"`
	Source   string `json:"source"`
	Rows     int64  `json:"rows"`
	Days     int    `json:"days"`
	Rejected int64  `json:"rejected"`
	// OldestDay is the earliest day with rows; Horizon the retention horizon (mcasload
	// prune), "" when never pruned.
	OldestDay string `json:"oldest_day"`
	Horizon   string `json:"horizon,omitempty"`

	// CloudAppEvents counts the stream's rows (mcasload stream); rows, days, rejected and
	// oldest_day above are the activities'.
	CloudAppEvents warehouse.DatasetStatus `json:"cloud_app_events"`
}

type dayJSON struct {
	Tenant       string `json:"tenant"`
	Day          string `json:"day"`
	DuckDBRows   int64  `json:"duckdb_rows"`
	ParquetRows  int64  `json:"parquet_rows"`
	ParquetFiles int    `json:"parquet_files"`
	ParquetBytes int64  `json:"parquet_bytes"`
	Pending      bool   `json:"pending"`
}

type runJSON struct {
	ID         string          `json:"id"`
	Tenant     string          `json:"tenant"`
	Command    string          `json:"command"`
	Source     string          `json:"source"`
	Started    time.Time       `json:"started"`
	Finished   *time.Time      `json:"finished"`
	Commits    int64           `json:"commits"`
	Inserted   int64           `json:"inserted"`
	Duplicates int64           `json:"duplicates"`
	Conflicts  int64           `json:"conflicts"`
	Rejected   int64           `json:"rejected"`
	Summary    json.RawMessage `json:"summary,omitempty"`
}

func writeStatusJSON(w io.Writer, st *warehouse.Status) error {
	out := statusJSON{
		Dir: st.Dir, Sinks: string(st.Sinks), DuckDBBytes: st.DuckDBBytes, Rows: st.Rows,
		Tenants: []tenantJSON{}, Runs: []runJSON{}, PendingDays: st.PendingDays, Rejects: st.Rejects,
	}
	if out.PendingDays == nil {
		out.PendingDays = []string{}
	}
	for _, t := range st.Tenants {
		out.Tenants = append(out.Tenants, tenantJSON(t))
	}
	days := []dayJSON{}
	for _, d := range st.Days {
		days = append(days, dayJSON(d))
	}
	for _, r := range st.Runs {
		rj := runJSON{ID: r.ID, Tenant: r.Tenant, Command: r.Command, Source: r.Source, Started: r.Started, Commits: r.Commits,
			Inserted: r.Inserted, Duplicates: r.Duplicates, Conflicts: r.Conflicts, Rejected: r.Rejected}
		if !r.Finished.IsZero() {
			f := r.Finished
			rj.Finished = &f
		}
		if json.Valid([]byte(r.Summary)) {
			rj.Summary = json.RawMessage(r.Summary)
		}
		out.Runs = append(out.Runs, rj)
	}
	return output.WriteJSON(w, &output.Meta{Command: "status", Status: out}, days)
}

// writeStatusTable prints the warehouse's totals, then each tenant with its days, the last runs,
// pending work and rejects.
func writeStatusTable(w io.Writer, st *warehouse.Status) {
	var pqBytes int64
	for _, d := range st.Days {
		pqBytes += d.ParquetBytes
	}
	fmt.Fprintf(w, "warehouse %s\n  sinks %s, %s\n", st.Dir, st.Sinks, plural(len(st.Tenants), "tenant"))
	fmt.Fprintf(w, "  %s rows over %d tenant-days; DuckDB file %s, Parquet %s\n", humanize.Count(st.Rows), len(st.Days), humanize.Bytes(st.DuckDBBytes), humanize.Bytes(pqBytes))
	var streamRows int64
	for _, t := range st.Tenants {
		streamRows += t.CloudAppEvents.Rows
	}
	if streamRows > 0 {
		fmt.Fprintf(w, "  and %s cloud_app_events rows (the Streaming API's, mcasload stream)\n", humanize.Count(streamRows))
	}
	for _, t := range st.Tenants {
		src := t.Source
		if src == "" {
			src = "(none recorded)"
		}
		fmt.Fprintf(w, "\ntenant %s: %s rows over %s, %s rejected; source %s\n", t.Tenant, humanize.Count(t.Rows), plural(t.Days, "day"), humanize.Count(t.Rejected), src)
		if t.OldestDay != "" || t.Horizon != "" {
			fmt.Fprintf(w, "  oldest day %s", cmp.Or(t.OldestDay, "(none)"))
			if t.Horizon != "" {
				fmt.Fprintf(w, "; retention horizon %s (mcasload prune: nothing older is stored)", t.Horizon)
			}
			fmt.Fprintln(w)
		}
		writeStreamStatus(w, t.CloudAppEvents)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		header := false
		for _, d := range st.Days {
			if d.Tenant != t.Tenant {
				continue
			}
			if !header {
				fmt.Fprintln(tw, "day\tduckdb rows\tparquet rows\tfiles\tparquet size\tpending\t")
				header = true
			}
			pending := ""
			if d.Pending {
				pending = "yes"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t\n", d.Day, humanize.Count(d.DuckDBRows), humanize.Count(d.ParquetRows), d.ParquetFiles, humanize.Bytes(d.ParquetBytes), pending)
		}
		tw.Flush()
	}
	fmt.Fprintln(w)
	writeRunsTable(w, st.Runs)
	if len(st.PendingDays) > 0 {
		fmt.Fprintf(w, "pending: %s committed to DuckDB but not yet in Parquet (%s); the next load or scan publishes them\n",
			plural(len(st.PendingDays), "tenant-day"), strings.Join(st.PendingDays, ", "))
	} else {
		fmt.Fprintln(w, "pending: nothing; Parquet holds every committed row")
	}
	var total int64
	for _, n := range st.Rejects {
		total += n
	}
	if total == 0 {
		fmt.Fprintln(w, "rejects: none")
		return
	}
	var parts []string
	for _, r := range slices.Sorted(maps.Keys(st.Rejects)) {
		parts = append(parts, fmt.Sprintf("%s %s", r, humanize.Count(st.Rejects[r])))
	}
	fmt.Fprintf(w, "rejects: %s (%s); see table rejected_activities and %s\n", humanize.Count(total), strings.Join(parts, ", "),
		filepath.Join(st.Dir, warehouse.RejectedDir))
}

// writeRunsTable prints the last runs, newest first.
func writeRunsTable(w io.Writer, runs []warehouse.RunStatus) {
	if len(runs) == 0 {
		return
	}
	fmt.Fprintln(w, "last runs (newest first):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  started\tfinished\ttenant\tnew\tduplicate\trejected\tcommand")
	for _, r := range runs {
		fin := "not finished (interrupted or running)"
		if !r.Finished.IsZero() {
			fin = r.Finished.Format("2006-01-02 15:04:05Z")
		}
		label := r.Tenant
		if label == "" {
			label = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Started.Format("2006-01-02 15:04:05Z"), fin, label,
			humanize.Count(r.Inserted), humanize.Count(r.Duplicates), humanize.Count(r.Rejected), statusClip(r.Command, 60))
	}
	tw.Flush()
	fmt.Fprintln(w)
}

// writeStreamStatus prints a tenant's cloud_app_events line, when it has any.
func writeStreamStatus(w io.Writer, ds warehouse.DatasetStatus) {
	if ds.Rows == 0 && ds.Rejected == 0 {
		return
	}
	newest := "none"
	if !ds.Newest.IsZero() {
		newest = ds.Newest.Format("2006-01-02 15:04:05Z")
	}
	fmt.Fprintf(w, "  cloud_app_events: %s rows over %s, newest %s; Parquet %s rows; %s rejected\n",
		humanize.Count(ds.Rows), plural(ds.Days, "day"), newest, humanize.Count(ds.ParquetRows), humanize.Count(ds.Rejected))
}

// plural renders "1 tenant" or "2 tenants".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return humanize.Count(int64(n)) + " " + noun + "s"
}

func statusClip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
