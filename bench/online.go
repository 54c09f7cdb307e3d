package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ceilingTarget is the share of the API ceiling a scan with parallel slices must use.
const ceilingTarget = 0.95

// SimRequest is one activities request as the simulator logged it (--log-level debug
// --log-format json): when it started and how it ended.
type SimRequest struct {
	Start  time.Time
	Status int
}

// ParseSimLog reads the simulator's JSON debug log and returns its activities requests sorted by
// start time (the log line is written at the end; start = time − elapsed).
func ParseSimLog(log string) ([]SimRequest, error) {
	var reqs []SimRequest
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 || line[0] != '{' {
			continue
		}
		var e struct {
			Time    time.Time `json:"time"`
			Msg     string    `json:"msg"`
			Path    string    `json:"path"`
			Status  int       `json:"status"`
			Elapsed float64   `json:"elapsed"` // seconds (mcasload's JSON logs write durations in seconds)
		}
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("parse simulator log: %w", err)
		}
		if e.Msg != "request" || !strings.HasPrefix(e.Path, "/api/v1/activities") {
			continue
		}
		reqs = append(reqs, SimRequest{Start: e.Time.Add(-time.Duration(math.Round(e.Elapsed * float64(time.Second)))), Status: e.Status})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read simulator log: %w", err)
	}
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].Start.Before(reqs[j].Start) })
	return reqs, nil
}

// WindowCounts are the requests that started within window of the first one. The simulator
// writes its 429s on a hijacked connection, past the logging wrapper, so they log status 0
// (Unlogged) like a connection it dropped; the scan's own counters tell which they were.
type WindowCounts struct {
	OK, Throttled, Failed, Unlogged int
}

// CountWindow counts requests starting in [first, first+window).
func CountWindow(reqs []SimRequest, window time.Duration) WindowCounts {
	var c WindowCounts
	if len(reqs) == 0 {
		return c
	}
	end := reqs[0].Start.Add(window)
	for _, r := range reqs {
		if !r.Start.Before(end) {
			break
		}
		switch {
		case r.Status == 200:
			c.OK++
		case r.Status == 429:
			c.Throttled++
		case r.Status == 0:
			c.Unlogged++
		default:
			c.Failed++
		}
	}
	return c
}

// online is measurement 3: a scan of a throttled simulator with realistic page latency for each
// --parallel setting, each against its own fresh simulator (so no setting shares another's
// rate budget), measured over OnlineWindow from its first request. The settings run at the
// same time: a scan at the ceiling waits on the API (about a tenth of a core each), and one
// after the other they took three times the window.
//
// A last run takes the largest --parallel setting over a skewed window: every record sits in the
// first tenth of the 30 days scanned (a backfill, a tenant that grew, a window reaching past the
// data), so with even slices one slice would do all the work; finished slices split the busy one.
func (h *Harness) online(ctx context.Context) error {
	type run struct {
		parallel int
		skewed   bool
	}
	var runs []run
	for _, p := range h.cfg.OnlineParallel {
		runs = append(runs, run{parallel: p})
	}
	if n := len(h.cfg.OnlineParallel); n > 0 && h.cfg.OnlineParallel[n-1] > 1 {
		runs = append(runs, run{parallel: h.cfg.OnlineParallel[n-1], skewed: true})
	}
	rows := make([]Row, len(runs))
	errs := make([]error, len(runs))
	var wg sync.WaitGroup
	for i, r := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows[i], errs[i] = h.onlineScan(ctx, r.parallel, r.skewed)
		}()
	}
	wg.Wait()
	for i, r := range rows {
		if errs[i] == nil {
			h.Table.Add(r)
		}
	}
	return errors.Join(errs...)
}

