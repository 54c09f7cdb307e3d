package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/queries"
)

// precisionFile holds the two-seed figures of the precision test (the simulator with benign
// look-alikes): one entry per investigation and seed.
var precisionFile = filepath.Join("..", "..", "queries", "testdata", "precision.json")

// precisionEntry is one line of precisionFile.
type precisionEntry struct {
	Investigation     string `json:"investigation"`
	Seed              int64  `json:"seed"`
	PlantsFound       int    `json:"plants_found"`
	PlantsTotal       int    `json:"plants_total"`
	DecoysFlagged     int    `json:"decoys_flagged"`
	LookalikesFlagged int    `json:"lookalikes_flagged"`
}

// readPrecision reads precisionFile; absent is no error (nil, nil): the page says so.
func readPrecision() ([]precisionEntry, error) {
	b, err := os.ReadFile(precisionFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []precisionEntry
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", precisionFile, err)
	}
	return out, nil
}

// caseCounts counts an investigation's literal-row cases by kind (found, quiet) from their file names.
func caseCounts(inv string) (found, quiet int) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "queries", "testdata", "cases", inv, "*.ndjson"))
	for _, f := range files {
		switch {
		case strings.HasPrefix(filepath.Base(f), "found-"):
			found++
		case strings.HasPrefix(filepath.Base(f), "quiet-"):
			quiet++
		}
	}
	return found, quiet
}

