package queries

import (
	"database/sql"
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcasload/mcasload/allowlist"
	"github.com/mcasload/mcasload/internal/timearg"
)

// Parameter types an investigation header may declare.
const (
	TypeTimestamp = "timestamp" // any form of timearg.Parse: a duration ago (7d, 2w, 1d12h), now, RFC 3339, a date, epoch s or ms
	TypeInt       = "int"
	TypeFloat     = "float"
	TypeString    = "string"
	TypeList      = "list" // comma-separated strings, bound as VARCHAR[]
	// TypeCIDRs is a comma-separated list of networks in CIDR notation (10.0.0.0/8,
	// 2001:db8::/32; a bare address is its own /32 or /128), checked with net/netip and bound as
	// VARCHAR[] of canonical prefixes for ip_in_ranges.
	TypeCIDRs  = "cidrs"
	typeChoice = "choice"
)

var paramTypes = []string{TypeTimestamp, TypeInt, TypeFloat, TypeString, TypeList, TypeCIDRs, "choice(a|b|…)"}

// ErrBadParam is returned (wrapped) for an unknown parameter name or a value of the wrong type.
var ErrBadParam = errors.New("bad parameter")

// MissingParamError is returned by Bind when a required parameter is not given; it wraps
// ErrBadParam. The caller says how to pass it (the CLI: --param NAME=…).
type MissingParamError struct {
	Investigation string
	Param         Param
}

func (e *MissingParamError) Error() string {
	return fmt.Sprintf("%v: %s needs parameter %s (%s: %s)", ErrBadParam, e.Investigation, e.Param.Name, e.Param.TypeName(), e.Param.Doc)
}

func (e *MissingParamError) Unwrap() error { return ErrBadParam }

var paramName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// Param is one declared parameter of an investigation.
type Param struct {
	Name    string
	Type    string   // timestamp, int, float, string, list or choice
	Choices []string // the accepted values of a choice
	Default string   // as written in the header; "" means empty
	Doc     string
	// Required parameters have no default (written "required" in the header) and must be given.
	Required bool
}

const requiredMark = "required"

// TypeName is the type as shown to users, e.g. "int" or "choice(hour|day)".
func (p Param) TypeName() string {
	if p.Type == typeChoice {
		return "choice(" + strings.Join(p.Choices, "|") + ")"
	}
	return p.Type
}

func parseParamLine(s string) (Param, error) {
	f := strings.Fields(s)
	if len(f) < 3 {
		return Param{}, fmt.Errorf("param line %q: want NAME TYPE DEFAULT DOC", s)
	}
	p := Param{Name: f[0], Type: f[1], Default: f[2], Doc: strings.Join(f[3:], " ")}
	if strings.HasPrefix(p.Default, `"`) {
		// A quoted default may hold spaces: -- param: keywords list "a,do not click" doc…
		rest := strings.TrimSpace(s[strings.Index(s, `"`)+1:])
		end := strings.Index(rest, `"`)
		if end < 0 {
			return Param{}, fmt.Errorf("param line %q: unterminated quoted default", s)
		}
		p.Default, p.Doc = rest[:end], strings.TrimSpace(rest[end+1:])
	}
	if p.Default == requiredMark {
		p.Required, p.Default = true, ""
	}
	if !paramName.MatchString(p.Name) {
		return Param{}, fmt.Errorf("param name %q: use lowercase letters, digits and _", p.Name)
	}
	if inner, ok := strings.CutPrefix(p.Type, "choice("); ok && strings.HasSuffix(inner, ")") {
		p.Type = typeChoice
		p.Choices = strings.Split(strings.TrimSuffix(inner, ")"), "|")
	} else if !slices.Contains([]string{TypeTimestamp, TypeInt, TypeFloat, TypeString, TypeList, TypeCIDRs}, p.Type) {
		return Param{}, fmt.Errorf("param %s: type %q; accepted: %s", p.Name, p.Type, strings.Join(paramTypes, ", "))
	}
	if p.Type != TypeTimestamp && !p.Required {
		// Timestamps default relative to now, so only they are checked at run time.
		if _, err := p.value(p.Default, time.Unix(0, 0)); err != nil {
			return Param{}, fmt.Errorf("param %s: default: %w", p.Name, err)
		}
	}
	return p, nil
}

