package bench

import (
	"context"
	"fmt"
)

// Targets of (time into a full warehouse) / (time into an empty one): the 5M warehouse of
// step 4, and the scale step's 20M one (issue 21).
const (
	incrementalTarget     = 1.5
	incrementalYearTarget = 1.2
)

// incremental is measurement 4: the same new records (the offline file, another seed than the
// scale warehouse, so every one is new) loaded into an empty warehouse and then into the scale
// warehouse, one right after the other.
func (h *Harness) incremental(ctx context.Context) error {
	if _, err := h.ensureBase(ctx); err != nil {
		return err
	}
	return h.incrementalInto(ctx, "4 incremental", h.base, short(h.cfg.Scale), incrementalTarget)
}

// incrementalInto loads the Incremental records into an empty warehouse and then into full
// (which holds the size records), and adds the two loads and their ratio to the table.
func (h *Harness) incrementalInto(ctx context.Context, step, full, size string, target float64) error {
	n := h.cfg.Incremental
	file, _, err := h.offlineInput(ctx, n)
	if err != nil {
		return err
	}
	empty, err := h.workPath("incremental-empty-" + short(n))
	if err != nil {
		return err
	}
	defer h.drop(empty)
	type result struct {
		u   Usage
		sum RunSummary
	}
	load := func(wh, name string) (result, error) {
		c, logDone, err := h.logged(Cmd{Path: h.cfg.Bin, Args: append(append([]string{"load"}, h.writerArgs(wh)...), file)}, name)
		if err != nil {
			return result{}, err
		}
		h.logf("incremental: %s", c)
		u, err := Run(ctx, c)
		logDone()
		if err != nil {
			return result{}, err
		}
		if err := checkRun(c, u); err != nil {
			return result{}, err
		}
		sum, err := ParseSummary(u.Stdout)
		if err != nil {
			return result{}, err
		}
		if sum.New != sum.Records {
			return result{}, fmt.Errorf("incremental: %d of %d records were new; the inputs overlap", sum.New, sum.Records)
		}
		return result{u, sum}, nil
	}
	e, err := load(empty, "incremental-into-empty")
	if err != nil {
		return err
	}
	b, err := load(full, "incremental-into-"+size)
	if err != nil {
		return err
	}
	ratio := b.u.Wall.Seconds() / e.u.Wall.Seconds()
	h.Table.Add(
		Row{Step: step, What: "load " + short(n) + " new into empty warehouse", Records: e.sum.New, Wall: e.u.Wall,
			RecPerSec: rate(float64(e.sum.New), e.u.Wall), PeakRSS: e.u.MaxRSS, Target: "RSS ≤ 256 MB", Met: verdict(e.u.MaxRSS <= rssTarget)},
		Row{Step: step, What: fmt.Sprintf("load %s new into %s warehouse", short(n), size), Records: b.sum.New, Wall: b.u.Wall,
			RecPerSec: rate(float64(b.sum.New), b.u.Wall), PeakRSS: b.u.MaxRSS, Target: "RSS ≤ 256 MB", Met: verdict(b.u.MaxRSS <= rssTarget)},
		Row{Step: step, What: "ratio into-full time / into-empty time",
			Figure: fmt.Sprintf("%.2f×", ratio), Target: fmt.Sprintf("≤ %.1f×", target), Met: verdict(ratio <= target)},
	)
	return nil
}
