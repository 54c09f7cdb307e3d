package bench

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mcasload/mcasload/warehouse"
)

// yearChunkRows bounds the records one simulator process generates: it holds them all (about
// 400 bytes each while generating), so the scale warehouse is filled by several nightly loads
// of at most this many records, each streamed from its own simulator (nothing is kept as
// NDJSON: 20M records would be 70 GB).
const yearChunkRows = 2_500_000

// yearIncidentRecords is the size of the last load, which plants the investigations'
// incidents over the last two weeks.
const yearIncidentRecords = 50_000

// yearLoad is one nightly load of the scale step: a simulator of its own seed covering days
// days up to end.
type yearLoad struct {
	seed      int64
	days      int
	end       time.Time
	rows      int
	users     int
	incidents bool
}

// yearLoads cuts rows records over days days ending at end into loads of whole days and at
// most yearChunkRows records each (more when a single day holds more), oldest first, then adds
// the load that plants the incidents.
func yearLoads(rows, days, users int, end time.Time) []yearLoad {
	perDay := max(1, rows/days)
	chunkDays := max(1, min(days, yearChunkRows/perDay))
	var out []yearLoad
	left := rows
	for d := 0; d < days; d += chunkDays {
		nd := min(chunkDays, days-d)
		n := perDay * nd
		if d+nd >= days {
			n = left
		}
		left -= n
		out = append(out, yearLoad{seed: seedYear + int64(len(out)), days: nd, end: end.AddDate(0, 0, -(days - d - nd)), rows: n, users: users})
	}
	return append(out, yearLoad{seed: seedYear - 1, days: 14, end: end, rows: yearIncidentRecords, users: min(users, 2000), incidents: true})
}

// year is the scale step (--steps year): a warehouse of YearRows rows over YearDays days,
// filled the way a large tenant's nightly loads fill it, then what it costs to use: 100k new
// records into it against into an empty warehouse, every investigation (as the loads left the
// row groups, then after `mcasload optimize` packed them), status, verify and
// export of the last day, and its size on disk per million rows.
func (h *Harness) year(ctx context.Context) error {
	label := short(h.cfg.YearRows)
	wh, err := h.workPath("year-" + label)
	if err != nil {
		return err
	}
	defer h.drop(wh)
	const step = "8 year"
	end := time.Now().UTC().Truncate(24 * time.Hour)
	loads := yearLoads(h.cfg.YearRows, h.cfg.YearDays, h.cfg.YearUsers, end)
	var stored int64
	for i, l := range loads {
		args := []string{"sim", "--seed", strconv.FormatInt(l.seed, 10), "--users", strconv.Itoa(l.users), "--days", strconv.Itoa(l.days),
			"--end", l.end.Format(time.RFC3339), "--records", strconv.Itoa(l.rows), "--ndjson", "-"}
		what := fmt.Sprintf("nightly load %d/%d: %s records, %d days, into %s rows", i+1, len(loads), short(l.rows), l.days, groupDigits(stored))
		if l.incidents {
			args = append(args, "--incidents")
			what = fmt.Sprintf("load %d/%d: %s records with the planted incidents, into %s rows", i+1, len(loads), short(l.rows), groupDigits(stored))
		}
		sim := Cmd{Path: h.cfg.Bin, Args: args}
		load, logDone, err := h.logged(Cmd{Path: h.cfg.Bin, Args: append(append([]string{"load"}, h.writerArgs(wh)...), "-")}, fmt.Sprintf("year-load-%d", i+1))
		if err != nil {
			return err
		}
		h.logf("year: %s | %s", sim, load)
		pu, lu, err := RunPipe(ctx, sim, load)
		logDone()
		if err != nil {
			return err
		}
		if err := checkRun(sim, pu); err != nil {
			return err
		}
		if err := checkRun(load, lu); err != nil {
			return err
		}
		sum, err := ParseSummary(lu.Stdout)
		if err != nil {
			return err
		}
		h.Table.Add(Row{Step: step, What: what, Records: sum.New, Wall: lu.Wall, RecPerSec: rate(float64(sum.Records), lu.Wall), PeakRSS: lu.MaxRSS,
			Figure: fmt.Sprintf("cpu %s; sim cpu %s", fmtDuration(lu.CPU()), fmtDuration(pu.CPU())), Target: "RSS ≤ 256 MB", Met: verdict(lu.MaxRSS <= rssTarget)})
		stored += sum.New
	}
	h.logf("year: %d rows stored", stored)
	if err := h.investigate(ctx, step, wh, investigationYearTarget); err != nil {
		return err
	}
	// The same after `mcasload optimize` has packed the loads' row groups.
	if err := h.yearOptimize(ctx, step, wh); err != nil {
		return err
	}
	if err := h.investigateAs(ctx, step, "optimized: ", wh, investigationYearTarget); err != nil {
		return err
	}
	if err := h.yearCommands(ctx, step, wh, end); err != nil {
		return err
	}
	if err := h.yearSizes(step, wh, stored); err != nil {
		return err
	}
	return h.incrementalInto(ctx, step, wh, label, incrementalYearTarget)
}

// yearOptimize runs `mcasload optimize` on wh and adds its time, memory and what it packed.
func (h *Harness) yearOptimize(ctx context.Context, step, wh string) error {
	u, err := h.yearRun(ctx, "optimize", "-w", wh)
	if err != nil {
		return err
	}
	packed, _, _ := strings.Cut(u.Stdout, "\n") // the activities line
	h.Table.Add(Row{Step: step, What: "mcasload optimize", Wall: u.Wall, PeakRSS: u.MaxRSS,
		Figure: fmt.Sprintf("cpu %s; %s", fmtDuration(u.CPU()), strings.TrimPrefix(packed, "activities: ")), Target: "RSS ≤ 256 MB", Met: verdict(u.MaxRSS <= rssTarget)})
	return nil
}

// yearRun runs mcasload with args, logged, and checks that it succeeded.
func (h *Harness) yearRun(ctx context.Context, args ...string) (Usage, error) {
	cmd := Cmd{Path: h.cfg.Bin, Args: args}
	h.logf("year: %s", cmd)
	u, err := Run(ctx, cmd)
	if err != nil {
		return u, err
	}
	return u, checkRun(cmd, u)
}

// yearCommands times status, verify and the export of the last day on the warehouse wh, whose
// loads end at end (midnight UTC: "--since 1d" would find nothing late in the day).
func (h *Harness) yearCommands(ctx context.Context, step, wh string, end time.Time) error {
	out, err := h.workPath("year-export.parquet")
	if err != nil {
		return err
	}
	defer h.drop(out)
	for _, c := range []struct {
		what string
		args []string
	}{
		{"mcasload status", []string{"status", "-w", wh}},
		{"mcasload verify", []string{"verify", "-w", wh}},
		{"mcasload export of the last day (Parquet)", []string{"export", "-w", wh, "--since", end.Add(-24 * time.Hour).Format(time.RFC3339),
			"--until", end.Format(time.RFC3339), "--out", out, "--progress=false"}},
	} {
		u, err := h.yearRun(ctx, c.args...)
		if err != nil {
			return err
		}
		h.Table.Add(Row{Step: step, What: c.what, Wall: u.Wall, PeakRSS: u.MaxRSS, Figure: fmt.Sprintf("cpu %s", fmtDuration(u.CPU()))})
	}
	return nil
}

// yearSizes adds the warehouse's size on disk, DuckDB file and Parquet dataset, per million rows.
func (h *Harness) yearSizes(step, wh string, rows int64) error {
	if rows == 0 {
		return fmt.Errorf("year: no rows stored")
	}
	for _, part := range []struct{ what, path string }{
		{"DuckDB file", filepath.Join(wh, warehouse.DatabaseFile)},
		{"Parquet dataset", filepath.Join(wh, warehouse.ParquetDir)},
	} {
		size, err := diskSize(part.path)
		if err != nil {
			return err
		}
		h.Table.Add(Row{Step: step, What: "size on disk: " + part.what, Records: rows,
			Figure: fmt.Sprintf("%.0f MB, %.0f MB per million rows", MB(size), MB(size)/(float64(rows)/1e6))})
	}
	return nil
}

// diskSize is the bytes of a file, or of every file under a folder.
func diskSize(path string) (int64, error) {
	var total int64
	err := filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			total += fi.Size()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("size of %s: %w", path, err)
	}
	return total, nil
}
