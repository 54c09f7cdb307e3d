package main

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"github.com/mcasload/mcasload/output"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/queries"
)

// downloadBurst renders n FileDownloaded records by user within one minute from start.
func downloadBurst(user string, start time.Time, n int) []string {
	out := make([]string, n)
	for i := range n {
		ts := start.Add(time.Duration(i) * time.Minute / time.Duration(n)).UnixMilli()
		out[i] = fmt.Sprintf(`{"_id":"%064x","timestamp":%d,"created":%d,"appId":15600,"appName":"Microsoft OneDrive for Business",`+
			`"user":{"userName":%q},"eventTypeName":"EVENT_CATEGORY_DOWNLOAD_FILE","mainInfo":{"rawOperationName":"FileDownloaded",`+
			`"eventObjects":[{"name":"doc%d.docx"}]},"device":{"clientIP":"198.51.100.9"},"location":{"countryCode":"US","category":6}}`,
			0xd0000+i, ts, ts, user, i)
	}
	return out
}

// loadedWarehouse loads the shared test records plus a 60-download burst into a new warehouse.
func loadedWarehouse(t *testing.T) (dir string, burst time.Time) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "wh")
	burst = loadTestStart.Add(26 * time.Hour)
	file := writeLines(t, append(testRecords(1, 400), downloadBurst("exfil@contoso.com", burst, 60)...))
	if code, _, stderr := runMcasload(t, nil, "load", "--warehouse", dir, file); code != 0 {
		t.Fatalf("load: exit %d: %s", code, stderr)
	}
	return dir, burst
}

