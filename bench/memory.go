package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// flatTarget is how much more a run over more records may hold at its peak and still count as
// not growing with the count: the allowance for noise and for DuckDB's caches.
const flatTarget = 1.2

// memory is measurement 2: peak RSS of load over the largest offline size and the scale size,
// and of scans of ScanSizes with throttling off and the simulator in its own process.
func (h *Harness) memory(ctx context.Context) error {
	// Load: the largest offline size (reusing its run) against the scale load.
	var small int
	var su Usage
	if len(h.cfg.Offline) > 0 {
		small = slices.Max(h.cfg.Offline)
		var ok bool
		if su, ok = h.offlineLoads[offlineKey{ShapeSim, small}]; !ok {
			var err error
			if su, err = h.loadFile(ctx, small); err != nil {
				return err
			}
			h.Table.Add(Row{Step: "2 memory", What: "mcasload load " + short(small) + " (file)", Wall: su.Wall, PeakRSS: su.MaxRSS,
				Target: "RSS ≤ 256 MB", Met: verdict(su.MaxRSS <= rssTarget)})
		}
	}
	bu, err := h.ensureBase(ctx)
	if err != nil {
		return err
	}
	if small > 0 {
		g := float64(bu.MaxRSS) / float64(su.MaxRSS)
		h.Table.Add(Row{Step: "2 memory", What: fmt.Sprintf("load peak RSS %s / %s", short(h.cfg.Scale), short(small)),
			Figure: fmt.Sprintf("%.2f× (%.0f / %.0f MB)", g, MB(bu.MaxRSS), MB(su.MaxRSS)), Target: fmt.Sprintf("≤ %.1f× (flat)", flatTarget), Met: verdict(g <= flatTarget)})
	}

	// Scan: each size against its own simulator process, throttling off on both sides.
	var first Usage
	for i, n := range h.cfg.ScanSizes {
		u, sum, err := h.scanAll(ctx, n)
		if err != nil {
			return err
		}
		h.Table.Add(Row{Step: "2 memory", What: "mcasload scan " + short(n) + " (sim --rate-limit 0, own process)", Records: sum.Records,
			Wall: u.Wall, RecPerSec: rate(float64(sum.Records), u.Wall), PeakRSS: u.MaxRSS,
			Figure: fmt.Sprintf("%d pages, %d retries", sum.Pages, sum.Retries), Target: "RSS ≤ 256 MB", Met: verdict(u.MaxRSS <= rssTarget)})
		if i == 0 {
			first = u
			continue
		}
		g := float64(u.MaxRSS) / float64(first.MaxRSS)
		h.Table.Add(Row{Step: "2 memory", What: fmt.Sprintf("scan peak RSS %s / %s", short(n), short(h.cfg.ScanSizes[0])),
			Figure: fmt.Sprintf("%.2f×", g), Target: fmt.Sprintf("≤ %.1f× (flat)", flatTarget), Met: verdict(g <= flatTarget)})
	}
	return nil
}

// loadFile loads the cached offline file of n records into a fresh warehouse.
func (h *Harness) loadFile(ctx context.Context, n int) (Usage, error) {
	file, _, err := h.offlineInput(ctx, n)
	if err != nil {
		return Usage{}, err
	}
	wh, err := h.workPath("load-" + short(n))
	if err != nil {
		return Usage{}, err
	}
	defer h.drop(wh)
	c := Cmd{Path: h.cfg.Bin, Args: append(append([]string{"load"}, h.writerArgs(wh)...), file)}
	u, err := Run(ctx, c)
	if err != nil {
		return u, err
	}
	return u, checkRun(c, u)
}

// ensureBase loads the scale warehouse once: `mcasload sim --ndjson -` piped into
// `mcasload load -` (a 5M-record file would take 17 GB of cache), with the planted incidents
// so the investigations have something to find. The load row reports the consumer only.
func (h *Harness) ensureBase(ctx context.Context) (Usage, error) {
	if h.base != "" || h.baseErr != nil {
		return Usage{}, h.baseErr
	}
	u, err := h.loadBase(ctx)
	if err != nil {
		h.baseErr = fmt.Errorf("load the %s warehouse: %w", short(h.cfg.Scale), err)
	}
	return u, h.baseErr
}

