// Package config reads mcasload's configuration file into a tree of tables whose keys are flag
// names: TOML with a table per command and per-tenant profiles,
//
//	warehouse = "/data/mcasload"          # every command that has --warehouse
//	[scan]
//	parallel = 2                          # mcasload scan only
//	[profile.contoso]                     # --profile contoso
//	url = "https://contoso.eu2.portal.cloudappsecurity.com"
//	[profile.contoso.scan]
//	max-duration = "3h"
//
// and the two forms earlier releases read, so their files keep working: `flag-name = value`
// lines (a key repeated for a list) and a JSON object. Every value remembers its line, so the
// command that applies it can say where a bad one came from. Which keys and tables are allowed
// is the command tree's business (package main); this package only reads.
package config

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// Format is the form a file was written in.
type Format string

// The forms Parse reads.
const (
	TOML  Format = "toml"
	Lines Format = "flag-name = value lines"
	JSON  Format = "json"
)

// Value is one key's value as flag text: one entry, or one per element of a list.
type Value struct {
	Values []string
	Line   int    // 1-based line of the key in the file; 0 when not known
	Key    string // the key with its table, as a user would look for it: "scan.parallel"
}

// Table holds the keys (flag values) and sub-tables of one TOML table, in file order.
type Table struct {
	Name   string // dotted path, "" for the top level
	Line   int    // line of its header; 0 for the top level or an implicit table
	Keys   map[string]Value
	Tables map[string]*Table
	order  []string // key and table names in file order
}

