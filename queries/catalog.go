package queries

import (
	"bufio"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
)

// The investigations are the .sql files under sql/; adding one means adding one file.
//
//go:embed sql/*.sql
var sqlFiles embed.FS

// classificationSQL is the one place that says which raw operations count as a download, a
// share, a delete, a mail rule, a sign-in or a failed sign-in. Every investigation reads the view
// it defines (classified) instead of the activities table.
//
//go:embed classification.sql
var classificationSQL string

// ClassificationSQL returns the statements that create, over "activities", the temporary view
// "classified" (adding op_class: login, login_fail, mail_rule, user_delete, download, upload,
// delete, share or other), the view "impersonations" (mailbox access by someone other than the
// owner, with mailbox_owner), the is_* macros naming each operation set, and op_class_of, the
// classification as a macro for investigations that classify only the rows left after a join.
func ClassificationSQL() string { return classificationSQL }

// ErrUnknownInvestigation is returned (wrapped) by Lookup for a name no .sql file declares.
var ErrUnknownInvestigation = errors.New("unknown investigation")

// Chart kinds an investigation header may name; the report issue draws them.
var chartKinds = []string{"timeline", "map", "bar", "table"}

// Investigation is one canned investigation: its header and its SQL text.
type Investigation struct {
	Name        string
	Question    string
	Description string
	// Charts lists the chart kinds that suit the result, best first (timeline, map, bar, table).
	Charts []string
	Params []Param
	// SQL is the query text without the header; parameters appear as $name.
	SQL string
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

// Parse reads an investigation file: a header of "-- key: value" lines, then the SQL.
//
//	-- name: mass-download
//	-- question: who downloaded more than 50 files in a minute?
//	-- description: … (may repeat; lines are joined)
//	-- chart: timeline
//	-- param: since timestamp 7d start of the window
//	-- param: per_min int 50 downloads in one minute above which a burst is reported
//
// A param line is "NAME TYPE DEFAULT DOC…"; TYPE is one of timestamp, int, float, string, list
// or choice(a|b|c); DEFAULT "" means empty, and a list default is comma-separated.
// Every investigation declares since and until.
func Parse(text string) (*Investigation, error) {
	inv := &Investigation{}
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
			if isComment && hasKey && slices.Contains([]string{"name", "question", "description", "chart", "param"}, key) {
				value = strings.TrimSpace(value)
				switch key {
				case "name":
					inv.Name = value
				case "question":
					inv.Question = value
				case "description":
					inv.Description = strings.TrimSpace(inv.Description + " " + value)
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
	case len(inv.Charts) == 0:
		return nil, errors.New("header has no chart")
	case inv.SQL == "":
		return nil, errors.New("no SQL after the header")
	}
	for _, need := range []string{"since", "until"} {
		if p, ok := inv.Param(need); !ok || p.Type != TypeTimestamp {
			return nil, fmt.Errorf("header must declare %q as a timestamp param", need)
		}
	}
	for _, p := range inv.Params {
		if !strings.Contains(inv.SQL, "$"+p.Name) {
			return nil, fmt.Errorf("param %q is declared but the SQL never uses $%s", p.Name, p.Name)
		}
	}
	return inv, nil
}