// investigationsPage renders docs/investigations.md from the embedded investigation headers, the
// literal-row cases and the precision figures, so the page can never drift from what
// `mcasload query --list` shows and the tests measure.
func investigationsPage(precision []precisionEntry) string {
	var b strings.Builder
	b.WriteString("# Investigations: `mcasload query` and `mcasload sql`\n\n")
	b.WriteString("<!-- Generated from the headers of queries/sql/*.sql, the cases in queries/testdata/cases and queries/testdata/precision.json by `go test ./cmd/mcasload -run TestInvestigationsPage -update`; do not edit. -->\n\n")
	b.WriteString("Each investigation is one `.sql` file under `queries/sql/` with a header naming its question,\n")
	b.WriteString("kind, parameters, chart, the history it reads and its entity columns; every one reads the\n")
	b.WriteString("normalized `events` view and the one classification in `queries/events.sql`. Parameters are\n")
	b.WriteString("bound, never spliced into SQL. Times accept a duration ago (`7d`, `2w`, `1d12h`), `now`, RFC 3339,\n")
	b.WriteString("a date, or epoch seconds (10 digits) or milliseconds (13 digits), as every command does; all\n")
	b.WriteString("times are UTC.\n\n")
	b.WriteString("```sh\nmcasload query --list [--format json]\nmcasload query NAME -w WAREHOUSE [--since 7d] [--until now] [--param key=value]… [--allow-list FILE] [--show-suppressed] [--evidence N] [--portal classic|defender|none|TEMPLATE] [--format table|csv|json|ndjson|markdown|parquet] [--out FILE] [--max-width N|--wide]\nmcasload query NAME --parquet DIR …      # a Parquet dataset alone, e.g. a copied <warehouse>/parquet/activities\nmcasload sql -w WAREHOUSE \"SELECT …\"      # read-only ad-hoc SQL over activities, cloud_app_events, events, impersonations, own_domains, rejected_activities\nmcasload domains -w WAREHOUSE             # the tenant's own domains, and why\n```\n\n")
	b.WriteString("- **Kinds.** A *detection* reports what looks like an attack; an empty answer means nothing was\n")
	b.WriteString("  found, and the allow-list ([allow-list.md](allow-list.md)) suppresses the rows it names, counted\n")
	b.WriteString("  in the output's meta. A *pivot* (`user-timeline`, `ip-pivot`, `impersonation-list`) answers a\n")
	b.WriteString("  question about what you point it at and lists everything, benign included.\n")
	b.WriteString("- **History.** An investigation that needs a baseline or context declares how much data before\n")
	b.WriteString("  `--since` it reads; `mcasload` reads it on its own (whole UTC days). The SQL sees `$since` and\n")
	b.WriteString("  `$until`; `events` holds [since − history, until]. When the warehouse holds less history than\n")
	b.WriteString("  declared, the result is marked `provisional` and says why (stderr beside a table, `meta` in\n")
	b.WriteString("  JSON). Baselines are rolling: each day is judged against the days before it, and users seen\n")
	b.WriteString("  for less than their learning period are not judged, so a wide window or a young warehouse\n")
	b.WriteString("  gives neither a silent zero nor a flood. The first time of each (user, country, user agent,\n")
	b.WriteString("  ISP) in the history (`event_firsts`: what `new-country`, `new-client-fingerprint` and\n")
	b.WriteString("  `unusual-admin-activity` learn what is not new from) comes from the warehouse's per-day first\n")
	b.WriteString("  times (`activity_firsts`, kept by every load, 20–50× fewer rows than the activities) for the\n")
	b.WriteString("  whole days that have them, and from `events` for the rest: the same answer either way\n")
	b.WriteString("  ([warehouse.md](warehouse.md), First times).\n")
	b.WriteString("- **Output.** `--format json` is `{\"meta\": {…}, \"rows\": […]}`; CSV, NDJSON and Parquet hold rows\n")
	b.WriteString("  only, with the meta as one JSON line on stderr. The meta names the investigation and its kind,\n")
	b.WriteString("  the window asked and the window read, the history declared and available, `provisional` and\n")
	b.WriteString("  its reasons, and the rows the allow-list suppressed, per entry.\n")
	b.WriteString("- **Coverage.** Every answer (`query`, `sql`, `export`, `report`) states what the warehouse holds\n")
	b.WriteString("  for the window asked: its activities, first and last, the days with data and those without, the\n")
	b.WriteString("  tenants, the last scan or load and the rejected records (`meta.coverage` in JSON, a `coverage`\n")
	b.WriteString("  line on stderr otherwise). A window partly covered is answered (exit 0) and the coverage says\n")
	b.WriteString("  which days hold nothing; a window with no activity at all is answered empty and exits 7, saying\n")
	b.WriteString("  what the warehouse holds instead. A `user` or `ip` parameter no activity holds, at any time,\n")
	b.WriteString("  is said on stderr and in `meta.unseen`. A `--parquet` folder that is missing or holds no\n")
	b.WriteString("  Parquet file is a usage error (exit 2). `--out -` is stdout.\n")
	b.WriteString("- **Triage.** Every detection's header declares a base severity (informational, low, medium,\n")
	b.WriteString("  high) and how a row's severity rises (`LEVEL when EXPR` over the output columns; the highest\n")
	b.WriteString("  clause that holds wins), its MITRE ATT&CK tactics and techniques, its entity columns, its\n")
	b.WriteString("  real-world counterpart, the sources it reads and the time bucket of its finding; a detection\n")
	b.WriteString("  missing one is refused when the catalogue loads. Every detection row starts with `severity`\n")
	b.WriteString("  and ends with `first_seen`, `last_seen` (the span of its evidence), `techniques`,\n")
	fmt.Fprintf(&b, "  `evidence_ids` (the ids of the first activities by time, at most %d unless `--evidence N` says)\n", queries.DefaultEvidence)
	b.WriteString("  and `portal_url`: one link per evidence id. `--portal classic` (the default) links the classic\n")
	b.WriteString("  portal's activity page `https://HOST/#/audits?activity.id=eq(ID,)`, HOST being the tenant the\n")
	b.WriteString("  warehouse was scanned from; `--portal defender` links the Microsoft Defender portal's activity\n")
	b.WriteString("  log; a template such as `https://HOST/#/audits?activity.id=eq({id},)` links anywhere (`{id}` is\n")
	b.WriteString("  the activity id, `{portal}` the scanned host). Activities loaded from files, a bare Parquet\n")
	b.WriteString("  dataset or a warehouse of several tenants have no known host: their rows carry no link and the\n")
	b.WriteString("  meta's `portal.note` says why. The meta counts the rows per severity (`severities`). Pivots\n")
	b.WriteString("  declare their kind instead and carry none of these columns.\n")
	b.WriteString("- **Precision.** Each investigation has literal-row cases (`queries/testdata/cases/NAME/`):\n")
	b.WriteString("  *found* cases it must report exactly, *quiet* cases (benign look-alikes real tenants are full\n")
	b.WriteString("  of) it must not report. The two-seed table is the precision test's run of the simulator with\n")
	b.WriteString("  its planted incidents, near-miss decoys and benign look-alikes.\n")
	b.WriteString("- **Sources.** `events` holds the activities API's records (`activities`) and the Streaming\n")
	b.WriteString("  API's (`cloud_app_events`, loaded by `mcasload stream`), each event once: a stream row that is\n")
	b.WriteString("  also an activity, by id or by fingerprint, is left out ([sources.md](sources.md)). Each\n")
	b.WriteString("  investigation names the sources it supports (`Sources:` below); one that needs fields the\n")
	b.WriteString("  stream lacks (coordinates) reads the activities alone and its meta says the stream's rows were\n")
	b.WriteString("  left out. Every investigation finds its planted incident from each source it supports alone\n")
	b.WriteString("  and exactly once from both (`queries` test `TestInvestigationsOverEitherSource`).\n")
	b.WriteString("- **Tenants.** Over a warehouse of several tenants an investigation runs once per tenant\n")
	b.WriteString("  (`--tenant-label` selects them; default all), so it never pairs rows of two tenants and each\n")
	b.WriteString("  tenant's history, own domains and baselines are its own; the answer starts with a `tenant`\n")
	b.WriteString("  column and the meta lists the tenants. Over one tenant there is no such column. `sql` sees every\n")
	b.WriteString("  selected tenant's rows, each with its `tenant`. See [tenants.md](tenants.md).\n\n")
	b.WriteString("| investigation | kind | severity | techniques | question |\n|---|---|---|---|---|\n")
	for _, inv := range queries.All() {
		sev, tech := "—", "—"
		if inv.Kind == queries.Detection {
			sev, tech = inv.Severity, strings.Join(inv.Techniques, ", ")
		}
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s | %s | %s |\n", inv.Name, inv.Name, inv.Kind, sev, tech, inv.Question)
	}
	for _, inv := range queries.All() {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n%s\n\n", inv.Name, inv.Question, inv.Description)
		fmt.Fprintf(&b, "Kind: %s. Chart: %s. Sources: %s.", inv.Kind, strings.Join(inv.Charts, ", "), strings.Join(inv.Sources, ", "))
		if h := historyText(inv); h != "" {
			fmt.Fprintf(&b, " History read before the window: %s.", h)
		}
		if len(inv.Entities) > 0 {
			var parts []string
			for _, k := range []string{"user", "ip", "domain", "app", "rule", "object"} {
				if cols := inv.Entities[k]; len(cols) > 0 {
					parts = append(parts, k+" `"+strings.Join(cols, "`, `")+"`")
				}
			}
			fmt.Fprintf(&b, " Entities (what the allow-list matches): %s.", strings.Join(parts, "; "))
		}
		if inv.Kind == queries.Detection {
			writeTriage(&b, inv)
		}
		b.WriteString("\n\n| parameter | type | default | meaning |\n|---|---|---|---|\n")
		for _, p := range inv.Params {
			def := "`" + p.Default + "`"
			if p.Required {
				def = "required"
			} else if p.Default == "" {
				def = "(empty)"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", p.Name, p.TypeName(), def, p.Doc)
		}
		found, quiet := caseCounts(inv.Name)
		fmt.Fprintf(&b, "\nLiteral-row cases: %d found, %d quiet (`queries/testdata/cases/%s/`).\n", found, quiet, inv.Name)
		writePrecision(&b, inv.Name, precision)
	}
	return b.String()
}

// writeTriage writes a detection's severity, ATT&CK mapping, finding bucket and counterpart.
func writeTriage(b *strings.Builder, inv *queries.Investigation) {
	b.WriteString("\n\n")
	fmt.Fprintf(b, "- Severity: %s", inv.Severity)
	for _, r := range inv.Rises {
		fmt.Fprintf(b, "; %s when `%s`", r.Level, r.When)
	}
	b.WriteString(".\n")
	for _, l := range []struct {
		what string
		ids  []string
	}{{"Tactics", inv.Tactics}, {"Techniques", inv.Techniques}} {
		var named []string
		for _, id := range l.ids {
			named = append(named, id+" "+queries.AttackName(id))
		}
		fmt.Fprintf(b, "- %s: %s.\n", l.what, strings.Join(named, "; "))
	}
	fmt.Fprintf(b, "- Finding bucket: %s.\n", queries.FormatDuration(inv.Bucket))
	fmt.Fprintf(b, "- Counterpart: %s", strings.TrimSuffix(inv.Counterpart, "."))
	b.WriteString(".")
}

// writePrecision writes an investigation's two-seed table, or says why there is none.
func writePrecision(b *strings.Builder, inv string, all []precisionEntry) {
	var rows []precisionEntry
	for _, e := range all {
		if e.Investigation == inv {
			rows = append(rows, e)
		}
	}
	if len(rows) == 0 {
		if all == nil {
			b.WriteString("\nPlants found and look-alikes flagged on two seeds: not measured yet (`queries/testdata/precision.json`, written by the precision test, is absent).\n")
		} else {
			b.WriteString("\nPlants found and look-alikes flagged on two seeds: `queries/testdata/precision.json` has no figures for it.\n")
		}
		return
	}
	slices.SortFunc(rows, func(x, y precisionEntry) int { return int(x.Seed - y.Seed) })
	b.WriteString("\n| seed | plants found | decoys flagged | look-alikes flagged |\n|---|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(b, "| %d | %d of %d | %d | %d |\n", r.Seed, r.PlantsFound, r.PlantsTotal, r.DecoysFlagged, r.LookalikesFlagged)
	}
}

func TestInvestigationsPage(t *testing.T) {
	precision, err := readPrecision()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "investigations.md")
	got := investigationsPage(precision)
	testkit.Golden(t, path, []byte(got))
	for _, inv := range queries.All() {
		if !strings.Contains(got, "\n## "+inv.Name+"\n") {
			t.Errorf("page lacks a section for %s", inv.Name)
		}
	}
}

