package main

import (
	"encoding/json"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
)

// triageAnswer is `query NAME --format json` with the triage columns.
type triageAnswer struct {
	Meta output.Meta `json:"meta"`
	Rows []struct {
		Severity   string    `json:"severity"`
		Techniques []string  `json:"techniques"`
		FirstSeen  time.Time `json:"first_seen"`
		LastSeen   time.Time `json:"last_seen"`
		Evidence   []string  `json:"evidence_ids"`
		Links      []string  `json:"portal_url"`
	} `json:"rows"`
}

func queryTriage(t *testing.T, args ...string) triageAnswer {
	t.Helper()
	code, out, stderr := runMcasload(t, nil, append([]string{"query"}, append(args, "--format", "json")...)...)
	if code != 0 {
		t.Fatalf("query %v: exit %d: %s", args, code, stderr)
	}
	var a triageAnswer
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("query %v: %v\n%s", args, err, out)
	}
	return a
}

// TestQueryTriageOfLoadedFiles: rows of a warehouse loaded from files carry severity,
// techniques, the span and evidence but no link, and the meta says why; --portal defender and a
// template with the host written in give links; --evidence cuts the ids.
func TestQueryTriageOfLoadedFiles(t *testing.T) {
	dir, _ := loadedWarehouse(t)
	window := []string{"--since", loadTestStart.Add(-time.Hour).Format(time.RFC3339), "--until", loadTestStart.Add(96 * time.Hour).Format(time.RFC3339)}
	base := append([]string{"mass-download", "--warehouse", dir}, window...)
	inv, _ := queries.Lookup("mass-download")

	a := queryTriage(t, base...)
	if len(a.Rows) != 1 {
		t.Fatalf("%d rows, want the burst", len(a.Rows))
	}
	row := a.Rows[0]
	if !slices.Contains(queries.Severities, row.Severity) || !slices.Equal(row.Techniques, inv.Techniques) ||
		row.FirstSeen.IsZero() || row.LastSeen.Before(row.FirstSeen) || len(row.Evidence) != queries.DefaultEvidence {
		t.Errorf("row %+v: want a severity, techniques %v, a span and %d evidence ids", row, inv.Techniques, queries.DefaultEvidence)
	}
	if len(row.Links) != 0 || a.Meta.Portal == nil || !strings.Contains(a.Meta.Portal.Note, "loaded from files") {
		t.Errorf("links %v, meta portal %+v: want none, and the meta saying the data was loaded from files", row.Links, a.Meta.Portal)
	}
	if a.Meta.Severities[row.Severity] != 1 || a.Meta.EvidenceCap != queries.DefaultEvidence {
		t.Errorf("meta severities %v, evidence cap %d", a.Meta.Severities, a.Meta.EvidenceCap)
	}
	code, _, stderr := runMcasload(t, nil, append([]string{"query"}, base...)...)
	if code != 0 || !strings.Contains(stderr, "no portal links: these activities were loaded from files") {
		t.Errorf("table: exit %d, stderr %q: want the reason for no links", code, stderr)
	}

	a = queryTriage(t, append(base, "--portal", "defender", "--evidence", "3")...)
	if len(a.Rows) != 1 || len(a.Rows[0].Evidence) != 3 || len(a.Rows[0].Links) != 3 || a.Meta.EvidenceCap != 3 {
		t.Fatalf("--evidence 3: %+v, cap %d", a.Rows, a.Meta.EvidenceCap)
	}
	if want := "https://security.microsoft.com/cloudapps/activity-log?activity.id=eq(" + a.Rows[0].Evidence[0] + ",)"; a.Rows[0].Links[0] != want {
		t.Errorf("defender link %s, want %s", a.Rows[0].Links[0], want)
	}
	a = queryTriage(t, append(base, "--portal", "https://contoso.portal.cloudappsecurity.com/#/audits?activity.id=eq({id},)")...)
	if len(a.Rows) != 1 || len(a.Rows[0].Links) != queries.DefaultEvidence ||
		a.Rows[0].Links[0] != "https://contoso.portal.cloudappsecurity.com/#/audits?activity.id=eq("+a.Rows[0].Evidence[0]+",)" {
		t.Errorf("template links %v", a.Rows)
	}

	for _, u := range []struct {
		name string
		args []string
		want string
	}{
		{"no host for the template", []string{"--portal", "{portal}/x/{id}"}, "loaded from files"},
		{"template without id", []string{"--portal", "https://siem.example/activity"}, "put {id}"},
		{"no evidence", []string{"--evidence", "0"}, "--evidence 0: give 1 to 1000"},
	} {
		t.Run(u.name, func(t *testing.T) {
			code, _, stderr := runMcasload(t, nil, append(append([]string{"query"}, base...), u.args...)...)
			if code != exitUsage || !strings.Contains(stderr, u.want) {
				t.Errorf("exit %d, stderr %q; want a usage error saying %q", code, stderr, u.want)
			}
		})
	}
}

