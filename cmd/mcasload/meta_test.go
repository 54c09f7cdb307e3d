package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/queries"
)

// envelope is the one JSON shape of every command that prints rows.
type envelope struct {
	Meta output.Meta       `json:"meta"`
	Rows []json.RawMessage `json:"rows"`
}

func decodeEnvelope(t *testing.T, out string) envelope {
	t.Helper()
	var e envelope
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("not {\"meta\": …, \"rows\": […]}: %v\n%s", err, out)
	}
	return e
}

// TestQueryMeta: JSON carries the meta beside the rows; CSV and NDJSON stay rows only with the
// meta as one JSON line on stderr; a table says in words what a person needs to know.
func TestQueryMeta(t *testing.T) {
	dir, _ := loadedWarehouse(t)
	since, until := loadTestStart.Add(-time.Hour), loadTestStart.Add(96*time.Hour)
	window := []string{"--since", since.Format(time.RFC3339), "--until", until.Format(time.RFC3339)}

	t.Run("json", func(t *testing.T) {
		code, out, stderr := runMcasload(t, nil, append([]string{"query", "mass-download", "-w", dir, "--format", "json"}, window...)...)
		if code != 0 || stderr != "" {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
		e := decodeEnvelope(t, out)
		m := e.Meta
		if m.Command != "query" || m.Investigation != "mass-download" || m.Kind != queries.Detection || m.Provisional ||
			!m.Window.Since.Equal(since) || !m.Window.Until.Equal(until) || !m.Read.Since.Equal(since) || m.History != nil || len(e.Rows) != 1 {
			t.Errorf("meta %+v with %d rows", m, len(e.Rows))
		}
	})

	t.Run("history beyond the warehouse", func(t *testing.T) {
		// new-country reads 30 days before the window; the warehouse holds 3 days.
		code, out, stderr := runMcasload(t, nil, append([]string{"query", "new-country", "-w", dir, "--format", "json"}, window...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		m := decodeEnvelope(t, out).Meta
		if !m.Provisional || m.History == nil || m.History.DeclaredDays != 30 || m.History.AvailableDays != 0.88 ||
			m.History.FirstActivity == nil || !m.Read.Since.Equal(since.Add(-30*24*time.Hour).Truncate(24*time.Hour)) || len(m.Notes) != 1 {
			t.Errorf("meta %+v (history %+v)", m, m.History)
		}
		code, _, stderr = runMcasload(t, nil, append([]string{"query", "new-country", "-w", dir}, window...)...)
		if code != 0 || !strings.Contains(stderr, "provisional: the warehouse's first activity is 2026-02-01 22:00 UTC, so it holds 0.88d of the 30d of history this investigation reads before the window (from 2026-01-02 00:00 UTC)") {
			t.Errorf("table: exit %d, stderr %q; want it to say the result is provisional and why", code, stderr)
		}
	})

	for _, f := range []string{"csv", "ndjson"} {
		t.Run(f, func(t *testing.T) {
			code, out, stderr := runMcasload(t, nil, append([]string{"query", "new-country", "-w", dir, "--format", f}, window...)...)
			if code != 0 || strings.Contains(out, "provisional") {
				t.Fatalf("exit %d, stdout %q", code, out)
			}
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			var m output.Meta
			if err := json.Unmarshal([]byte(lines[0]), &m); err != nil || m.Investigation != "new-country" || !m.Provisional {
				t.Errorf("stderr %q: want the meta as one JSON line (%v)", stderr, err)
			}
		})
	}
}

func TestQueryAllowList(t *testing.T) {
	dir, _ := loadedWarehouse(t)
	window := []string{"--since", loadTestStart.Add(-time.Hour).Format(time.RFC3339), "--until", loadTestStart.Add(96 * time.Hour).Format(time.RFC3339)}
	allow := filepath.Join(dir, "allow-list.toml")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(allow, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("[investigation.mass-download]\nusers = [\"Exfil@contoso.com\"]\n")
	query := func(extra ...string) (int, string, string) {
		return runMcasload(t, nil, append(append([]string{"query", "mass-download", "-w", dir}, window...), extra...)...)
	}

	// the warehouse's allow-list.toml applies by default: counted, never dropped unseen
	code, out, stderr := query()
	if code != 0 || strings.TrimSpace(out) != output.NoRows || !strings.Contains(stderr, "suppressed 1 row by the allow-list "+allow+" (mass-download users Exfil@contoso.com: 1)") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, stderr)
	}
	code, out, _ = query("--format", "json")
	e := decodeEnvelope(t, out)
	if s := e.Meta.Suppressed; code != 0 || len(e.Rows) != 0 || s == nil || s.Rows != 1 || s.AllowList != allow || len(s.ByEntry) != 1 || s.ByEntry[0].Rows != 1 {
		t.Errorf("json: exit %d, %d rows, suppressed %+v", code, len(e.Rows), e.Meta.Suppressed)
	}
	code, out, _ = query("--format", "ndjson", "--show-suppressed")
	if code != 0 || !strings.Contains(out, `"suppressed_by":"mass-download users Exfil@contoso.com"`) {
		t.Errorf("--show-suppressed: exit %d, %s", code, out)
	}

	// another file by flag
	other := filepath.Join(t.TempDir(), "other.toml")
	if err := os.WriteFile(other, []byte("[global]\nusers = [\"someone@contoso.com\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := query("--allow-list", other, "--format", "csv"); code != 0 || strings.Count(out, "\n") != 2 {
		t.Errorf("--allow-list %s: exit %d, %q; want the burst", other, code, out)
	}

	for _, c := range []struct{ name, text, flag, want string }{
		{"unknown key", "[global]\nuser = [\"a@b.com\"]\n", "", `unknown key "global.user"`},
		{"unknown investigation", "[investigation.mass-downloads]\nusers = [\"a@b.com\"]\n", "", "no such investigation"},
		{"bad range", "[global]\nip_ranges = [\"10.0.0.0/40\"]\n", "", "not a network in CIDR notation"},
		{"missing file", "", filepath.Join(dir, "nowhere.toml"), "no such file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			write(c.text)
			args := []string{}
			if c.flag != "" {
				args = append(args, "--allow-list", c.flag)
			}
			code, _, stderr := query(args...)
			if code != exitUsage || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want %d mentioning %q", code, stderr, exitUsage, c.want)
			}
		})
	}
}

func TestQueryListJSON(t *testing.T) {
	code, out, stderr := runMcasload(t, nil, "query", "--list", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var e struct {
		Meta output.Meta
		Rows []catalogEntry
	}
	if err := json.Unmarshal([]byte(out), &e); err != nil {
		t.Fatal(err)
	}
	if e.Meta.Command != "query --list" || len(e.Rows) != len(queries.All()) {
		t.Fatalf("meta %+v, %d entries", e.Meta, len(e.Rows))
	}
	for _, r := range e.Rows {
		inv, err := queries.Lookup(r.Name)
		if err != nil || r.Kind != inv.Kind || len(r.Params) != len(inv.Params) || r.Question != inv.Question {
			t.Errorf("entry %+v does not match %s", r, r.Name)
		}
		if r.Name == "activity-spike" && r.History != "30d (baseline_days)" {
			t.Errorf("activity-spike history %q", r.History)
		}
	}
	if code, _, stderr := runMcasload(t, nil, "query", "--list", "--format", "csv"); code != exitUsage || !strings.Contains(stderr, "use table or json") {
		t.Errorf("--list --format csv: exit %d, %q", code, stderr)
	}
}

func TestDomainsCommand(t *testing.T) {
	dir, _ := loadedWarehouse(t)
	code, out, stderr := runMcasload(t, nil, "domains", "-w", dir, "--format", "csv")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "contoso.com,17,true,sign-ins of 5 users or more,"; !strings.Contains(out, want) {
		t.Errorf("domains:\n%s\nwant a line starting %q", out, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "allow-list.toml"), []byte("[tenant]\nmin_users = 20\nown_domains = [\"contoso.co.uk\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runMcasload(t, nil, "domains", "-w", dir, "--format", "csv")
	if code != 0 || !strings.Contains(out, "contoso.co.uk,0,true,added by the allow-list") || !strings.Contains(out, "contoso.com,17,false,fewer than 20 users") {
		t.Errorf("domains with the allow-list's edits:\n%s", out)
	}
}
