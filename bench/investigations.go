package bench

import (
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"time"

	"github.com/mcasload/mcasload/queries"
)

// investigationTarget is the time every canned investigation must stay under on the scale
// warehouse (issue 7, target 5).
const investigationTarget = time.Second

// investigations is measurement 5: every canned investigation, as `mcasload query NAME` in its
// own process over the scale warehouse, with its default window (the last 7 days; investigations
// with a baseline read the days before it too). The time is the whole process: opening the
// warehouse read-only, the query and printing CSV.
func (h *Harness) investigations(ctx context.Context) error {
	if _, err := h.ensureBase(ctx); err != nil {
		return err
	}
	user, ip, err := h.sample(ctx)
	if err != nil {
		return err
	}
	var slowest time.Duration
	var slowName string
	for _, inv := range queries.All() {
		args := []string{"query", inv.Name, "--warehouse", h.base, "--format", "csv"}
		for _, p := range inv.Params {
			if !p.Required {
				continue
			}
			switch p.Name {
			case "ip":
				args = append(args, "--param", "ip="+ip)
			case "user":
				args = append(args, "--param", "user="+user)
			default:
				return fmt.Errorf("investigation %s: no benchmark value for required parameter %s", inv.Name, p.Name)
			}
		}
		c := Cmd{Path: h.cfg.Bin, Args: args}
		u, err := Run(ctx, c)
		if err != nil {
			return err
		}
		if err := checkRun(c, u); err != nil {
			return err
		}
		rows, err := csvRows(u.Stdout)
		if err != nil {
			return fmt.Errorf("investigation %s: %w", inv.Name, err)
		}
		if u.Wall > slowest {
			slowest, slowName = u.Wall, inv.Name
		}
		h.Table.Add(Row{Step: "5 investigations", What: "query " + inv.Name, Wall: u.Wall, PeakRSS: u.MaxRSS,
			Figure: fmt.Sprintf("%d rows", rows), Target: "≤ 1 s", Met: verdict(u.Wall <= investigationTarget)})
	}
	h.logf("investigations: slowest %s in %s", slowName, slowest.Round(time.Millisecond))
	return nil
}

// sample picks a user and an IP from the last day of the scale warehouse for the pivots.
func (h *Harness) sample(ctx context.Context) (user, ip string, err error) {
	c := Cmd{Path: h.cfg.Bin, Args: []string{"sql", "--warehouse", h.base, "--format", "csv",
		"SELECT user_name, ip FROM activities WHERE ip IS NOT NULL AND user_name IS NOT NULL ORDER BY ts DESC LIMIT 1"}}
	u, err := Run(ctx, c)
	if err != nil {
		return "", "", err
	}
	if err := checkRun(c, u); err != nil {
		return "", "", err
	}
	recs, err := csv.NewReader(strings.NewReader(u.Stdout)).ReadAll()
	if err != nil || len(recs) < 2 || len(recs[1]) < 2 {
		return "", "", fmt.Errorf("pick a user and an ip: unexpected output %q", u.Stdout)
	}
	return recs[1][0], recs[1][1], nil
}

// csvRows counts the data rows of CSV output (an empty result may print a note instead).
func csvRows(out string) (int, error) {
	if strings.TrimSpace(out) == "" {
		return 0, nil
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		// Not CSV: a one-line "no rows" message.
		return 0, nil
	}
	return max(0, len(recs)-1), nil
}
