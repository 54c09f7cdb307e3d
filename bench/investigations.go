package bench

import (
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"time"

	"github.com/mcasload/mcasload/queries"
)

// Times every canned investigation must stay under: on the 5M warehouse of step 5 and on the
// scale step's 20M one (issue 21).
const (
	investigationTarget     = time.Second
	investigationYearTarget = 2 * time.Second
)

// investigations is measurement 5: every canned investigation, as `mcasload query NAME` in its
// own process over the scale warehouse, with its default window (the last 7 days; investigations
// with a baseline read the days before it too). The time is the whole process: opening the
// warehouse read-only, the query and printing CSV.
func (h *Harness) investigations(ctx context.Context) error {
	if _, err := h.ensureBase(ctx); err != nil {
		return err
	}
	return h.investigate(ctx, "5 investigations", h.base, investigationTarget)
}

// investigate runs every canned investigation over the warehouse wh and adds a row each.
func (h *Harness) investigate(ctx context.Context, step, wh string, target time.Duration) error {
	return h.investigateAs(ctx, step, "", wh, target)
}

// investigateAs is investigate with prefix before each row's "query NAME".
func (h *Harness) investigateAs(ctx context.Context, step, prefix, wh string, target time.Duration) error {
	user, ip, err := h.sample(ctx, wh)
	if err != nil {
		return err
	}
	var slowest time.Duration
	var slowName string
	for _, inv := range queries.All() {
		args := []string{"query", inv.Name, "--warehouse", wh, "--format", "csv"}
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
		h.Table.Add(Row{Step: step, What: prefix + "query " + inv.Name, Wall: u.Wall, PeakRSS: u.MaxRSS,
			Figure: fmt.Sprintf("%d rows", rows), Target: fmt.Sprintf("≤ %g s", target.Seconds()), Met: verdict(u.Wall <= target)})
	}
	label := "investigations"
	if prefix != "" {
		label += " (" + strings.TrimSuffix(prefix, ": ") + ")"
	}
	h.logf("%s: slowest %s in %s", label, slowName, slowest.Round(time.Millisecond))
	return nil
}

// sample picks a user and an IP from the last day of the warehouse wh for the pivots.
func (h *Harness) sample(ctx context.Context, wh string) (user, ip string, err error) {
	c := Cmd{Path: h.cfg.Bin, Args: []string{"sql", "--warehouse", wh, "--format", "csv",
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