// TestQueryTriageOfScannedTenant: every detection row of a scanned simulator links each evidence
// id to the classic portal at the scanned host, and each id is an activity of the warehouse.
func TestQueryTriageOfScannedTenant(t *testing.T) {
	end := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	tn := synth.New(synth.Config{Seed: 3, Users: 30, Days: 3, End: end, Total: 3000, LateArrivals: -1, Incidents: true})
	srv := startScanSim(t, tn, simulator.Config{})
	dir := filepath.Join(t.TempDir(), "wh")
	if code, out, errs := runScanCLI(t, tokenEnv, "scan", "--url", srv.URL, "-w", dir, "--progress=false", "--rate-limit", "6000"); code != exitOK {
		t.Fatalf("scan: exit %d\n%s%s", code, out, errs)
	}
	window := []string{"--since", end.Add(-4 * 24 * time.Hour).Format(time.RFC3339), "--until", end.Add(time.Hour).Format(time.RFC3339)}
	rows := 0
	var ids []string
	for _, inv := range queries.All() {
		if inv.Kind != queries.Detection {
			continue
		}
		a := queryTriage(t, append([]string{inv.Name, "--warehouse", dir}, window...)...)
		if a.Meta.Portal == nil || a.Meta.Portal.Links != srv.URL+"/#/audits?activity.id=eq({id},)" {
			t.Errorf("%s: meta portal %+v, want the classic portal at %s", inv.Name, a.Meta.Portal, srv.URL)
		}
		for _, row := range a.Rows {
			rows++
			if len(row.Links) != len(row.Evidence) || len(row.Evidence) == 0 {
				t.Errorf("%s: %d links for %d evidence ids", inv.Name, len(row.Links), len(row.Evidence))
				continue
			}
			for i, id := range row.Evidence {
				u, err := url.Parse(row.Links[i])
				if err != nil || u.Scheme+"://"+u.Host != srv.URL || u.Fragment != "/audits?activity.id=eq("+id+",)" {
					t.Errorf("%s: link %s for %s: %v", inv.Name, row.Links[i], id, err)
				}
				ids = append(ids, "'"+id+"'")
			}
		}
	}
	if rows == 0 {
		t.Fatal("no detection reported anything on a tenant with incidents")
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	t.Logf("%d detection rows, %d distinct evidence ids", rows, len(ids))
	code, out, stderr := runMcasload(t, nil, "sql", "--warehouse", dir, "--format", "csv",
		"SELECT count(*) AS n FROM activities WHERE id IN ("+strings.Join(ids, ",")+")")
	if code != 0 || strings.TrimSpace(out) != "n\n"+strconv.Itoa(len(ids)) {
		t.Errorf("%d distinct evidence ids, the warehouse holds: %q (%s)", len(ids), out, stderr)
	}

	// A second tenant scanned from its own service into the same warehouse: over both, each
	// row links to its own tenant's portal, and the meta names both.
	first := queryTriage(t, "mass-download", "--warehouse", dir, "--since", window[1], "--until", window[3])
	other := startScanSim(t, tn, simulator.Config{})
	if code, out, errs := runScanCLI(t, tokenEnv, "scan", "--url", other.URL, "-w", dir, "--tenant-label", "fabrikam", "--progress=false", "--rate-limit", "6000"); code != exitOK {
		t.Fatalf("scan of the second tenant: exit %d\n%s%s", code, out, errs)
	}
	code, out, stderr = runMcasload(t, nil, "query", "mass-download", "--warehouse", dir, "--since", window[1], "--until", window[3], "--format", "json")
	var both struct {
		Meta output.Meta `json:"meta"`
		Rows []struct {
			Tenant string   `json:"tenant"`
			Links  []string `json:"portal_url"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &both); code != 0 || err != nil {
		t.Fatalf("over two tenants: exit %d, %v: %s", code, err, stderr)
	}
	hosts := map[string]string{"fabrikam": other.URL}
	for _, row := range both.Rows {
		if row.Tenant != "fabrikam" {
			hosts[row.Tenant] = srv.URL
		}
		if want := hosts[row.Tenant]; len(row.Links) == 0 || !strings.HasPrefix(row.Links[0], want+"/#/audits") {
			t.Errorf("tenant %s: links %v, want %s's portal", row.Tenant, row.Links, want)
		}
	}
	if len(both.Rows) != 2*len(first.Rows) || len(both.Meta.Portal.Tenants) != 2 || both.Meta.Severities[first.Rows[0].Severity] < 2 {
		t.Errorf("%d rows over both tenants (%d for one), meta portal %+v, severities %v", len(both.Rows), len(first.Rows), both.Meta.Portal, both.Meta.Severities)
	}
}