// TestReadmeInvestigationCount: the README's command table counts the investigations the
// catalog holds.
func TestReadmeInvestigationCount(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, inv := range queries.All() {
		kinds[inv.Kind]++
	}
	want := fmt.Sprintf("the %d canned investigations: %d detections, %d pivots", len(queries.All()), kinds[queries.Detection], kinds[queries.Pivot])
	if !strings.Contains(string(b), want) {
		t.Errorf("README.md does not say %q", want)
	}
}

// TestInvestigationsPagePrecision: the page shows the precision figures from the file, or says
// they are missing.
func TestInvestigationsPagePrecision(t *testing.T) {
	page := investigationsPage([]precisionEntry{
		{Investigation: "mass-share", Seed: 2, PlantsFound: 1, PlantsTotal: 1, LookalikesFlagged: 0},
		{Investigation: "mass-share", Seed: 1, PlantsFound: 1, PlantsTotal: 1, DecoysFlagged: 1, LookalikesFlagged: 2},
	})
	section := page[strings.Index(page, "\n## mass-share\n"):]
	section = section[:strings.Index(section[1:], "\n## ")+1]
	if !strings.Contains(section, "| 1 | 1 of 1 | 1 | 2 |\n| 2 | 1 of 1 | 0 | 0 |") {
		t.Errorf("mass-share section lacks the two seeds in order:\n%s", section)
	}
	if !strings.Contains(page, "`queries/testdata/precision.json` has no figures for it") {
		t.Error("an investigation without figures does not say so")
	}
	if !strings.Contains(investigationsPage(nil), "not measured yet") {
		t.Error("a missing file is not said")
	}
}
