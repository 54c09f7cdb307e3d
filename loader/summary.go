package loader

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mcasload/mcasload/internal/humanize"
)

// Summary is what one run did. It is printed at the end of the run and stored as JSON in the
// warehouse run log, so monitoring reads the same figures the operator saw.
type Summary struct {
	Command     string    `json:"command"` // "load" or "scan"
	Source      string    `json:"source,omitempty"`
	Tenant      string    `json:"tenant,omitempty"` // the tenant label the rows were stored under
	Started     time.Time `json:"started"`
	Finished    time.Time `json:"finished"`
	ElapsedSecs float64   `json:"elapsed_seconds"`

	Files      int   `json:"files,omitempty"` // input files (load)
	Records    int64 `json:"records"`         // records read from the input
	Bytes      int64 `json:"bytes"`           // input bytes read
	New        int64 `json:"new"`             // rows added to the warehouse
	Duplicates int64 `json:"duplicates"`      // records whose id was already stored (first wins)
	Conflicts  int64 `json:"conflicts"`       // duplicates whose content differed from the stored row
	// BehindHorizon counts records dated before the tenant's retention horizon (mcasload
	// prune): not stored. Horizon is that day (YYYY-MM-DD) when there were any.
	BehindHorizon int64  `json:"behind_horizon,omitempty"`
	Horizon       string `json:"horizon,omitempty"`
	Rejected      int64  `json:"rejected"` // records sent to rejected_activities
	// RejectedByReason counts rejects per reason (e.g. "missing _id").
	RejectedByReason map[string]int64 `json:"rejected_by_reason,omitempty"`
	TypeErrors       int64            `json:"type_errors"` // typed fields with a wrong type, stored as NULL
	Commits          int              `json:"commits"`
	Days             []string         `json:"days_touched,omitempty"` // YYYY-MM-DD, sorted
	RecordsPerSec    float64          `json:"records_per_second"`
	MBPerSec         float64          `json:"mb_per_second"`

	// Counters holds figures only one kind of run has (scan: pages, 429s, retries).
	Counters map[string]int64 `json:"counters,omitempty"`
	// Stopped is set when a signal or deadline ended the run early after committing what was done.
	Stopped bool `json:"stopped,omitempty"`
	// Error is the error that ended the run, if any.
	Error string `json:"error,omitempty"`
	// RejectedDir is where rejected records were written, when any were.
	RejectedDir string `json:"rejected_dir,omitempty"`
}

// finish sets the end time and the rates.
func (s *Summary) finish(now time.Time) {
	s.Finished = now
	el := now.Sub(s.Started)
	s.ElapsedSecs = el.Seconds()
	if s.ElapsedSecs > 0 {
		s.RecordsPerSec = float64(s.Records) / s.ElapsedSecs
		s.MBPerSec = float64(s.Bytes) / 1e6 / s.ElapsedSecs
	}
	slices.Sort(s.Days)
}

// JSON renders the summary for the run log.
func (s *Summary) JSON() []byte {
	b, err := json.Marshal(s)
	if err != nil {
		// Every field is a plain value; Marshal cannot fail on it.
		panic(fmt.Sprintf("marshal summary: %v", err))
	}
	return b
}

// WriteText writes the human summary: one headline and, when relevant, lines about rejects and
// days, so a cron mail says at a glance what happened.
func (s *Summary) WriteText(w io.Writer) {
	fmt.Fprintf(w, "%s: %s records read (%.1f MB) in %s: %s new, %s duplicate",
		s.Outcome(), humanize.Count(s.Records), float64(s.Bytes)/1e6,
		time.Duration(s.ElapsedSecs*float64(time.Second)).Round(time.Millisecond),
		humanize.Count(s.New), humanize.Count(s.Duplicates))
	if s.Conflicts > 0 {
		fmt.Fprintf(w, " (%s with different content; the stored row was kept)", humanize.Count(s.Conflicts))
	}
	fmt.Fprintf(w, ", %s rejected, %s commits, %s rec/s, %.1f MB/s\n",
		humanize.Count(s.Rejected), humanize.Count(int64(s.Commits)), humanize.Count(int64(s.RecordsPerSec)), s.MBPerSec)
	if s.Tenant != "" {
		fmt.Fprintf(w, "  tenant %s\n", s.Tenant)
	}
	if s.BehindHorizon > 0 {
		fmt.Fprintf(w, "  %s dated before the retention horizon %s (mcasload prune) not stored\n", plural(s.BehindHorizon, "record"), s.Horizon)
	}
	if s.TypeErrors > 0 {
		fmt.Fprintf(w, "  %s with an unexpected type stored as NULL (raw keeps the value)\n", plural(s.TypeErrors, "field"))
	}
	if s.Rejected > 0 {
		var parts []string
		for _, r := range slices.Sorted(maps.Keys(s.RejectedByReason)) {
			parts = append(parts, fmt.Sprintf("%s: %d", r, s.RejectedByReason[r]))
		}
		where := "table rejected_activities"
		if s.RejectedDir != "" {
			where += " and " + s.RejectedDir
		}
		fmt.Fprintf(w, "  %s rejected (%s); see %s\n", plural(s.Rejected, "record"), strings.Join(parts, ", "), where)
	}
	switch n := len(s.Days); {
	case n == 1:
		fmt.Fprintf(w, "  days touched: 1 (%s)\n", s.Days[0])
	case n > 1:
		fmt.Fprintf(w, "  days touched: %d (%s … %s)\n", n, s.Days[0], s.Days[n-1])
	}
}

// Outcome is the summary's first words: "scan done", "load stopped early", "scan failed".
func (s *Summary) Outcome() string {
	verb := s.Command
	if verb == "" {
		verb = "run"
	}
	state := "done"
	if s.Stopped {
		state = "stopped early"
	}
	if s.Error != "" {
		state = "failed"
	}
	return verb + " " + state
}

// plural renders "1 record" or "2,000 records".
func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return humanize.Count(n) + " " + noun + "s"
}
