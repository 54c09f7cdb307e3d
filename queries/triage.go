package queries

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/mcasload/mcasload/delivery"
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/output"
)

// Triage: what a detection's header says a row of it is worth (docs/investigations.md and the
// lead's header contract, issue 16). A detection declares a base severity and how a row's
// severity may rise, the MITRE ATT&CK tactics and techniques it maps to, its real-world
// counterpart, the sources it reads and the time bucket of its finding key; every row it returns
// carries first_seen, last_seen and evidence_ids, and the runner adds severity, techniques and
// portal_url (run.go).

// Severities, lowest first: the levels a header may name (delivery.Severity's names, so a
// finding delivered later keeps the level the investigation gave it).
var Severities = []string{string(delivery.Informational), string(delivery.Low), string(delivery.Medium), string(delivery.High)}

// Sources an investigation may read: the activities API's table and, with issue 24, the
// Streaming API's CloudAppEvents.
var Sources = []string{"activities", "stream"}

// Columns every detection returns besides its own (the SQL computes them) and the columns the
// runner adds to every detection row.
const (
	ColFirstSeen   = "first_seen"
	ColLastSeen    = "last_seen"
	ColEvidenceIDs = "evidence_ids"
	ColSeverity    = "severity"
	ColTechniques  = "techniques"
	ColPortalURL   = "portal_url"
)

// Rise is one clause of "-- severity-rises:": a row whose When (a DuckDB boolean expression over
// the investigation's output columns) is true has at least Level.
type Rise struct {
	Level string `json:"level"`
	When  string `json:"when"`
}

var (
	tacticRE    = regexp.MustCompile(`^TA\d{4}$`)
	techniqueRE = regexp.MustCompile(`^T\d{4}(\.\d{3})?$`)
	riseRE      = regexp.MustCompile(`(?is)^\s*([a-z]+)\s+when\s+(.+?)\s*$`)
)

// severityRank orders the levels (informational 1 … high 4); 0 for anything else.
func severityRank(s string) int { return delivery.Severity(s).Rank() }

// parseTriageKey reads one of the triage keys of a header (headerKeys holds them).
func (inv *Investigation) parseTriageKey(key, value string) error {
	switch key {
	case "severity":
		if severityRank(value) == 0 {
			return fmt.Errorf("severity %q: accepted: %s", value, strings.Join(Severities, ", "))
		}
		inv.Severity = value
	case "severity-rises":
		for _, clause := range strings.Split(value, ";") {
			if strings.TrimSpace(clause) == "" {
				continue
			}
			m := riseRE.FindStringSubmatch(clause)
			if m == nil || severityRank(strings.ToLower(m[1])) == 0 {
				return fmt.Errorf("severity-rises %q: write LEVEL when EXPR (LEVEL one of %s), clauses separated by ';'", strings.TrimSpace(clause), strings.Join(Severities, ", "))
			}
			inv.Rises = append(inv.Rises, Rise{Level: strings.ToLower(m[1]), When: m[2]})
		}
	case "tactics":
		ids, err := attackIDs(key, value, tacticRE, "TA0006")
		inv.Tactics = append(inv.Tactics, ids...)
		return err
	case "techniques":
		ids, err := attackIDs(key, value, techniqueRE, "T1110 or T1110.003")
		inv.Techniques = append(inv.Techniques, ids...)
		return err
	case "counterpart":
		inv.Counterpart = strings.TrimSpace(inv.Counterpart + " " + value)
	case "sources":
		for _, s := range splitList(value) {
			if !slices.Contains(Sources, s) {
				return fmt.Errorf("sources: %q; accepted: %s", s, strings.Join(Sources, ", "))
			}
			if !slices.Contains(inv.Sources, s) {
				inv.Sources = append(inv.Sources, s)
			}
		}
	case "bucket":
		d, err := timearg.ParseDuration(value)
		if err != nil || d <= 0 {
			return fmt.Errorf("bucket %q: give a duration (1h, 1d, 7d)", value)
		}
		inv.Bucket = d
	}
	return nil
}