// KeyNames returns the value keys in file order.
func (t *Table) KeyNames() []string {
	var out []string
	for _, k := range t.order {
		if _, ok := t.Keys[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// TableNames returns the sub-table names in file order.
func (t *Table) TableNames() []string {
	var out []string
	for _, k := range t.order {
		if _, ok := t.Tables[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// Table returns the sub-table at path (nil when absent).
func (t *Table) Table(path ...string) *Table {
	for _, p := range path {
		if t == nil {
			return nil
		}
		t = t.Tables[p]
	}
	return t
}

func newTable(name string, line int) *Table {
	return &Table{Name: name, Line: line, Keys: map[string]Value{}, Tables: map[string]*Table{}}
}

func (t *Table) setKey(k string, v Value) {
	if _, ok := t.Keys[k]; !ok {
		t.order = append(t.order, k)
	}
	t.Keys[k] = v
}

func (t *Table) sub(k string, line int) *Table {
	if s, ok := t.Tables[k]; ok {
		if s.Line == 0 {
			s.Line = line
		}
		return s
	}
	s := newTable(strings.TrimPrefix(t.Name+"."+k, "."), line)
	t.Tables[k] = s
	t.order = append(t.order, k)
	return s
}

// File is a parsed configuration file.
type File struct {
	Path   string
	Format Format
	Root   *Table
}

// Read reads and parses the file at path.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	return Parse(path, data)
}

// Parse reads data, detecting its form: a JSON object, else TOML, else (when TOML refuses it and
// it has no [table] header) the older `flag-name = value` lines. A file in none of them gets the
// TOML error, which names the line.
func Parse(path string, data []byte) (*File, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		root, err := parseJSON(data)
		if err != nil {
			return nil, fmt.Errorf("parse config %s: %w", path, err)
		}
		return &File{Path: path, Format: JSON, Root: root}, nil
	}
	root, tomlErr := parseTOML(data)
	if tomlErr == nil {
		return &File{Path: path, Format: TOML, Root: root}, nil
	}
	var ve *valueError
	if !hasHeader(data) && !errors.As(tomlErr, &ve) {
		if root, err := parseLines(data); err == nil {
			return &File{Path: path, Format: Lines, Root: root}, nil
		}
	}
	return nil, fmt.Errorf("parse config %s: %w", path, tomlErr)
}

// hasHeader reports whether data has a line that opens a TOML table, which the older form never
// had.
func hasHeader(data []byte) bool {
	for line := range strings.SplitSeq(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "[") {
			return true
		}
	}
	return false
}

func parseTOML(data []byte) (*Table, error) {
	var m map[string]any
	md, err := toml.Decode(string(data), &m)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("line %d: %s", pe.Position.Line, pe.Message)
		}
		return nil, err
	}
	lines := newLineFinder(data)
	root := newTable("", 0)
	for _, key := range md.Keys() {
		line := lines.find(key)
		t := root
		for _, part := range key[:len(key)-1] {
			t = t.sub(part, line) // an implicit table ([profile] of [profile.x]) gets its first line
		}
		name := key[len(key)-1]
		v := lookup(m, key)
		if _, ok := v.(map[string]any); ok {
			t.sub(name, line)
			continue
		}
		vals, err := flagText(v)
		if err != nil {
			return nil, &valueError{fmt.Errorf("line %d: %s: %w", line, key, err)}
		}
		t.setKey(name, Value{Values: vals, Line: line, Key: key.String()})
	}
	return root, nil
}

// valueError is valid TOML holding a value no flag takes; the file is TOML all the same.
type valueError struct{ error }

func (e *valueError) Unwrap() error { return e.error }

func lookup(m map[string]any, key toml.Key) any {
	var v any = m
	for _, k := range key {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[k]
	}
	return v
}

// flagText turns a TOML value into the text a flag would be given.
func flagText(v any) ([]string, error) {
	switch v := v.(type) {
	case string:
		return []string{v}, nil
	case int64:
		return []string{strconv.FormatInt(v, 10)}, nil
	case float64:
		return []string{strconv.FormatFloat(v, 'f', -1, 64)}, nil
	case bool:
		return []string{strconv.FormatBool(v)}, nil
	case time.Time:
		switch v.Location().String() {
		case "date-local": // toml.LocalDate
			return []string{v.Format("2006-01-02")}, nil
		case "datetime-local":
			return []string{v.Format("2006-01-02T15:04:05.999999999")}, nil
		case "time-local":
			return []string{v.Format("15:04:05.999999999")}, nil
		}
		return []string{v.Format(time.RFC3339Nano)}, nil
	case []any:
		var out []string
		for _, x := range v {
			s, err := flagText(x)
			_, isList := x.([]any)
			if err != nil || isList {
				return nil, errors.New("a list may hold only strings, numbers and booleans")
			}
			out = append(out, s[0])
		}
		return out, nil
	case []map[string]any:
		return nil, errors.New("an array of tables is not a flag value")
	}
	return nil, fmt.Errorf("unsupported value %v", v)
}

// lineFinder finds the line of each key. Keys arrive in file order (toml.MetaData.Keys), so a
// forward search from the previous key's line finds the line that defines it: a [header], or a
// line starting with the key (bare or quoted) before "=" or a dot. A key it cannot find (one
// inside an inline table) gets the line of the key before it.
type lineFinder struct {
	lines []string
	at    int
}

func newLineFinder(data []byte) *lineFinder {
	return &lineFinder{lines: strings.Split(string(data), "\n")}
}

func (f *lineFinder) find(key toml.Key) int {
	for i := f.at; i < len(f.lines); i++ {
		if defines(strings.TrimSpace(f.lines[i]), key) {
			f.at = i
			return i + 1
		}
	}
	return f.at + 1
}

func defines(line string, key toml.Key) bool {
	if strings.HasPrefix(line, "[") {
		h := strings.Trim(line, "[] \t")
		if i := strings.Index(h, "]"); i >= 0 {
			h = h[:i]
		}
		return normKey(h) == strings.Join(key, ".")
	}
	last := key[len(key)-1]
	for _, form := range []string{last, strconv.Quote(last), "'" + last + "'"} {
		if rest, ok := strings.CutPrefix(line, form); ok {
			rest = strings.TrimSpace(rest)
			if strings.HasPrefix(rest, "=") || strings.HasPrefix(rest, ".") {
				return true
			}
		}
	}
	// A dotted key: scan.parallel = 2 at the top level.
	if len(key) > 1 {
		if k, _, ok := strings.Cut(line, "="); ok && normKey(k) == strings.Join(key, ".") {
			return true
		}
	}
	return false
}

// normKey strips quotes and spaces from a dotted key as written.
func normKey(s string) string {
	parts := strings.Split(s, ".")
	for i, p := range parts {
		parts[i] = strings.Trim(strings.TrimSpace(p), `"'`)
	}
	return strings.Join(parts, ".")
}

// parseLines reads the older form: `flag-name = value` lines, # comments, a key repeated for a
// list, values optionally in double quotes.
func parseLines(data []byte) (*Table, error) {
	root := newTable("", 0)
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("line %d: want `flag-name = value`", line)
		}
		k = strings.TrimPrefix(strings.TrimSpace(k), "--")
		v = strings.Trim(strings.TrimSpace(v), `"`)
		if k == "" || !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("line %d: want `flag-name = value` in UTF-8", line)
		}
		prev, seen := root.Keys[k]
		if !seen {
			prev = Value{Line: line, Key: k}
		}
		prev.Values = append(prev.Values, v)
		root.setKey(k, prev)
	}
	return root, sc.Err()
}

// parseJSON reads the older JSON form: {"flag-name": value, …}, arrays for lists.
func parseJSON(data []byte) (*Table, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	root := newTable("", 0)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	// File order: by where each key first appears.
	pos := func(k string) int {
		if i := bytes.Index(data, []byte(strconv.Quote(k))); i >= 0 {
			return i
		}
		return len(data)
	}
	slices.SortFunc(keys, func(a, b string) int { return pos(a) - pos(b) })
	for _, k := range keys {
		var vals []string
		switch v := m[k].(type) {
		case []any:
			for _, x := range v {
				vals = append(vals, fmt.Sprint(x))
			}
		case map[string]any:
			return nil, fmt.Errorf("key %q: an object is not a flag value (write the file in TOML for tables)", k)
		case nil:
			continue
		default:
			vals = []string{fmt.Sprint(v)}
		}
		line := 0
		if i := pos(k); i < len(data) {
			line = bytes.Count(data[:i], []byte("\n")) + 1
		}
		root.setKey(k, Value{Values: vals, Line: line, Key: k})
	}
	return root, nil
}
