package delivery

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// WireType and WireVersion name the JSON shape of a finding on the wire (NDJSON lines, JSON
// webhooks, JSON over syslog). A receiver checks them before it trusts the other fields; a
// change that removes or retypes a field raises the version.
const (
	WireType    = "mcasload.finding"
	WireVersion = 1
)

// Severity is how much a finding is worth looking at, as the investigation's header declares it
// (issue 16): informational, low, medium or high.
type Severity string

// The severities, lowest first.
const (
	Informational Severity = "informational"
	Low           Severity = "low"
	Medium        Severity = "medium"
	High          Severity = "high"
)

// Rank orders severities (informational 1 … high 4); an unknown severity ranks 0.
func (s Severity) Rank() int {
	switch s {
	case Informational:
		return 1
	case Low:
		return 2
	case Medium:
		return 3
	case High:
		return 4
	}
	return 0
}

// ParseSeverity accepts a severity name in any case.
func ParseSeverity(s string) (Severity, error) {
	v := Severity(strings.ToLower(strings.TrimSpace(s)))
	if v.Rank() == 0 {
		return "", fmt.Errorf("parse severity: %q is not one of informational, low, medium, high", s)
	}
	return v, nil
}

// Status is where a finding stands in the findings table (phase 2 of issue 20).
type Status string

// The statuses of a finding.
const (
	StatusNew          Status = "new"
	StatusNotified     Status = "notified"
	StatusAcknowledged Status = "acknowledged"
	StatusSuppressed   Status = "suppressed"
	StatusResolved     Status = "resolved"
)

func (s Status) valid() bool {
	switch s {
	case StatusNew, StatusNotified, StatusAcknowledged, StatusSuppressed, StatusResolved:
		return true
	}
	return false
}

// Reason says why a finding is delivered now: it is new, its severity rose since it was last
// delivered, or it was resolved and came back.
type Reason string

// The reasons for a delivery.
const (
	ReasonNew          Reason = "new"
	ReasonSeverityRose Reason = "severity_rose"
	ReasonCameBack     Reason = "came_back"
)

func (r Reason) valid() bool {
	return r == ReasonNew || r == ReasonSeverityRose || r == ReasonCameBack
}

// Entities are the entity columns an investigation declares for its finding key (issue 16): the
// user, IP address, app and object a finding is about. Empty ones are left out.
type Entities struct {
	User   string `json:"user,omitempty"`
	IP     string `json:"ip,omitempty"`
	App    string `json:"app,omitempty"`
	Object string `json:"object,omitempty"`
}

// Key is what makes two detections the same finding: the tenant, the investigation, its entities
// and the time bucket the investigation declares (a day "2026-12-06", a week "2026-W49", …).
// The caller normalizes the parts (a user name's case, an IP's form) before it builds the key.
type Key struct {
	Tenant        string   `json:"tenant"`
	Investigation string   `json:"investigation"`
	Entities      Entities `json:"entities"`
	Bucket        string   `json:"bucket"`
}

