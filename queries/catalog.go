package queries

import (
	"bufio"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mcasload/mcasload/internal/timearg"
)

// The investigations are the .sql files under sql/; adding one means adding one file.
//
//go:embed sql/*.sql
var sqlFiles embed.FS

// eventsSQL is the one place that says what an event looks like to an investigation and which
// raw operations count as a download, a share, a delete, a mail rule, a sign-in or a failed
// sign-in. Every investigation reads the view it defines (events) instead of a source's table.
// It creates the views all_events and events (the normalized events, with action_class:
// login_fail, login, mail_rule, user_delete, user_restore, download, upload, delete, share or
// other), impersonations (mailbox access by someone other than the owner, with
// mailbox_owner), tenant_domains and own_domains, the is_* macros naming each operation set,
// and action_class_of, the classification as a macro for investigations that classify only the
// rows left after a join.
//
//go:embed events.sql
var eventsSQL string

// ErrUnknownInvestigation is returned (wrapped) by Lookup for a name no .sql file declares.
var ErrUnknownInvestigation = errors.New("unknown investigation")

// Chart kinds an investigation header may name; the report issue draws them.
var chartKinds = []string{"timeline", "map", "bar", "table"}

// Kinds of investigation.
const (
	// Detection reports what looks like an attack; an empty answer means nothing was found, and
	// the allow-list suppresses the rows it names.
	Detection = "detection"
	// Pivot answers a lookup about an entity the analyst names (a user, an IP): it reports
	// everything found, benign included, and no row is ever suppressed.
	Pivot = "pivot"
)

// Entity kinds a header may name for its columns: what the allow-list matches them against.
var entityKinds = []string{"user", "ip", "domain", "app", "rule", "object"}

// Investigation is one canned investigation: its header and its SQL text.
type Investigation struct {
	Name        string
	Question    string
	Description string
	// Kind is Detection or Pivot.
	Kind string
	// Charts lists the chart kinds that suit the result, best first (timeline, map, bar, table).
	Charts []string
	Params []Param
	// History is how much data before since the investigation reads for its baseline or context:
	// a fixed duration (HistoryParam empty) or, with HistoryParam set, that int parameter's value
	// in days. Zero: the window alone.
	History      time.Duration
	HistoryParam string
	// Entities maps an entity kind (user, ip, domain, app, rule, object) to the result columns
	// that hold it, single values or lists.
	Entities map[string][]string
	// Triage (detections only; see triage.go): the base Severity of a row and the Rises that lift
	// it, the ATT&CK Tactics and Techniques, and the Bucket of the finding key (issue 20).
	Severity   string
	Rises      []Rise
	Tactics    []string
	Techniques []string
	Bucket     time.Duration
	// Counterpart names the closest real-world detections (Sentinel, Sigma, Panther, Defender for
	// Cloud Apps policies); Sources the tables it reads (activities, stream).
	Counterpart string
	Sources     []string
	// SQL is the query text without the header; parameters appear as $name.
	SQL string
}

// uses reports whether the SQL or a clause of severity-rises names parameter $name.
func (inv *Investigation) uses(name string) bool {
	re := regexp.MustCompile(`\$` + regexp.QuoteMeta(name) + `\b`)
	if re.MatchString(inv.SQL) {
		return true
	}
	return slices.ContainsFunc(inv.Rises, func(r Rise) bool { return re.MatchString(r.When) })
}

// HistoryFor is the history this run reads before since: the declared duration, or the value
// bound to the history parameter, in days.
func (inv *Investigation) HistoryFor(bound map[string]any) time.Duration {
	if inv.HistoryParam == "" {
		return inv.History
	}
	if n, ok := bound[inv.HistoryParam].(int64); ok && n > 0 {
		return time.Duration(n) * 24 * time.Hour
	}
	return 0
}

// Param looks up a declared parameter by name.
func (inv *Investigation) Param(name string) (Param, bool) {
	for _, p := range inv.Params {
		if p.Name == name {
			return p, true
		}
	}
	return Param{}, false
}

