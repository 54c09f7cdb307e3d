package bench

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"
)

// rssTarget is the ceiling on the peak resident set of a load or a scan, binary included
// (issue 21): 256 MB as the table counts them (10^6 bytes), what --memory-budget defaults to.
const rssTarget = 256_000_000

// Speed targets of the offline step: DuckDB's time over mcasload's, at 100k records and at
// the larger sizes (where the goal is still 2.0).
const (
	ratioTargetSmall = 2.0
	ratioTargetLarge = 1.5
)

var duckrefRE = regexp.MustCompile(`duckref: (\d+) rows`)

// offline is measurement 1: the same NDJSON file loaded by `mcasload load` into DuckDB and
// day-partitioned Parquet, and by DuckDB's own reader (bench/cmd/duckref) with the same
// threads, in separate processes, one right after the other; for each size and each record
// shape (the simulator's and the wide one of wide.go).
func (h *Harness) offline(ctx context.Context) error {
	for _, n := range h.cfg.Offline {
		for _, shape := range h.cfg.Shapes {
			if err := h.offlineSize(ctx, shape, n); err != nil {
				return err
			}
		}
	}
	return nil
}

func (h *Harness) offlineSize(ctx context.Context, shape string, n int) error {
	file, size, err := h.shapeInput(ctx, shape, n)
	if err != nil {
		return err
	}
	label := short(n) + " " + shape
	name := "offline-load-" + short(n) + "-" + shape

	lu, sum, err := h.loadOnce(ctx, file, name)
	if err != nil {
		return err
	}
	h.offlineLoads[offlineKey{shape, n}] = lu

	ref, err := h.workPath("offline-duckref-" + short(n) + "-" + shape)
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
	target, goal := ratioTargetSmall, ""
	if n > 100_000 {
		target, goal = ratioTargetLarge, " (goal 2.0)"
	}
	h.Table.Add(
		Row{Step: "1 offline", What: "mcasload load " + label + " → DuckDB + Parquet", Records: sum.Records, Wall: lu.Wall,
			RecPerSec: rate(float64(sum.Records), lu.Wall), MBPerSec: rate(MB(size), lu.Wall), PeakRSS: lu.MaxRSS,
			Figure: fmt.Sprintf("cpu %s", fmtDuration(lu.CPU())), Target: "RSS ≤ 256 MB", Met: verdict(lu.MaxRSS <= rssTarget)},
		Row{Step: "1 offline", What: "DuckDB read_json_auto " + label + " → table + Parquet", Records: refRows, Wall: du.Wall,
			RecPerSec: rate(float64(refRows), du.Wall), MBPerSec: rate(MB(size), du.Wall), PeakRSS: du.MaxRSS,
			Figure: fmt.Sprintf("cpu %s", fmtDuration(du.CPU()))},
		Row{Step: "1 offline", What: "ratio DuckDB time / mcasload time, " + label,
			Figure: fmt.Sprintf("%.2f (cpu %.2f)", ratio, du.CPU().Seconds()/lu.CPU().Seconds()),
			Target: fmt.Sprintf("≥ %.1f%s", target, goal), Met: verdict(ratio >= target)},
	)
	if h.cfg.ExtraBudget != "" && shape == ShapeSim && n == slices.Min(h.cfg.Offline) {
		if err := h.offlineBudget(ctx, file, size, label); err != nil {
			return err
		}
	}
	h.logf("offline %s: load %s (%.0f MB RSS), duckdb %s (%.0f MB RSS), ratio %.2f", label,
		lu.Wall.Round(time.Millisecond), MB(lu.MaxRSS), du.Wall.Round(time.Millisecond), MB(du.MaxRSS), ratio)
	return nil
}

// offlineKey names one offline load: its record shape and size.
type offlineKey struct {
	shape string
	n     int
}

// loadOnce loads file into a fresh work warehouse (removed afterwards) with the writer flags
// and extra ones, logged under name, and checks that every record was stored.
func (h *Harness) loadOnce(ctx context.Context, file, name string, extra ...string) (Usage, RunSummary, error) {
	wh, err := h.workPath(name)
	if err != nil {
		return Usage{}, RunSummary{}, err
	}
	defer h.drop(wh)
	args := append(append(append([]string{"load"}, h.writerArgs(wh)...), extra...), file)
	load, logDone, err := h.logged(Cmd{Path: h.cfg.Bin, Args: args}, name)
	if err != nil {
		return Usage{}, RunSummary{}, err
	}
	h.logf("%s: %s", name, load)
	u, err := Run(ctx, load)
	logDone()
	if err != nil {
		return u, RunSummary{}, err
	}
	if err := checkRun(load, u); err != nil {
		return u, RunSummary{}, err
	}
	sum, err := ParseSummary(u.Stdout)
	if err != nil {
		return u, sum, err
	}
	if sum.New != sum.Records {
		return u, sum, fmt.Errorf("%s: load stored %d of %d records", name, sum.New, sum.Records)
	}
	return u, sum, nil
}

// offlineBudget loads the file again with --memory-budget ExtraBudget: what more memory buys.
func (h *Harness) offlineBudget(ctx context.Context, file string, size int64, label string) error {
	u, sum, err := h.loadOnce(ctx, file, "offline-budget-"+h.cfg.ExtraBudget, "--memory-budget", h.cfg.ExtraBudget)
	if err != nil {
		return err
	}
	h.Table.Add(Row{Step: "1 offline", What: "mcasload load " + label + " --memory-budget " + h.cfg.ExtraBudget, Records: sum.New, Wall: u.Wall,
		RecPerSec: rate(float64(sum.Records), u.Wall), MBPerSec: rate(MB(size), u.Wall), PeakRSS: u.MaxRSS,
		Figure: fmt.Sprintf("cpu %s", fmtDuration(u.CPU()))})
	return nil
}