// isRegex reports whether the parameter holds a regular expression: its name ends in regex or
// its doc says so.
func (p Param) isRegex() bool {
	return strings.HasSuffix(p.Name, "regex") || strings.Contains(strings.ToLower(p.Doc), "regular expression")
}

// value converts text to the Go value bound for this parameter.
func (p Param) value(text string, now time.Time) (any, error) {
	switch p.Type {
	case TypeTimestamp:
		return timearg.ParseAt(text, now)
	case TypeInt:
		n, err := strconv.ParseInt(strings.TrimSpace(text), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", text)
		}
		return n, nil
	case TypeFloat:
		x, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%q is not a number", text)
		}
		return x, nil
	case TypeString:
		if p.isRegex() {
			// Checked here so a bad pattern is a usage error, not a failure inside DuckDB; DuckDB
			// uses RE2, whose syntax Go's regexp/syntax parses.
			if _, err := syntax.Parse(text, syntax.Perl); err != nil {
				return nil, fmt.Errorf("%q is not a valid regular expression: %w", text, err)
			}
		}
		return text, nil
	case TypeList:
		list := []string{}
		for _, s := range strings.Split(text, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		return list, nil
	case TypeCIDRs:
		list := []string{}
		for _, s := range strings.Split(text, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			pfx, err := allowlist.ParsePrefix(s)
			if err != nil {
				return nil, err
			}
			list = append(list, pfx.String())
		}
		return list, nil
	case typeChoice:
		if !slices.Contains(p.Choices, text) {
			return nil, fmt.Errorf("%q is not one of %s", text, strings.Join(p.Choices, ", "))
		}
		return text, nil
	}
	return nil, fmt.Errorf("unknown type %q", p.Type)
}

// Bind checks values (parameter name → text) against the declared parameters, fills in
// defaults, and returns the named arguments to pass with the SQL. Values are always bound, never
// spliced into the SQL text. now anchors relative times such as "7d".
func (inv *Investigation) Bind(values map[string]string, now time.Time) ([]any, error) {
	args, _, err := inv.bind(values, now)
	return args, err
}

// Window is the window [since, until] a run with values asks about (the parameters since and
// until, their defaults anchored at now), so a caller can say what the warehouse holds there
// before the run; ok is false for an investigation without them.
func (inv *Investigation) Window(values map[string]string, now time.Time) (since, until time.Time, ok bool, err error) {
	_, bound, err := inv.bind(values, now)
	if err != nil {
		return time.Time{}, time.Time{}, false, err
	}
	since, ok1 := bound["since"].(time.Time)
	until, ok2 := bound["until"].(time.Time)
	return since, until, ok1 && ok2, nil
}

// bind is Bind that also returns the bound values by name.
func (inv *Investigation) bind(values map[string]string, now time.Time) ([]any, map[string]any, error) {
	for name := range values {
		if _, ok := inv.Param(name); !ok {
			return nil, nil, fmt.Errorf("%w: %s has no parameter %q; accepted: %s", ErrBadParam, inv.Name, name, inv.paramList())
		}
	}
	args := make([]any, 0, len(inv.Params))
	bound := map[string]any{}
	for _, p := range inv.Params {
		text, given := values[p.Name]
		if !given {
			if p.Required {
				return nil, nil, &MissingParamError{Investigation: inv.Name, Param: p}
			}
			text = p.Default
		}
		v, err := p.value(text, now)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %s: %w", ErrBadParam, p.Name, p.TypeName(), err)
		}
		bound[p.Name] = v
		if inv.uses(p.Name) {
			args = append(args, sql.Named(p.Name, v))
		}
	}
	since, until := bound["since"].(time.Time), bound["until"].(time.Time)
	if !since.Before(until) {
		return nil, nil, fmt.Errorf("%w: since (%s) must be before until (%s)", ErrBadParam,
			since.Format(time.RFC3339), until.Format(time.RFC3339))
	}
	return args, bound, nil
}

func (inv *Investigation) paramList() string {
	var s []string
	for _, p := range inv.Params {
		s = append(s, p.Name+" ("+p.TypeName()+")")
	}
	return strings.Join(s, ", ")
}