var catalog struct {
	once sync.Once
	all  []*Investigation
	err  error
}

// All returns every embedded investigation sorted by name. It panics if an embedded file has a
// broken header, which the package tests rule out.
func All() []*Investigation {
	catalog.once.Do(func() { catalog.all, catalog.err = loadFS(sqlFiles, "sql") })
	if catalog.err != nil {
		panic(catalog.err)
	}
	return catalog.all
}

// Names returns the names of all investigations, sorted.
func Names() []string {
	var names []string
	for _, inv := range All() {
		names = append(names, inv.Name)
	}
	return names
}

// Lookup returns the investigation called name, or an error listing the accepted names.
func Lookup(name string) (*Investigation, error) {
	for _, inv := range All() {
		if inv.Name == name {
			return inv, nil
		}
	}
	return nil, fmt.Errorf("%w %q; accepted: %s", ErrUnknownInvestigation, name, strings.Join(Names(), ", "))
}

func loadFS(fsys fs.FS, dir string) ([]*Investigation, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("read investigations: %w", err)
	}
	var all []*Investigation
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		text, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read investigation %s: %w", e.Name(), err)
		}
		inv, err := Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("parse investigation %s: %w", e.Name(), err)
		}
		if inv.Name+".sql" != e.Name() {
			return nil, fmt.Errorf("parse investigation %s: header names it %q; the file must be called %s.sql", e.Name(), inv.Name, inv.Name)
		}
		all = append(all, inv)
	}
	slices.SortFunc(all, func(a, b *Investigation) int { return strings.Compare(a.Name, b.Name) })
	return all, nil
}

// headerKeys are the "-- key:" lines a header may hold.
var headerKeys = []string{"name", "question", "description", "kind", "chart", "history", "entities", "param",
	"severity", "severity-rises", "tactics", "techniques", "counterpart", "sources", "bucket"}