func TestQueryCommand(t *testing.T) {
	dir, burst := loadedWarehouse(t)
	window := []string{"--since", loadTestStart.Add(-time.Hour).Format(time.RFC3339), "--until", loadTestStart.Add(96 * time.Hour).Format(time.RFC3339)}

	t.Run("list", func(t *testing.T) {
		code, out, _ := runMcasload(t, nil, "query", "--list")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		for _, name := range queries.Names() {
			if !strings.Contains(out, name+"\n") {
				t.Errorf("--list lacks %s", name)
			}
		}
		if !strings.Contains(out, "--param per_min=int") || !strings.Contains(out, "--param ip=list  (required)") {
			t.Errorf("--list lacks parameters:\n%s", out)
		}
		// Each entry says its kind; a detection its severity and techniques, with their names.
		for _, inv := range queries.All() {
			entry := out[strings.Index(out, inv.Name+"\n"):]
			entry = entry[:strings.Index(entry+"\n\n", "\n\n")]
			want := []string{"kind: " + inv.Kind}
			if inv.Kind == queries.Detection {
				want = append(want, "severity: "+inv.Severity)
				for _, id := range inv.Techniques {
					want = append(want, id+" "+queries.AttackName(id))
				}
			} else if strings.Contains(entry, "severity") || strings.Contains(entry, "techniques") {
				t.Errorf("the pivot %s shows a severity or techniques:\n%s", inv.Name, entry)
			}
			for _, w := range want {
				if !strings.Contains(entry, w) {
					t.Errorf("--list entry of %s lacks %q:\n%s", inv.Name, w, entry)
				}
			}
		}
	})

	t.Run("list json", func(t *testing.T) {
		code, out, _ := runMcasload(t, nil, "query", "--list", "--format", "json")
		if code != 0 {
			t.Fatalf("exit %d", code)
		}
		var cat struct {
			Meta struct {
				Command string `json:"command"`
			} `json:"meta"`
			Rows []struct {
				Name       string   `json:"name"`
				Kind       string   `json:"kind"`
				Severity   string   `json:"severity"`
				Sources    []string `json:"sources"`
				Techniques []struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"techniques"`
				Tactics     []struct{ ID, Name string } `json:"tactics"`
				Counterpart string                      `json:"counterpart"`
				Params      []struct{ Name string }     `json:"params"`
			} `json:"rows"`
		}
		if err := json.Unmarshal([]byte(out), &cat); err != nil || cat.Meta.Command != "query --list" || len(cat.Rows) != len(queries.All()) {
			t.Fatalf("catalogue: %v, %d entries:\n%s", err, len(cat.Rows), out)
		}
		for i, inv := range queries.All() {
			e := cat.Rows[i]
			if e.Name != inv.Name || e.Kind != inv.Kind || e.Severity != inv.Severity || e.Counterpart != inv.Counterpart ||
				len(e.Techniques) != len(inv.Techniques) || len(e.Tactics) != len(inv.Tactics) || len(e.Sources) == 0 || len(e.Params) != len(inv.Params) {
				t.Errorf("catalogue entry %+v does not match the header of %s", e, inv.Name)
				continue
			}
			for j, tech := range e.Techniques {
				if tech.ID != inv.Techniques[j] || tech.Name == "" {
					t.Errorf("%s: technique %+v", inv.Name, tech)
				}
			}
		}
	})

	for _, src := range []struct{ name, flag, dir string }{
		{"duckdb", "--warehouse", dir},
		{"parquet", "--parquet", filepath.Join(dir, "parquet", "activities")},
	} {
		t.Run("mass-download/"+src.name, func(t *testing.T) {
			args := append([]string{"query", "mass-download", src.flag, src.dir, "--format", "ndjson"}, window...)
			code, out, stderr := runMcasload(t, nil, args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != 1 {
				t.Fatalf("want one burst, got:\n%s", out)
			}
			var row struct {
				User       string    `json:"user_name"`
				PeakPerMin int       `json:"peak_per_min"`
				Win        time.Time `json:"win"`
			}
			if err := json.Unmarshal([]byte(lines[0]), &row); err != nil {
				t.Fatal(err)
			}
			if row.User != "exfil@contoso.com" || row.PeakPerMin != 60 || row.Win.After(burst) || burst.Sub(row.Win) >= 15*time.Minute {
				t.Fatalf("row %+v, want exfil@contoso.com with 60 per minute in the window of %s", row, burst)
			}
		})
	}

	t.Run("threshold param and no rows", func(t *testing.T) {
		args := append([]string{"query", "mass-download", "--warehouse", dir, "--param", "per_min=60"}, window...)
		code, out, stderr := runMcasload(t, nil, args...)
		if code != 0 || strings.TrimSpace(out) != "no rows" {
			t.Fatalf("exit %d, stdout %q, stderr %q; want no rows (60 is not more than 60)", code, out, stderr)
		}
		args = append([]string{"query", "mass-download", "--warehouse", dir, "--param", "per_min=60", "--format", "csv"}, window...)
		code, out, stderr = runMcasload(t, nil, args...)
		if code != 0 || strings.Count(out, "\n") != 1 || !strings.Contains(stderr, "no rows") {
			t.Fatalf("csv: exit %d, stdout %q, stderr %q; want the header and \"no rows\" on stderr", code, out, stderr)
		}
	})

	t.Run("out file", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "r.parquet")
		args := append([]string{"query", "user-timeline", "--warehouse", dir, "--param", "user=USER3@contoso.com", "--param", "bucket=day", "--format", "parquet", "--out", out}, window...)
		code, _, stderr := runMcasload(t, nil, args...)
		if code != 0 || !strings.Contains(stderr, "rows to "+out) {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		code, stdout, stderr := runMcasload(t, nil, "sql", "--warehouse", dir, "--format", "csv",
			"SELECT count(*) AS n FROM events WHERE lower(user_name) = 'user3@contoso.com'")
		if code != 0 {
			t.Fatalf("sql: %s", stderr)
		}
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var events, days int
		if err := db.QueryRow("SELECT sum(events)::INT, count(*)::INT FROM read_parquet('"+out+"')").Scan(&events, &days); err != nil {
			t.Fatal(err)
		}
		if want := "n\n" + fmt.Sprint(events) + "\n"; stdout != want || events == 0 || days < 2 {
			t.Fatalf("parquet holds %d events over %d buckets; sql counts %q", events, days, stdout)
		}
	})

	usage := []struct {
		name string
		args []string
		want string
	}{
		{"unknown investigation", []string{"query", "mass-downlod", "--warehouse", dir}, "accepted: account-created-deleted, activity-spike, admin-untrusted-ip"},
		{"unknown param", []string{"query", "mass-download", "--warehouse", dir, "--param", "per_minute=3"}, "accepted: since (timestamp), until (timestamp), per_min (int)"},
		{"wrong type", []string{"query", "mass-download", "--warehouse", dir, "--param", "per_min=many"}, `per_min: int: "many" is not an integer`},
		{"bad time", []string{"query", "mass-download", "--warehouse", dir, "--since", "last tuesday"}, "not a time; use a duration before now"},
		{"missing required", []string{"query", "ip-pivot", "--warehouse", dir}, "hint: pass --param ip="},
		{"bad choice", []string{"query", "user-timeline", "--warehouse", dir, "--param", "user=a", "--param", "bucket=year"}, "is not one of minute, hour, day, week"},
		{"bad format", []string{"query", "mass-download", "--warehouse", dir, "--format", "xml"}, "accepted: table, csv"},
		{"sql write", []string{"sql", "--warehouse", dir, "COPY activities TO '/tmp/x.csv'"}, "only read-only queries are allowed"},
		{"sql empty", []string{"sql", "--warehouse", dir, " "}, "the query is empty"},
	}
	for _, u := range usage {
		t.Run(u.name, func(t *testing.T) {
			code, _, stderr := runMcasload(t, nil, u.args...)
			if code != exitUsage || !strings.Contains(stderr, u.want) {
				t.Fatalf("exit %d, stderr %q; want exit %d mentioning %q", code, stderr, exitUsage, u.want)
			}
		})
	}
}

func TestSQLCommand(t *testing.T) {
	dir, _ := loadedWarehouse(t)
	code, out, stderr := runMcasload(t, nil, "sql", "--warehouse", dir, "--format", "csv",
		"SELECT action_class, count(*) AS n FROM events GROUP BY ALL ORDER BY action_class")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if want := "action_class,n\ndownload,60\nlogin,400\n"; out != want {
		t.Fatalf("got %q, want %q", out, want)
	}
	// The meta line on stderr states what the warehouse holds (sql asks about all of it).
	var meta output.Meta
	if err := json.Unmarshal([]byte(stderr), &meta); err != nil || strings.Count(stderr, "\n") != 1 {
		t.Fatalf("csv stderr %q: want one meta line (%v)", stderr, err)
	}
	if cov := meta.Coverage; meta.Command != "sql" || cov == nil || cov.Window != nil || cov.State != output.CoverFull || cov.Activities != 460 ||
		cov.Warehouse.Activities != 460 || cov.Days != 4 || len(cov.Tenants) != 1 || cov.LastRun == nil || cov.LastRun.Command != "load" {
		t.Errorf("csv meta %+v (coverage %+v): want sql over the 460 activities of 4 days, last load", meta, meta.Coverage)
	}
	code, out, stderr = runMcasload(t, strings.NewReader("SELECT count(*) AS n FROM activities"), "sql", "--warehouse", dir, "--format", "json", "-")
	var doc struct {
		Meta output.Meta
		Rows []map[string]int
	}
	if err := json.Unmarshal([]byte(out), &doc); code != 0 || err != nil || len(doc.Rows) != 1 || doc.Rows[0]["n"] != 460 || doc.Meta.Coverage == nil || doc.Meta.Coverage.Activities != 460 {
		t.Fatalf("stdin query: exit %d, %q, %s; want n 460 with meta.coverage", code, out, stderr)
	}
	for _, q := range []string{"SELECT * FROM read_csv('/etc/passwd')", "ATTACH '/tmp/other.duckdb'", "INSTALL httpfs", "SET enable_external_access = true"} {
		code, _, stderr := runMcasload(t, nil, "sql", "--warehouse", dir, q)
		if code == 0 {
			t.Errorf("%s ran", q)
		}
		if strings.Contains(stderr, "root:") {
			t.Errorf("%s leaked file content: %s", q, stderr)
		}
	}
}

// TestTableWidthFlags: --max-width fits a table and never cuts the user or the IP; piped (the
// test's stdout is not a terminal) and --wide print every value whole.
func TestTableWidthFlags(t *testing.T) {
	dir, _ := loadedWarehouse(t)
	q := `SELECT 'renee.tavares@contoso.onmicrosoft.com' AS user_name, '2001:db8:85a3::8a2e:370:7334' AS ip, repeat('x', 150) AS note, 42 AS n`
	long := strings.Repeat("x", 150)
	for _, tt := range []struct {
		name  string
		args  []string
		width int
		code  int
	}{
		{"max-width 90", []string{"--max-width", "90"}, 90, 0},
		{"piped", nil, 0, 0},
		{"wide", []string{"--wide"}, 0, 0},
		{"max-width 0", []string{"--max-width", "0"}, 0, 0},
		{"both", []string{"--wide", "--max-width", "80"}, 0, exitUsage},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errs := runMcasload(t, nil, append(append([]string{"sql", "-w", dir}, tt.args...), q)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %s", code, tt.code, errs)
			}
			if code != 0 {
				return
			}
			for _, v := range []string{"renee.tavares@contoso.onmicrosoft.com", "2001:db8:85a3::8a2e:370:7334", "42"} {
				if !strings.Contains(out, v) {
					t.Errorf("%q cut or missing:\n%s", v, out)
				}
			}
			if whole := strings.Contains(out, long); whole != (tt.width == 0) {
				t.Errorf("long note whole = %v at width %d:\n%s", whole, tt.width, out)
			}
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if tt.width > 0 && len([]rune(line)) > tt.width {
					t.Errorf("line wider than %d: %q", tt.width, line)
				}
			}
		})
	}
}
