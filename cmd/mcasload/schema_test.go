package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/testkit"
)

func TestSchemaCommand(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		golden string
	}{
		{"table", []string{"schema"}, "schema-table.golden"},
		{"markdown", []string{"schema", "--format", "markdown"}, "schema-markdown.golden"},
		{"json", []string{"schema", "--format=json"}, "schema-json.golden"},
		{"cloud_app_events", []string{"schema", "--table", "cloud_app_events", "--format", "markdown"}, "schema-cloud-app-events.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runMcasload(t, nil, tt.args...)
			if code != exitOK || stderr != "" {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			testkit.Golden(t, filepath.Join("testdata", tt.golden), []byte(stdout))
		})
	}
}

func TestSchemaCommandTable(t *testing.T) {
	_, stdout, _ := runMcasload(t, nil, "schema")
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 32 {
		t.Fatalf("%d lines, want a header and 31 columns", len(lines))
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
	for _, args := range [][]string{{"schema", "--format", "yaml"}, {"schema", "extra"}, {"schema", "--table", "events"}} {
		code, _, stderr := runMcasload(t, nil, args...)
		if code != exitUsage || !strings.Contains(stderr, "mcasload: ") {
			t.Errorf("%v: exit %d, stderr %q; want usage error", args, code, stderr)
		}
	}
}