// loadBase does ensureBase's work once.
func (h *Harness) loadBase(ctx context.Context) (Usage, error) {
	wh, err := h.workPath("base-" + short(h.cfg.Scale))
	if err != nil {
		return Usage{}, err
	}
	sim := Cmd{Path: h.cfg.Bin, Args: h.simArgs(seedScale, h.cfg.Scale, "--incidents", "--ndjson", "-")}
	load, logDone, err := h.logged(Cmd{Path: h.cfg.Bin, Args: append(append([]string{"load"}, h.writerArgs(wh)...), "-")}, "scale-load-"+short(h.cfg.Scale))
	if err != nil {
		return Usage{}, err
	}
	h.logf("scale: %s | %s", sim, load)
	pu, lu, err := RunPipe(ctx, sim, load)
	logDone()
	if err != nil {
		return lu, err
	}
	if err := checkRun(sim, pu); err != nil {
		return lu, err
	}
	if err := checkRun(load, lu); err != nil {
		return lu, fmt.Errorf("%w (peak RSS %.0f MB, wall %s; the load's log is in %s/logs)", err, MB(lu.MaxRSS), fmtDuration(lu.Wall), h.cfg.Out)
	}
	sum, err := ParseSummary(lu.Stdout)
	if err != nil {
		return lu, err
	}
	h.base = wh
	h.Table.Add(Row{Step: "2 memory", What: "sim --ndjson - | mcasload load - " + short(h.cfg.Scale), Records: sum.New,
		Wall: lu.Wall, RecPerSec: rate(float64(sum.Records), lu.Wall), PeakRSS: lu.MaxRSS,
		Figure: fmt.Sprintf("cpu %s; sim cpu %s", fmtDuration(lu.CPU()), fmtDuration(pu.CPU())), Target: "RSS ≤ 256 MB", Met: verdict(lu.MaxRSS <= rssTarget)})
	h.logf("scale: %d records in %s, %.0f MB RSS", sum.New, lu.Wall.Round(time.Second), MB(lu.MaxRSS))
	return lu, nil
}

// sim starts `mcasload sim` on a free loopback port with the run's token and returns it with
// its base URL.
func (h *Harness) sim(ctx context.Context, args []string, stderr *strings.Builder) (*Server, string, error) {
	c := Cmd{Path: h.cfg.Bin, Args: append(args, "--addr", "127.0.0.1:0"), Env: []string{"MCAS_SIM_TOKEN=" + h.token}}
	if stderr != nil {
		c.Stderr = stderr
	}
	srv, err := StartServer(ctx, c, "url: ", 10*time.Minute)
	if err != nil {
		return nil, "", err
	}
	u, _ := srv.Line("url: ")
	base := strings.TrimSuffix(strings.TrimSuffix(u, "/"), "/api/v1/activities")
	return srv, base, nil
}

// scanArgs are the flags of a measured scan against the simulator at url.
func (h *Harness) scanArgs(url, wh string, extra ...string) []string {
	days := strconv.Itoa(h.cfg.Days+1) + "d"
	args := append([]string{"scan", "--url", url, "--since", days}, h.writerArgs(wh)...)
	return append(args, extra...)
}

// scanAll scans all n records of a fresh simulator with throttling off on both sides.
func (h *Harness) scanAll(ctx context.Context, n int) (Usage, RunSummary, error) {
	srv, url, err := h.sim(ctx, h.simArgs(seedScan, n, "--rate-limit", "0"), nil)
	if err != nil {
		return Usage{}, RunSummary{}, err
	}
	defer srv.Stop()
	wh, err := h.workPath("scan-" + short(n))
	if err != nil {
		return Usage{}, RunSummary{}, err
	}
	defer h.drop(wh)
	c := Cmd{Path: h.cfg.Bin, Args: h.scanArgs(url, wh, "--rate-limit", "1000000", "--limit", strconv.Itoa(h.cfg.OnlineLimit)),
		Env: []string{"MCAS_TOKEN=" + h.token}}
	h.logf("scan %s: %s", short(n), c)
	u, err := Run(ctx, c)
	if err != nil {
		return u, RunSummary{}, err
	}
	if err := checkRun(c, u); err != nil {
		return u, RunSummary{}, err
	}
	sum, err := ParseSummary(u.Stdout)
	if err != nil {
		return u, sum, err
	}
	if sum.New == 0 {
		return u, sum, fmt.Errorf("scan %s: stored nothing", short(n))
	}
	return u, sum, nil
}
