package bench

import (
	"context"
	"fmt"
)

// incrementalTarget bounds (time into the scale warehouse) / (time into an empty one).
const incrementalTarget = 1.5

// incremental is measurement 4: the same new records (the offline file, another seed than the
// scale warehouse, so every one is new) loaded into an empty warehouse and then into the scale
// warehouse, one right after the other.
func (h *Harness) incremental(ctx context.Context) error {
	if _, err := h.ensureBase(ctx); err != nil {
		return err
	}
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
	b, err := load(h.base, "incremental-into-"+short(h.cfg.Scale))
	if err != nil {
		return err
	}
	ratio := b.u.Wall.Seconds() / e.u.Wall.Seconds()
	h.Table.Add(
		Row{Step: "4 incremental", What: "load " + short(n) + " new into empty warehouse", Records: e.sum.New, Wall: e.u.Wall,
			RecPerSec: rate(float64(e.sum.New), e.u.Wall), PeakRSS: e.u.MaxRSS},
		Row{Step: "4 incremental", What: fmt.Sprintf("load %s new into %s warehouse", short(n), short(h.cfg.Scale)), Records: b.sum.New, Wall: b.u.Wall,
			RecPerSec: rate(float64(b.sum.New), b.u.Wall), PeakRSS: b.u.MaxRSS},
		Row{Step: "4 incremental", What: "ratio into-full time / into-empty time",
			Figure: fmt.Sprintf("%.2f×", ratio), Target: "≤ 1.5×", Met: verdict(ratio <= incrementalTarget)},
	)
	return nil
}
