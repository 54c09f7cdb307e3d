package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The -update flag rewrites golden files. It is registered in init, after every package-level
// variable, so a flag of the same name defined elsewhere in this package wins instead of panicking.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/")
	}
}

func updatingGoldens() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func TestSchemaCommand(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{"table", []string{"schema"}, "schema-table.golden"},
		{"markdown", []string{"schema", "--format", "markdown"}, "schema-markdown.golden"},
		{"json", []string{"schema", "--format=json"}, "schema-json.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runMcasload(t, nil, tt.args...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			path := filepath.Join("testdata", tt.golden)
			if updatingGoldens() {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(stdout), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./cmd/mcasload -run TestSchemaCommand -update)", err)
			}
			if !bytes.Equal([]byte(stdout), want) {
				t.Errorf("mcasload %s differs from %s:\n%s", strings.Join(tt.args, " "), path, stdout)
			}
		})
	}
}

func TestSchemaCommandTable(t *testing.T) {
	_, stdout, _ := runMcasload(t, nil, "schema")
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 27 {
		t.Fatalf("%d lines, want a header and 26 columns", len(lines))
	}
	// Aligned: every row's SOURCE column starts where the header's does.
	at := strings.Index(lines[0], "SOURCE")
	for _, l := range lines[1:] {
		if len(l) <= at || l[at-1] != ' ' || l[at] == ' ' {
			t.Errorf("row not aligned under SOURCE: %q", l)
		}
	}
	for _, want := range []string{"user_name", "failedUserData.userName", "TIMESTAMPTZ", "VARCHAR[]"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

func TestSchemaCommandUsage(t *testing.T) {
	for _, args := range [][]string{{"schema", "--format", "yaml"}, {"schema", "extra"}} {
		code, _, stderr := runMcasload(t, nil, args...)
		if code != exitUsage || !strings.Contains(stderr, "mcasload: ") {
			t.Errorf("%v: exit %d, stderr %q; want usage error", args, code, stderr)
		}
	}
}
