package config

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func parse(t *testing.T, name string) *File {
	t.Helper()
	path := filepath.Join("testdata", name)
	f, err := Read(path)
	if err != nil {
		t.Fatalf("Read(%s): %v", path, err)
	}
	return f
}

func TestTOMLTablesProfilesAndLines(t *testing.T) {
	f := parse(t, "full.toml")
	if f.Format != TOML {
		t.Fatalf("format %q, want toml", f.Format)
	}
	tests := []struct {
		path []string
		key  string
		want []string
		line int
	}{
		{nil, "warehouse", []string{"/data/mcasload"}, 3},
		{nil, "log-format", []string{"json"}, 4},
		{[]string{"scan"}, "parallel", []string{"2"}, 7},
		{[]string{"scan"}, "max-duration", []string{"3h"}, 8},
		{[]string{"scan"}, "service", []string{"11161", "20893"}, 9},
		{[]string{"scan"}, "progress", []string{"false"}, 10},
		{[]string{"query"}, "since", []string{"2026-03-01"}, 13},
		{[]string{"query", "user-timeline"}, "format", []string{"csv"}, 16},
		{[]string{"profile", "contoso"}, "url", []string{"https://contoso.eu2.portal.cloudappsecurity.com"}, 19},
		{[]string{"profile", "contoso"}, "token-file", []string{"/etc/mcasload/contoso.token"}, 20},
		{[]string{"profile", "contoso", "scan"}, "rate-limit", []string{"20"}, 23},
		{[]string{"profile", "fabrikam"}, "warehouse", []string{"/data/fabrikam"}, 26},
		{[]string{"audit"}, "exact-since", []string{"2d"}, 28},
	}
	for _, tt := range tests {
		tab := f.Root.Table(tt.path...)
		if tab == nil {
			t.Fatalf("no table %v", tt.path)
		}
		v, ok := tab.Keys[tt.key]
		if !ok {
			t.Errorf("[%s] has no %s", strings.Join(tt.path, "."), tt.key)
			continue
		}
		if !slices.Equal(v.Values, tt.want) || v.Line != tt.line {
			t.Errorf("[%s] %s = %q line %d, want %q line %d", strings.Join(tt.path, "."), tt.key, v.Values, v.Line, tt.want, tt.line)
		}
	}
	if got := f.Root.TableNames(); !slices.Equal(got, []string{"scan", "query", "profile", "audit"}) {
		t.Errorf("tables %q, want file order", got)
	}
	if l := f.Root.Table("profile", "contoso").Line; l != 18 {
		t.Errorf("[profile.contoso] line %d, want 18", l)
	}
}

func TestOlderFormsStillRead(t *testing.T) {
	lines := parse(t, "old.conf")
	js := parse(t, "old.json")
	if lines.Format != Lines || js.Format != JSON {
		t.Fatalf("formats %q and %q", lines.Format, js.Format)
	}
	for _, tt := range []struct {
		f    *File
		key  string
		want []string
		line int
	}{
		{lines, "page-size", []string{"2000"}, 2},
		{lines, "url", []string{"https://contoso.eu2.portal.cloudappsecurity.com"}, 3},
		{lines, "service", []string{"11161", "20893"}, 4},
		{lines, "since", []string{"7d"}, 6},
		{js, "page-size", []string{"1000"}, 2},
		{js, "service", []string{"12260", "11161"}, 3},
		{js, "full", []string{"true"}, 4},
	} {
		v := tt.f.Root.Keys[tt.key]
		if !slices.Equal(v.Values, tt.want) || v.Line != tt.line {
			t.Errorf("%s %s = %q line %d, want %q line %d", tt.f.Format, tt.key, v.Values, v.Line, tt.want, tt.line)
		}
	}
}

func TestParseErrorsNameTheLine(t *testing.T) {
	for _, tt := range []struct{ name, data, want string }{
		{"unquoted string in toml", "[scan]\nparallel = 2\nsince = 7d\n", "line 3"},
		{"bad older line", "page-size 2000\n", "line 1"},
		{"table of tables", "[[scan]]\nparallel = 2\n", "array of tables"},
		{"nested list", "service = [[1], [2]]\n", "only strings, numbers and booleans"},
		{"json object value", `{"scan": {"parallel": 2}}`, "object is not a flag value"},
		{"broken json", `{"page-size": `, "parse config"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("x.toml", []byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse: %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// TestWriteTOMLRoundTrips converts each form to TOML and reads it back to the same values.
func TestWriteTOMLRoundTrips(t *testing.T) {
	for _, name := range []string{"old.conf", "old.json", "full.toml"} {
		t.Run(name, func(t *testing.T) {
			f := parse(t, name)
			var out bytes.Buffer
			if err := WriteTOML(&out, f.Root); err != nil {
				t.Fatal(err)
			}
			back, err := Parse("converted.toml", out.Bytes())
			if err != nil {
				t.Fatalf("converted file does not parse: %v\n%s", err, out.String())
			}
			if back.Format != TOML {
				t.Fatalf("converted file read as %s", back.Format)
			}
			if !sameValues(f.Root, back.Root) {
				t.Errorf("values changed in conversion:\n%s", out.String())
			}
			if name == "old.conf" {
				want, err := os.ReadFile(filepath.Join("testdata", "old.conf.toml"))
				if err != nil {
					t.Fatal(err)
				}
				if out.String() != string(want) {
					t.Errorf("converted:\n%s\nwant:\n%s", out.String(), want)
				}
			}
		})
	}
}

func sameValues(a, b *Table) bool {
	if len(a.Keys) != len(b.Keys) || len(a.Tables) != len(b.Tables) {
		return false
	}
	for k, v := range a.Keys {
		if !slices.Equal(v.Values, b.Keys[k].Values) {
			return false
		}
	}
	for k, t := range a.Tables {
		if b.Tables[k] == nil || !sameValues(t, b.Tables[k]) {
			return false
		}
	}
	return true
}

func TestSuggest(t *testing.T) {
	flags := []string{"parallel", "page-size", "rate-limit", "since", "until", "warehouse", "max-duration"}
	for name, want := range map[string]string{
		"paralel": "parallel", "ware-house": "warehouse", "pagesize": "page-size", "sinse": "since",
		"maxduration": "max-duration", "colour": "", "x": "",
	} {
		if got := Suggest(name, flags); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", name, got, want)
		}
	}
}

// FuzzParse: no input makes Parse panic, and whatever it accepts converts to TOML that reads
// back with the same values.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"full.toml", "old.conf", "old.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("a.b.c = 1\n[x]\ny = [1, 2]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz", data)
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := WriteTOML(&out, file.Root); err != nil {
			t.Fatal(err)
		}
		back, err := Parse("fuzz.toml", out.Bytes())
		if err != nil {
			t.Fatalf("conversion of %q does not parse: %v\n%s", data, err, out.String())
		}
		if !sameValues(file.Root, back.Root) {
			t.Fatalf("conversion of %q changed values:\n%s", data, out.String())
		}
	})
}