// attackIDs reads a comma-separated list of ATT&CK ids of the form re matches.
func attackIDs(key, value string, re *regexp.Regexp, example string) ([]string, error) {
	var out []string
	for _, id := range splitList(value) {
		if !re.MatchString(id) {
			return nil, fmt.Errorf("%s: %q is not an ATT&CK id (e.g. %s)", key, id, example)
		}
		if !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// checkTriage enforces the contract once the whole header is read: a detection declares its
// severity, tactics, techniques, counterpart, sources and bucket, and each rise is above its base;
// a pivot declares none of severity, rises, tactics, techniques or bucket. Every investigation
// names its sources.
func (inv *Investigation) checkTriage() error {
	if len(inv.Sources) == 0 {
		return fmt.Errorf("header has no sources (-- sources: %s)", strings.Join(Sources, ", "))
	}
	if inv.Kind == Pivot {
		if inv.Severity != "" || len(inv.Rises) > 0 || len(inv.Tactics) > 0 || len(inv.Techniques) > 0 || inv.Bucket > 0 {
			return fmt.Errorf("a pivot declares no severity, severity-rises, tactics, techniques or bucket: it reports what it is pointed at")
		}
		return nil
	}
	var missing []string
	for _, m := range []struct {
		key string
		ok  bool
	}{{"severity", inv.Severity != ""}, {"tactics", len(inv.Tactics) > 0}, {"techniques", len(inv.Techniques) > 0},
		{"counterpart", inv.Counterpart != ""}, {"bucket", inv.Bucket > 0}} {
		if !m.ok {
			missing = append(missing, m.key)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("a detection's header declares %s (see docs/investigations.md)", strings.Join(missing, ", "))
	}
	for _, r := range inv.Rises {
		if severityRank(r.Level) <= severityRank(inv.Severity) {
			return fmt.Errorf("severity-rises: %q rises to %s, which is not above the base severity %s", r.When, r.Level, inv.Severity)
		}
	}
	return nil
}

// severityExpr is the SQL of a row's severity: the highest level whose clause holds, else the
// base. A clause that is NULL (a column it reads is NULL) does not hold.
func (inv *Investigation) severityExpr() string {
	rises := slices.Clone(inv.Rises)
	slices.SortStableFunc(rises, func(a, b Rise) int { return severityRank(b.Level) - severityRank(a.Level) })
	if len(rises) == 0 {
		return "'" + inv.Severity + "'"
	}
	var b strings.Builder
	b.WriteString("CASE")
	for _, r := range rises {
		fmt.Fprintf(&b, " WHEN coalesce((%s), false) THEN '%s'", r.When, r.Level)
	}
	fmt.Fprintf(&b, " ELSE '%s' END", inv.Severity)
	return b.String()
}

// attackNames names the ATT&CK tactics and techniques the headers use (attack.mitre.org), for
// `query --list`, the report and docs/investigations.md. A header may name an id missing here; a
// test then asks for its name.
var attackNames = map[string]string{
	"TA0001": "Initial Access",
	"TA0002": "Execution",
	"TA0003": "Persistence",
	"TA0004": "Privilege Escalation",
	"TA0005": "Defense Evasion",
	"TA0006": "Credential Access",
	"TA0007": "Discovery",
	"TA0009": "Collection",
	"TA0010": "Exfiltration",
	"TA0011": "Command and Control",
	"TA0040": "Impact",
	"TA0042": "Resource Development",

	"T1036.007": "Masquerading: Double File Extension",
	"T1070":     "Indicator Removal",
	"T1070.008": "Indicator Removal: Clear Mailbox Data",
	"T1078.004": "Valid Accounts: Cloud Accounts",
	"T1090.003": "Proxy: Multi-hop Proxy",
	"T1098":     "Account Manipulation",
	"T1098.002": "Account Manipulation: Additional Email Delegate Permissions",
	"T1098.003": "Account Manipulation: Additional Cloud Roles",
	"T1098.005": "Account Manipulation: Device Registration",
	"T1105":     "Ingress Tool Transfer",
	"T1110.001": "Brute Force: Password Guessing",
	"T1110.003": "Brute Force: Password Spraying",
	"T1114.002": "Email Collection: Remote Email Collection",
	"T1114.003": "Email Collection: Email Forwarding Rule",
	"T1136.003": "Create Account: Cloud Account",
	"T1204.002": "User Execution: Malicious File",
	"T1213.002": "Data from Information Repositories: Sharepoint",
	"T1484.002": "Domain or Tenant Policy Modification: Trust Modification",
	"T1485":     "Data Destruction",
	"T1486":     "Data Encrypted for Impact",
	"T1496":     "Resource Hijacking",
	"T1528":     "Steal Application Access Token",
	"T1530":     "Data from Cloud Storage",
	"T1537":     "Transfer Data to Cloud Account",
	"T1550.001": "Use Alternate Authentication Material: Application Access Token",
	"T1555.006": "Credentials from Password Stores: Cloud Secrets Management Stores",
	"T1556.006": "Modify Authentication Process: Multi-Factor Authentication",
	"T1562.001": "Impair Defenses: Disable or Modify Tools",
	"T1562.008": "Impair Defenses: Disable or Modify Cloud Logs",
	"T1564.008": "Hide Artifacts: Email Hiding Rules",
	"T1567":     "Exfiltration Over Web Service",
	"T1578.002": "Modify Cloud Compute Infrastructure: Create Cloud Instance",
	"T1578.003": "Modify Cloud Compute Infrastructure: Delete Cloud Instance",
	"T1583.003": "Acquire Infrastructure: Virtual Private Server",
	"T1606.002": "Forge Web Credentials: SAML Tokens",
}

// AttackName is the name of an ATT&CK tactic or technique id, or "" when this table lacks it.
func AttackName(id string) string { return attackNames[id] }

// DefaultEvidence is how many evidence ids a detection row keeps unless a request asks for
// another number: the first ten activities by time, enough to open the finding in the portal
// and see how it began (first_seen and last_seen span all of them).
const DefaultEvidence = 10

// Portal links (mcas-api research §8): the classic portal's activity deep link, which the SIEM
// agent puts in every event, and the Microsoft Defender portal's, which it gives since the
// portals merged. {portal} is the scheme and host of the tenant's API URL (the classic portal
// lives at the same host); {id} is the activity id, URL-escaped.
const (
	ClassicPortal  = "{portal}/#/audits?activity.id=eq({id},)"
	DefenderPortal = "https://security.microsoft.com/cloudapps/activity-log?activity.id=eq({id},)"
)

// ErrNoPortalHost is returned (wrapped) by NewPortal for a template that needs the tenant's host
// when none is known (activities loaded from files).
var ErrNoPortalHost = errors.New("no portal host is known")

// NewPortal makes the link of one activity from template ({id}, and {portal} for the scheme and
// host of apiURL, the tenant's API URL).
func NewPortal(template, apiURL string) (output.Portal, error) {
	if !strings.Contains(template, "{id}") {
		return output.Portal{}, fmt.Errorf("portal link %q: put {id} where the activity id goes", template)
	}
	if strings.Contains(template, "{portal}") {
		u, err := url.Parse(apiURL)
		if apiURL == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return output.Portal{}, fmt.Errorf("portal link %q: %w", template, ErrNoPortalHost)
		}
		template = strings.ReplaceAll(template, "{portal}", u.Scheme+"://"+u.Host)
	}
	if u, err := url.Parse(strings.ReplaceAll(template, "{id}", "x")); err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return output.Portal{}, fmt.Errorf("portal link %q: give an http or https URL", template)
	}
	return output.Portal{Links: template}, nil
}

// UsePortal sets how the session's detection rows link to their evidence: p.Links, or no links
// for the reason p.Note gives.
func (s *Session) UsePortal(p output.Portal) { s.portal = p }

// UseTenantPortals sets each tenant's portal, for a run over several tenants (UseTenants): a
// tenant without one links as UsePortal says.
func (s *Session) UseTenantPortals(portals map[string]output.Portal) { s.portals = portals }

// UseEvidence sets how many evidence ids a detection row keeps when a request names no number
// (n <= 0: DefaultEvidence).
func (s *Session) UseEvidence(n int) { s.evidence = n }

// triage wraps a detection's SQL so that each row gets its severity (the header's base, raised by
// the first clause of severity-rises that holds, highest level first), the techniques, its
// evidence ids cut to the request's number and a portal link per id; the columns come in the
// order severity, the detection's own, first_seen, last_seen, techniques, evidence_ids,
// portal_url. The projection keeps the detection's row order. It notes the cap and the portal in
// meta and returns the query and its arguments.
func (s *Session) triage(inv *Investigation, req Request, meta *output.Meta, args []any) (string, []any) {
	n := req.Evidence
	if n <= 0 {
		n = s.evidence
	}
	if n <= 0 {
		n = DefaultEvidence
	}
	meta.EvidenceCap = n
	p := s.portal
	if tp, ok := s.portals[s.current]; ok && s.current != "" {
		p = tp
	}
	meta.Portal = &p
	body := strings.TrimSuffix(strings.TrimSpace(inv.SQL), ";")
	q := fmt.Sprintf(`SELECT %s AS %s, * EXCLUDE (%[3]s, %[4]s, %[5]s), %[3]s, %[4]s, %[6]s AS %[7]s,
  %[5]s[1:$mcasload_evidence] AS %[5]s,
  CASE WHEN $mcasload_portal = '' THEN []::VARCHAR[]
       ELSE list_transform(%[5]s[1:$mcasload_evidence], lambda x: replace($mcasload_portal, '{id}', url_encode(x))) END AS %[8]s
FROM (
%[9]s
) AS mcasload_detection`, inv.severityExpr(), ColSeverity, ColFirstSeen, ColLastSeen, ColEvidenceIDs,
		sqlList(inv.Techniques), ColTechniques, ColPortalURL, body)
	return q, append(args, sql.Named("mcasload_evidence", int64(n)), sql.Named("mcasload_portal", p.Links))
}

// countSeverities counts the rows per severity.
func (r *Result) countSeverities() map[string]int {
	out := map[string]int{}
	for _, rec := range r.records {
		idx := rec.Schema().FieldIndices(ColSeverity)
		if len(idx) == 0 {
			continue
		}
		col := rec.Column(idx[0])
		for i := range int(rec.NumRows()) {
			// The value points into the record's buffer, which is released with the result:
			// the key is a copy.
			if vals := appendStrings(nil, col, i); len(vals) == 1 {
				out[strings.Clone(vals[0])]++
			}
		}
	}
	return out
}
