package bench

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// rssTarget is the ceiling on the offline load's peak resident set (issue 7, target 1).
const rssTarget = 300 << 20

var duckrefRE = regexp.MustCompile(`duckref: (\d+) rows`)

// offline is measurement 1: the same NDJSON file loaded by `mcasload load` into DuckDB and
// day-partitioned Parquet, and by DuckDB's own reader (bench/cmd/duckref) with the same
// threads, in separate processes, one right after the other.
func (h *Harness) offline(ctx context.Context) error {
	for _, n := range h.cfg.Offline {
		if err := h.offlineSize(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

func (h *Harness) offlineSize(ctx context.Context, n int) error {
	file, size, err := h.offlineInput(ctx, n)
	if err != nil {
		return err
	}
	label := short(n)

	wh, err := h.workPath("offline-load-" + label)
	if err != nil {
		return err
	}
	load, logDone, err := h.logged(Cmd{Path: h.cfg.Bin, Args: append(append([]string{"load"}, h.writerArgs(wh)...), file)}, "offline-load-"+label)
	if err != nil {
		return err
	}
	h.logf("offline %s: %s", label, load)
	lu, err := Run(ctx, load)
	logDone()
	if err != nil {
		return err
	}
	h.drop(wh)
	if err := checkRun(load, lu); err != nil {
		return err
	}
	sum, err := ParseSummary(lu.Stdout)
	if err != nil {
		return err
	}
	if sum.New != sum.Records {
		return fmt.Errorf("offline %s: load stored %d of %d records", label, sum.New, sum.Records)
	}
	h.offlineLoads[n] = lu

	ref, err := h.workPath("offline-duckref-" + label)
	if err != nil {
		return err
	}
	dref := Cmd{Path: h.cfg.DuckRef, Args: []string{"--input", file, "--out", ref, "--threads", strconv.Itoa(h.cfg.Threads)}}
	if h.cfg.ReadOptions != "" {
		dref.Args = append(dref.Args, "--read-options", h.cfg.ReadOptions)
	}
	h.logf("offline %s: %s", label, dref)
	du, err := Run(ctx, dref)
	if err != nil {
		return err
	}
	h.drop(ref)
	if err := checkRun(dref, du); err != nil {
		return err
	}
	m := duckrefRE.FindStringSubmatch(du.Stdout)
	if m == nil {
		return fmt.Errorf("offline %s: duckref printed no row count: %q", label, du.Stdout)
	}
	refRows := atoi(m[1])
	if refRows != sum.Records {
		h.Table.Note("offline %s: DuckDB's reader read %d rows, mcasload %d", label, refRows, sum.Records)
	}

	ratio := du.Wall.Seconds() / lu.Wall.Seconds()
	h.Table.Add(
		Row{Step: "1 offline", What: "mcasload load " + label + " → DuckDB + Parquet", Records: sum.Records, Wall: lu.Wall,
			RecPerSec: rate(float64(sum.Records), lu.Wall), MBPerSec: rate(MB(size), lu.Wall), PeakRSS: lu.MaxRSS,
			Figure: fmt.Sprintf("cpu %s", fmtDuration(lu.CPU())), Target: "RSS ≤ 300 MB", Met: verdict(lu.MaxRSS <= rssTarget)},
		Row{Step: "1 offline", What: "DuckDB read_json_auto " + label + " → table + Parquet", Records: refRows, Wall: du.Wall,
			RecPerSec: rate(float64(refRows), du.Wall), MBPerSec: rate(MB(size), du.Wall), PeakRSS: du.MaxRSS,
			Figure: fmt.Sprintf("cpu %s", fmtDuration(du.CPU()))},
		Row{Step: "1 offline", What: "ratio DuckDB time / mcasload time, " + label,
			Figure: fmt.Sprintf("%.2f", ratio), Target: "≥ 1.0", Met: verdict(ratio >= 1.0)},
	)
	if h.cfg.LowMemoryLimit != "" && n == slices.Min(h.cfg.Offline) {
		if err := h.offlineLowMemory(ctx, file, size, label); err != nil {
			return err
		}
	}
	h.logf("offline %s: load %s (%.0f MB RSS), duckdb %s (%.0f MB RSS), ratio %.2f", label,
		lu.Wall.Round(time.Millisecond), MB(lu.MaxRSS), du.Wall.Round(time.Millisecond), MB(du.MaxRSS), ratio)
	return nil
}

// offlineLowMemory loads the file again with --memory-limit LowMemoryLimit: how much of the
// default run's peak follows DuckDB's limit.
func (h *Harness) offlineLowMemory(ctx context.Context, file string, size int64, label string) error {
	wh, err := h.workPath("offline-lowmem-" + label)
	if err != nil {
		return err
	}
	defer h.drop(wh)
	c, logDone, err := h.logged(Cmd{Path: h.cfg.Bin, Args: append(append([]string{"load"}, h.writerArgs(wh)...), "--memory-limit", h.cfg.LowMemoryLimit, file)}, "offline-lowmem-"+label)
	if err != nil {
		return err
	}
	h.logf("offline %s: %s", label, c)
	u, err := Run(ctx, c)
	logDone()
	if err != nil {
		return err
	}
	if err := checkRun(c, u); err != nil {
		return err
	}
	sum, err := ParseSummary(u.Stdout)
	if err != nil {
		return err
	}
	h.Table.Add(Row{Step: "1 offline", What: "mcasload load " + label + " --memory-limit " + h.cfg.LowMemoryLimit, Records: sum.New, Wall: u.Wall,
		RecPerSec: rate(float64(sum.Records), u.Wall), MBPerSec: rate(MB(size), u.Wall), PeakRSS: u.MaxRSS,
		Figure: fmt.Sprintf("cpu %s", fmtDuration(u.CPU())), Target: "RSS ≤ 300 MB", Met: verdict(u.MaxRSS <= rssTarget)})
	return nil
}