func (h *Harness) onlineScan(ctx context.Context, parallel int, skewed bool) (Row, error) {
	var simLog strings.Builder
	args := h.simArgs(seedOnline, h.cfg.OnlineRecords, "--rate-limit", strconv.Itoa(h.cfg.RateLimit),
		"--page-latency", h.cfg.OnlineLatency, "--log-level", "debug", "--log-format", "json")
	name, what := fmt.Sprintf("online-p%d", parallel), ""
	since := []string{}
	if skewed {
		// Two days of data ending 27 days ago, in a 30-day window: all of it (late arrivals
		// included) in the window's first tenth.
		end := time.Now().Add(-27 * 24 * time.Hour).UTC().Format(time.RFC3339)
		args = append(args, "--days", "2", "--end", end)
		since = []string{"--since", "30d"}
		name, what = name+"-skewed", ", skewed window: all records in its first tenth"
	}
	srv, url, err := h.sim(ctx, args, &simLog)
	if err != nil {
		return Row{}, err
	}
	wh, err := h.workPath(name)
	if err != nil {
		_, _ = srv.Stop()
		return Row{}, err
	}
	defer h.drop(wh)
	// The scan stops itself a little after the window so every request started inside the
	// window has finished; the simulator's log decides what counts.
	slack := 10 * time.Second
	if h.cfg.OnlineWindow < time.Minute {
		slack = 2 * time.Second // toy runs (tests) with short page latency
	}
	maxDur := h.cfg.OnlineWindow + slack
	c := Cmd{Path: h.cfg.Bin, Env: []string{"MCAS_TOKEN=" + h.token},
		Args: h.scanArgs(url, wh, append([]string{"--parallel", strconv.Itoa(parallel), "--rate-limit", strconv.Itoa(h.cfg.RateLimit),
			"--limit", strconv.Itoa(h.cfg.OnlineLimit), "--max-duration", maxDur.String()}, since...)...)}
	h.logf("%s: %s", name, c)
	u, err := Run(ctx, c)
	_, serr := srv.Stop()
	if err != nil {
		return Row{}, err
	}
	if serr != nil {
		return Row{}, serr
	}
	// 6: stopped by --max-duration (the normal end here); 0: the simulator ran dry first.
	if err := checkRun(c, u, 6, 0); err != nil {
		return Row{}, err
	}
	sum, err := ParseSummary(u.Stdout)
	if err != nil {
		return Row{}, err
	}
	if u.ExitCode == 0 {
		h.Table.Note("online p%d: the scan fetched every record before the window ended; raise OnlineRecords", parallel)
	}
	reqs, err := ParseSimLog(simLog.String())
	if err != nil {
		return Row{}, err
	}
	win := CountWindow(reqs, h.cfg.OnlineWindow)
	perPage := float64(h.cfg.OnlineLimit)
	if sum.Pages > 0 {
		perPage = float64(sum.Records) / float64(sum.Pages)
	}
	minutes := h.cfg.OnlineWindow.Minutes()
	ceilingReqs := float64(h.cfg.RateLimit) * minutes
	share := float64(win.OK) / ceilingReqs
	records := int64(float64(win.OK) * perPage)
	// A failed request is one the client had to retry (5xx, reset, timeout, bad body) or an
	// error response in the window; 429s are counted apart, from the client's side.
	failed := int64(win.Failed) + sum.Retries
	row := Row{Step: "3 online", What: fmt.Sprintf("scan --parallel %d (%d req/min, %s per %d-record page%s)", parallel, h.cfg.RateLimit, h.cfg.OnlineLatency, 5000, what),
		Records: records, Wall: h.cfg.OnlineWindow, RecPerSec: rate(float64(records), h.cfg.OnlineWindow), PeakRSS: u.MaxRSS,
		Figure: fmt.Sprintf("%.0f%% of ceiling, %.1f req/min, %d×429, %d failed", 100*share, float64(win.OK)/minutes, sum.Throttled, failed)}
	if parallel > 1 {
		row.Target = "≥ 95%, 0 failed"
		row.Met = verdict(share >= ceilingTarget && failed == 0)
	}
	h.logf("%s: %d ok requests in %s (%.0f%%), %d without a logged status; run: %d records, %d pages, %d×429, %d retries",
		name, win.OK, h.cfg.OnlineWindow, 100*share, win.Unlogged, sum.Records, sum.Pages, sum.Throttled, sum.Retries)
	return row, nil
}