// Parse reads an investigation file: a header of "-- key: value" lines, then the SQL.
//
//	-- name: mass-download
//	-- question: who downloaded more than 50 files in a minute?
//	-- description: … (may repeat; lines are joined)
//	-- kind: detection
//	-- chart: timeline
//	-- history: 30d                      (or the name of an int param holding days)
//	-- entities: user=user_name ip=ips app=app_name
//	-- param: since timestamp 7d start of the window
//	-- param: per_min int 50 downloads in one minute above which a burst is reported
//	-- severity: medium                   (a detection's; see triage.go for the rest)
//	-- severity-rises: high when downloads >= 1000
//	-- tactics: TA0009
//	-- techniques: T1530
//	-- counterpart: Defender for Cloud Apps "Unusual file download (by user)" (may repeat)
//	-- sources: activities
//	-- bucket: 1d
//
// A param line is "NAME TYPE DEFAULT DOC…"; TYPE is one of timestamp, int, float, string, list,
// cidrs or choice(a|b|c); DEFAULT "" means empty, and a list default is comma-separated.
// Every investigation declares since and until, its kind and its sources; a detection names its
// entity columns (what the allow-list suppresses rows by) and its triage (checkTriage).
func Parse(text string) (*Investigation, error) {
	inv := &Investigation{Entities: map[string][]string{}}
	var history string
	var body strings.Builder
	inHeader := true
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if inHeader {
			rest, isComment := strings.CutPrefix(strings.TrimSpace(line), "--")
			key, value, hasKey := strings.Cut(rest, ":")
			key = strings.TrimSpace(key)
			if isComment && hasKey && slices.Contains(headerKeys, key) {
				value = strings.TrimSpace(value)
				switch key {
				case "name":
					inv.Name = value
				case "question":
					inv.Question = value
				case "description":
					inv.Description = strings.TrimSpace(inv.Description + " " + value)
				case "kind":
					if value != Detection && value != Pivot {
						return nil, fmt.Errorf("kind %q: accepted: %s, %s", value, Detection, Pivot)
					}
					inv.Kind = value
				case "history":
					history = value
				case "entities":
					if err := inv.parseEntities(value); err != nil {
						return nil, err
					}
				case "chart":
					for _, c := range strings.Split(value, ",") {
						c = strings.TrimSpace(c)
						if !slices.Contains(chartKinds, c) {
							return nil, fmt.Errorf("chart %q: accepted: %s", c, strings.Join(chartKinds, ", "))
						}
						inv.Charts = append(inv.Charts, c)
					}
				case "param":
					p, err := parseParamLine(value)
					if err != nil {
						return nil, err
					}
					if _, dup := inv.Param(p.Name); dup {
						return nil, fmt.Errorf("param %q declared twice", p.Name)
					}
					inv.Params = append(inv.Params, p)
				default:
					if err := inv.parseTriageKey(key, value); err != nil {
						return nil, err
					}
				}
				continue
			}
			if isComment || strings.TrimSpace(line) == "" {
				continue
			}
			inHeader = false
		}
		body.WriteString(line)
		body.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	inv.SQL = strings.TrimSpace(body.String())
	switch {
	case inv.Name == "":
		return nil, errors.New("header has no name")
	case inv.Question == "":
		return nil, errors.New("header has no question")
	case inv.Kind == "":
		return nil, fmt.Errorf("header has no kind (%s or %s)", Detection, Pivot)
	case len(inv.Charts) == 0:
		return nil, errors.New("header has no chart")
	case inv.Kind == Detection && len(inv.Entities) == 0:
		return nil, errors.New("a detection's header names its entity columns (-- entities: user=user_name ip=ip …)")
	case inv.SQL == "":
		return nil, errors.New("no SQL after the header")
	}
	for _, need := range []string{"since", "until"} {
		if p, ok := inv.Param(need); !ok || p.Type != TypeTimestamp {
			return nil, fmt.Errorf("header must declare %q as a timestamp param", need)
		}
	}
	if err := inv.parseHistory(history); err != nil {
		return nil, err
	}
	if err := inv.checkTriage(); err != nil {
		return nil, err
	}
	for _, p := range inv.Params {
		// since, until and the history parameter always bound the events read, so the SQL may
		// leave them out.
		if !inv.uses(p.Name) && p.Name != "since" && p.Name != "until" && p.Name != inv.HistoryParam {
			return nil, fmt.Errorf("param %q is declared but the SQL never uses $%s", p.Name, p.Name)
		}
	}
	return inv, nil
}

// parseHistory reads "-- history:": a duration (30d, 36h, 1d12h: the one duration grammar of
// timearg) or the name of an int param holding days.
func (inv *Investigation) parseHistory(s string) error {
	if s == "" {
		return nil
	}
	if p, ok := inv.Param(s); ok {
		if p.Type != TypeInt {
			return fmt.Errorf("history %q: the parameter must be an int (days)", s)
		}
		inv.HistoryParam = s
		return nil
	}
	d, err := timearg.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("history %q: give a duration (30d, 36h, 90m) or an int parameter's name", s)
	}
	inv.History = d
	return nil
}

// parseEntities reads "-- entities: user=user_name,actor ip=ips".
func (inv *Investigation) parseEntities(s string) error {
	for _, f := range strings.Fields(s) {
		kind, cols, ok := strings.Cut(f, "=")
		if !ok || cols == "" {
			return fmt.Errorf("entities %q: write KIND=COLUMN[,COLUMN]", f)
		}
		if !slices.Contains(entityKinds, kind) {
			return fmt.Errorf("entities: kind %q; accepted: %s", kind, strings.Join(entityKinds, ", "))
		}
		for _, c := range strings.Split(cols, ",") {
			if !slices.Contains(inv.Entities[kind], c) {
				inv.Entities[kind] = append(inv.Entities[kind], c)
			}
		}
	}
	return nil
}
