package output

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// Meta says what a result is an answer to: what was asked, what was read and how far the rows
// can be trusted. It is the "meta" of the one JSON shape, {"meta": {...}, "rows": [...]}, that
// every command printing rows gives with --format json; the row-only formats (CSV, NDJSON,
// Parquet) leave it to one JSON line on stderr (WriteMetaLine) and the human ones to a few
// words there (Summary). Later features add their fields here (data coverage, severity and
// portal links, the tenant), never a second shape; fields are omitted when they do not apply,
// except provisional, which is always said.
type Meta struct {
	// Command is what produced the rows: "query", "sql", "status", "query --list", "domains".
	Command string `json:"command"`
	// Tenants are the tenants the rows are of, when the answer covers several: each ran apart,
	// and each row's tenant column says whose it is.
	Tenants []string `json:"tenants,omitempty"`
	// Investigation and Kind (detection or pivot) name a canned investigation's run.
	Investigation string `json:"investigation,omitempty"`
	Kind          string `json:"kind,omitempty"`
	// Window is the window asked for; Read is what was read: the window and the history before it.
	Window *Window `json:"window,omitempty"`
	Read   *Window `json:"read,omitempty"`
	// History compares the history the investigation declares with what the warehouse holds.
	History *History `json:"history,omitempty"`
	// Provisional is true when the warehouse holds less history than the investigation needs:
	// baselines are thinner than declared, so novelty and volume findings are less certain
	// (Notes say why).
	Provisional bool `json:"provisional"`
	// Notes are sentences for the analyst: why the result is provisional, what was skipped.
	Notes []string `json:"notes,omitempty"`
	// Suppressed counts the rows the allow-list took out of the answer.
	Suppressed *Suppressed `json:"suppressed,omitempty"`
	// Coverage is what the warehouse holds for the window asked about (query, sql, export).
	Coverage *Coverage `json:"coverage,omitempty"`
	// Unseen lists the user and IP parameters no activity of the warehouse holds (the answer
	// about them is empty because the warehouse never saw them, not because they were quiet).
	Unseen []Unseen `json:"unseen,omitempty"`
	// Severities counts a detection's rows per severity (informational, low, medium, high).
	Severities map[string]int `json:"severities,omitempty"`
	// EvidenceCap is how many evidence ids a detection row keeps at most (the first by time);
	// first_seen and last_seen span them all.
	EvidenceCap int `json:"evidence_cap,omitempty"`
	// Portal says where a detection's portal_url links lead, or why its rows carry none.
	Portal *Portal `json:"portal,omitempty"`
	// Status is `status`'s summary of the warehouse (its rows are the days).
	Status any `json:"status,omitempty"`
}

// Window is a time range, both ends inclusive.
type Window struct {
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
}

// History is the history an investigation declares and what was there to read.
type History struct {
	// Declared is the history the investigation reads before since, as written (30d, 1d, 2h).
	Declared     string  `json:"declared"`
	DeclaredDays float64 `json:"declared_days"`
	// AvailableDays is how much of it the warehouse holds: from the day of its first activity to
	// since, at most DeclaredDays.
	AvailableDays float64 `json:"available_days"`
	// FirstActivity is the warehouse's first activity, given when it holds less history than
	// declared (the reason the result is provisional).
	FirstActivity *time.Time `json:"first_activity,omitempty"`
}

// Portal is how portal_url links are made: Links is the link of one activity with {id} standing
// for its id; when the rows carry no links, Links is empty and Note says why.
type Portal struct {
	Links string `json:"links,omitempty"`
	Note  string `json:"note,omitempty"`
	// Tenants holds each tenant's own portal when a run over several tenants links them to
	// different ones (Links and Note are then empty).
	Tenants map[string]Portal `json:"tenants,omitempty"`
}

// Suppressed counts the rows an allow-list took out, per entry that matched.
type Suppressed struct {
	Rows int `json:"rows"`
	// Shown is true when the suppressed rows are in the output anyway (--show-suppressed), each
	// with its suppressed_by.
	Shown     bool           `json:"shown"`
	AllowList string         `json:"allow_list,omitempty"`
	ByEntry   []SuppressedBy `json:"by_entry"`
}

// SuppressedBy is one allow-list entry and how many rows it suppressed.
type SuppressedBy struct {
	// Scope is "global" or the investigation whose section holds the entry.
	Scope string `json:"scope"`
	// Kind is the entry's list: users, ip_ranges, domains, apps or rule_names.
	Kind  string `json:"kind"`
	Value string `json:"value"`
	Rows  int    `json:"rows"`
}

// WriteMetaLine writes meta as one JSON line: what the row-only formats print on stderr.
func WriteMetaLine(w io.Writer, meta *Meta) error {
	b, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("write meta: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// Summary is what a person reading a table needs to know of meta: the data it saw (coverage),
// whether the result is provisional and why, and what the allow-list suppressed. Empty when there is nothing to say.
func (m *Meta) Summary() []string {
	if m == nil {
		return nil
	}
	var out []string
	if m.Coverage != nil {
		out = append(out, m.Coverage.Line())
	}
	if m.Provisional {
		out = append(out, "provisional: "+strings.Join(m.Notes, "; "))
	} else {
		for _, n := range m.Notes {
			out = append(out, "note: "+n)
		}
	}
	if s := m.Suppressed; s != nil && s.Rows > 0 {
		var parts []string
		for _, e := range s.ByEntry {
			parts = append(parts, fmt.Sprintf("%s %s %s: %d", e.Scope, e.Kind, e.Value, e.Rows))
		}
		verb := "suppressed"
		if s.Shown {
			verb = "marked suppressed (shown with suppressed_by)"
		}
		out = append(out, fmt.Sprintf("%s %d %s by the allow-list %s (%s)", verb, s.Rows, plural(s.Rows, "row", "rows"), s.AllowList, strings.Join(parts, ", ")))
	}
	if p := m.Portal; p != nil && p.Links == "" && p.Note != "" {
		out = append(out, "no portal links: "+p.Note)
	}
	if p := m.Portal; p != nil {
		for _, label := range slices.Sorted(maps.Keys(p.Tenants)) {
			if t := p.Tenants[label]; t.Links == "" && t.Note != "" {
				out = append(out, "no portal links for tenant "+label+": "+t.Note)
			}
		}
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// WriteJSON writes the JSON shape for rows that are Go values rather than an Arrow result (the
// catalogue of `query --list`, the days of `status`): {"meta": meta, "rows": rows}, indented.
func WriteJSON(w io.Writer, meta *Meta, rows any) error {
	if meta == nil {
		meta = &Meta{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(struct {
		Meta *Meta `json:"meta"`
		Rows any   `json:"rows"`
	}{meta, rows}); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}