// ID is the finding id: the first 128 bits of SHA-256 over the key's parts, each prefixed with
// its length, in lowercase hex (32 characters). The same key gives the same id on every run and
// every machine, which is what lets a receiver deduplicate a finding delivered twice; the tenant
// is part of it, so one key in two tenants is two findings.
func (k Key) ID() string {
	h := sha256.New()
	var n [4]byte
	for _, part := range []string{"mcasload finding v1", k.Tenant, k.Investigation,
		k.Entities.User, k.Entities.IP, k.Entities.App, k.Entities.Object, k.Bucket} {
		binary.BigEndian.PutUint32(n[:], uint32(len(part)))
		h.Write(n[:])
		h.Write([]byte(part))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Finding is one finding as it goes to receivers: the wire format documented in docs/detect.md,
// "Delivery". Phase 2 of issue 20 fills it from the findings table.
type Finding struct {
	// ID is the stable finding id, Key.ID() (letters, digits, '.', '_' and '-', at most 128).
	ID string
	// Notification counts the deliveries this finding has been given a reason for: 1 when it is
	// new, 2 when its severity rose or it came back, and so on. A retry of the same delivery
	// repeats it, so (ID, Notification) is what a receiver deduplicates on.
	Notification int
	Key          Key
	// Title is the investigation's name for people ("Impossible travel"); empty means the
	// investigation's name.
	Title string
	// Summary is one line saying what happened, for chat cards and CEF msg; empty means one
	// built from the entities.
	Summary  string
	Severity Severity
	// PreviousSeverity is the severity last delivered, set when Reason is ReasonSeverityRose.
	PreviousSeverity Severity
	// Techniques are MITRE ATT&CK technique ids ("T1078", "T1110.003").
	Techniques          []string
	FirstSeen, LastSeen time.Time
	// EvidenceIDs are activity ids (the warehouse's id column) the finding rests on, up to the
	// investigation's documented number.
	EvidenceIDs []string
	// EvidencePruned is set when those activities were pruned from the warehouse since.
	EvidencePruned bool
	// PortalURLs open the evidence in the tenant's portal; PortalNote says why there are none
	// (data loaded from files has no known portal host).
	PortalURLs []string
	PortalNote string
	Status     Status
	Reason     Reason
	// Row is the investigation's result row, a JSON object.
	Row json.RawMessage
}

// idPattern is what a finding id may hold: it travels in HTTP headers, syslog structured data
// and CEF values, so nothing there needs escaping.
var idPattern = regexp.MustCompile(`^[A-Za-z0-9._-]{1,128}$`)

// Validate reports what is missing or malformed; a finding that fails it is never sent.
func (f *Finding) Validate() error {
	var problems []string
	if !idPattern.MatchString(f.ID) {
		problems = append(problems, fmt.Sprintf("id %q is not 1–128 letters, digits, '.', '_' or '-'", shorten(f.ID, 40)))
	}
	if f.Notification < 1 {
		problems = append(problems, fmt.Sprintf("notification %d is not 1 or more", f.Notification))
	}
	if f.Key.Investigation == "" {
		problems = append(problems, "no investigation in the key")
	}
	if f.Severity.Rank() == 0 {
		problems = append(problems, fmt.Sprintf("severity %q is not informational, low, medium or high", f.Severity))
	}
	if f.PreviousSeverity != "" && f.PreviousSeverity.Rank() == 0 {
		problems = append(problems, fmt.Sprintf("previous severity %q is not informational, low, medium or high", f.PreviousSeverity))
	}
	if !f.Status.valid() {
		problems = append(problems, fmt.Sprintf("status %q is not new, notified, acknowledged, suppressed or resolved", f.Status))
	}
	if !f.Reason.valid() {
		problems = append(problems, fmt.Sprintf("reason %q is not new, severity_rose or came_back", f.Reason))
	}
	if f.FirstSeen.IsZero() || f.LastSeen.IsZero() || f.LastSeen.Before(f.FirstSeen) {
		problems = append(problems, "first_seen and last_seen must be set, first_seen not after last_seen")
	}
	if len(f.Row) > 0 {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(f.Row, &obj); err != nil {
			problems = append(problems, "row is not a JSON object")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("invalid finding %s: %s", shorten(f.ID, 40), strings.Join(problems, "; "))
	}
	return nil
}

// wireFinding is the JSON of a finding, field by field as docs/detect.md lists them.
type wireFinding struct {
	Type             string          `json:"type"`
	Version          int             `json:"version"`
	ID               string          `json:"id"`
	Notification     int             `json:"notification"`
	Reason           Reason          `json:"reason"`
	Key              Key             `json:"key"`
	Title            string          `json:"title"`
	Summary          string          `json:"summary"`
	Severity         Severity        `json:"severity"`
	PreviousSeverity Severity        `json:"previous_severity,omitempty"`
	Techniques       []string        `json:"techniques"`
	FirstSeen        string          `json:"first_seen"`
	LastSeen         string          `json:"last_seen"`
	EvidenceIDs      []string        `json:"evidence_ids"`
	EvidencePruned   bool            `json:"evidence_pruned,omitempty"`
	PortalURLs       []string        `json:"portal_urls"`
	PortalNote       string          `json:"portal_note,omitempty"`
	Status           Status          `json:"status"`
	Row              json.RawMessage `json:"row"`
	RowOmitted       string          `json:"row_omitted,omitempty"`
}

// wireTime is the one timestamp form of the wire format: RFC 3339, UTC, milliseconds.
const wireTime = "2006-01-02T15:04:05.000Z07:00"

func (f *Finding) wire() wireFinding {
	row := f.Row
	if len(row) == 0 {
		row = json.RawMessage("null")
	}
	return wireFinding{
		Type: WireType, Version: WireVersion, ID: f.ID, Notification: f.Notification,
		Reason: f.Reason, Key: f.Key, Title: f.title(), Summary: f.summary(),
		Severity: f.Severity, PreviousSeverity: f.PreviousSeverity,
		Techniques: nonNil(f.Techniques), FirstSeen: f.FirstSeen.UTC().Format(wireTime),
		LastSeen: f.LastSeen.UTC().Format(wireTime), EvidenceIDs: nonNil(f.EvidenceIDs),
		EvidencePruned: f.EvidencePruned, PortalURLs: nonNil(f.PortalURLs), PortalNote: f.PortalNote,
		Status: f.Status, Row: row,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// MarshalJSON writes the wire format: one line, no HTML escaping (URLs keep their '&').
func (f Finding) MarshalJSON() ([]byte, error) {
	return encodeJSON(f.wire())
}

// encodeJSON is json.Marshal without HTML escaping and without the encoder's trailing newline.
func encodeJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// UnmarshalJSON reads the wire format back, for receivers written in Go and for tests; it
// refuses another type or a newer version.
func (f *Finding) UnmarshalJSON(data []byte) error {
	var w wireFinding
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	if w.Type != WireType || w.Version != WireVersion {
		return fmt.Errorf("read finding: type %q version %d, want %q version %d", w.Type, w.Version, WireType, WireVersion)
	}
	first, err1 := time.Parse(time.RFC3339Nano, w.FirstSeen)
	last, err2 := time.Parse(time.RFC3339Nano, w.LastSeen)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("read finding: %w", err)
	}
	*f = Finding{
		ID: w.ID, Notification: w.Notification, Key: w.Key, Title: w.Title, Summary: w.Summary,
		Severity: w.Severity, PreviousSeverity: w.PreviousSeverity, Techniques: w.Techniques,
		FirstSeen: first, LastSeen: last, EvidenceIDs: w.EvidenceIDs, EvidencePruned: w.EvidencePruned,
		PortalURLs: w.PortalURLs, PortalNote: w.PortalNote, Status: w.Status, Reason: w.Reason,
	}
	if string(w.Row) != "null" {
		f.Row = w.Row
	}
	return nil
}

func (f *Finding) title() string {
	if f.Title != "" {
		return f.Title
	}
	return f.Key.Investigation
}

// summary is Summary, or a line built from the entities and the time span when it is empty.
func (f *Finding) summary() string {
	if f.Summary != "" {
		return f.Summary
	}
	var parts []string
	for _, e := range []struct{ name, v string }{
		{"user", f.Key.Entities.User}, {"ip", f.Key.Entities.IP},
		{"app", f.Key.Entities.App}, {"object", f.Key.Entities.Object},
	} {
		if e.v != "" {
			parts = append(parts, e.name+" "+e.v)
		}
	}
	s := f.title()
	if len(parts) > 0 {
		s += ": " + strings.Join(parts, ", ")
	}
	activities := fmt.Sprintf("%d evidence activities", len(f.EvidenceIDs))
	if len(f.EvidenceIDs) == 1 {
		activities = "1 evidence activity"
	}
	span := f.FirstSeen.UTC().Format(wireTime)
	if !f.LastSeen.Equal(f.FirstSeen) {
		span += " to " + f.LastSeen.UTC().Format(wireTime)
	}
	return fmt.Sprintf("%s (%s, %s)", s, activities, span)
}

// shorten cuts s to at most n bytes (n ≥ 4) on a rune boundary, marking the cut with "…".
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }
