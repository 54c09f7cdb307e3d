package output

import (
	"fmt"
	"strings"
	"time"
)

// The states of a window's coverage.
const (
	// CoverFull: every UTC day the window touches holds activity.
	CoverFull = "full"
	// CoverPartial: some days of the window hold activity, others none (DaysWithout says which).
	CoverPartial = "partial"
	// CoverNone: the warehouse holds no activity in the window; an empty answer means nothing.
	CoverNone = "none"
)

// Coverage says what the warehouse holds for the window a command was asked about, so that an
// empty or small answer can be told apart from a warehouse that holds nothing there. It is
// meta.coverage in JSON, a line on stderr beside a table (Line) and the banner of a report.
type Coverage struct {
	// Source is what was read: "warehouse DIR" or "parquet DIR".
	Source string `json:"source"`
	// Tenants are the tenants read; TenantsWithout those of them with no activity in the window.
	Tenants        []string `json:"tenants"`
	TenantsWithout []string `json:"tenants_without_data,omitempty"`
	// Window is the window asked for; absent when the command reads the whole warehouse (sql).
	Window *Window `json:"window,omitempty"`
	// State is CoverFull, CoverPartial or CoverNone.
	State string `json:"state"`
	// Activities counts the activities in the window; FirstActivity and LastActivity are the
	// first and last of them.
	Activities    int64      `json:"activities"`
	FirstActivity *time.Time `json:"first_activity,omitempty"`
	LastActivity  *time.Time `json:"last_activity,omitempty"`
	// Days counts the UTC days the window touches, DaysWithData those holding activity, and
	// DaysWithout lists the runs of days without any.
	Days         int        `json:"days"`
	DaysWithData int        `json:"days_with_data"`
	DaysWithout  []DayRange `json:"days_without_data,omitempty"`
	// Warehouse is what the warehouse holds in all (for the tenants read), whatever the window.
	Warehouse Holdings `json:"warehouse"`
	// LastRun is the last scan or load that finished (absent for a bare Parquet dataset, which
	// keeps no run log).
	LastRun *Run `json:"last_run,omitempty"`
	// Rejected counts the records kept aside in rejected_activities (see mcasload status).
	Rejected int64 `json:"rejected_records"`
}

// Holdings is what a warehouse holds.
type Holdings struct {
	Activities    int64      `json:"activities"`
	FirstActivity *time.Time `json:"first_activity,omitempty"`
	LastActivity  *time.Time `json:"last_activity,omitempty"`
	Days          int        `json:"days"`
}

// DayRange is a run of UTC days, both ends inclusive (YYYY-MM-DD).
type DayRange struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (d DayRange) String() string {
	if d.From == d.To {
		return d.From
	}
	return d.From + " … " + d.To
}

// Run is a writing run of the warehouse: what ran and when it finished.
type Run struct {
	Command  string    `json:"command"`
	Finished time.Time `json:"finished"`
}

// Unseen is a parameter value (a user, an IP) that no activity of the warehouse holds.
type Unseen struct {
	Param string `json:"param"`
	Value string `json:"value"`
}

const stamp = "2006-01-02 15:04 UTC"

// Line is the coverage in one line for people: the window, its state, the activities it holds,
// the days without any, the tenants, the last run and the rejected records.
func (c *Coverage) Line() string {
	if c == nil {
		return ""
	}
	var b strings.Builder
	b.WriteString("coverage")
	if c.Window != nil {
		fmt.Fprintf(&b, " of %s to %s", c.Window.Since.UTC().Format(stamp), c.Window.Until.UTC().Format(stamp))
	}
	fmt.Fprintf(&b, " (%s): ", c.State)
	switch {
	case c.Activities == 0:
		b.WriteString("no activity")
		if c.Window != nil {
			b.WriteString(" in the window; " + c.Warehouse.Text())
		}
	default:
		fmt.Fprintf(&b, "%s %s on %d of %d %s, %s to %s", count(c.Activities), plural(int(min(c.Activities, 2)), "activity", "activities"),
			c.DaysWithData, c.Days, plural(c.Days, "day", "days"), c.FirstActivity.UTC().Format(stamp), c.LastActivity.UTC().Format(stamp))
	}
	if len(c.DaysWithout) > 0 && c.Activities > 0 {
		parts := make([]string, len(c.DaysWithout))
		for i, d := range c.DaysWithout {
			parts[i] = d.String()
		}
		b.WriteString("; nothing on " + strings.Join(parts, ", "))
	}
	fmt.Fprintf(&b, "; %s %s", plural(len(c.Tenants), "tenant", "tenants"), strings.Join(c.Tenants, ", "))
	if len(c.TenantsWithout) > 0 && c.Activities > 0 {
		fmt.Fprintf(&b, " (none from %s)", strings.Join(c.TenantsWithout, ", "))
	}
	if c.LastRun != nil {
		fmt.Fprintf(&b, "; last %s %s", c.LastRun.Command, c.LastRun.Finished.UTC().Format(stamp))
	}
	fmt.Fprintf(&b, "; %s rejected %s", count(c.Rejected), plural(int(min(c.Rejected, 2)), "record", "records"))
	return b.String()
}

// Text says what the warehouse holds, for a message about a window it does not cover.
func (h Holdings) Text() string {
	if h.Activities == 0 {
		return "the warehouse holds no activity at all"
	}
	return fmt.Sprintf("the warehouse holds %s %s on %d %s, %s to %s", count(h.Activities), plural(int(min(h.Activities, 2)), "activity", "activities"),
		h.Days, plural(h.Days, "day", "days"), h.FirstActivity.UTC().Format(stamp), h.LastActivity.UTC().Format(stamp))
}

// count writes n with thousands separators.
func count(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0 && s[i-1] != '-'; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
