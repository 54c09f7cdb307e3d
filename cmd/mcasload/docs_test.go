package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/queries"
)

// investigationsPage renders docs/investigations.md from the embedded investigation headers, so
// the page can never drift from what `mcasload query --list` shows.
func investigationsPage() string {
	var b strings.Builder
	b.WriteString("# Investigations: `mcasload query` and `mcasload sql`\n\n")
	b.WriteString("<!-- Generated from the headers of queries/sql/*.sql by `go test ./cmd/mcasload -run TestInvestigationsPage -update`; do not edit. -->\n\n")
	b.WriteString("Each investigation is one `.sql` file under `queries/sql/` with a header naming its question,\n")
	b.WriteString("parameters and chart; every one reads the shared classification in `queries/classification.sql`.\n")
	b.WriteString("Parameters are bound, never spliced into SQL. Times accept a duration ago (`7d`, `2w`, `1d12h`),\n")
	b.WriteString("`now`, RFC 3339, a date, or epoch seconds (10 digits) or milliseconds (13 digits), as every\n")
	b.WriteString("command does; all times are UTC.\n\n")
	b.WriteString("```sh\nmcasload query --list\nmcasload query NAME -w WAREHOUSE [--since 7d] [--until now] [--param key=value]… [--format table|csv|json|ndjson|markdown|parquet] [--out FILE] [--max-width N|--wide]\nmcasload query NAME --parquet DIR …      # a Parquet dataset alone, e.g. a copied <warehouse>/parquet/activities\nmcasload sql -w WAREHOUSE \"SELECT …\"      # read-only ad-hoc SQL over activities, classified, rejected_activities\n```\n\n")
	b.WriteString("| investigation | question | chart |\n|---|---|---|\n")
	for _, inv := range queries.All() {
		fmt.Fprintf(&b, "| [%s](#%s) | %s | %s |\n", inv.Name, inv.Name, inv.Question, strings.Join(inv.Charts, ", "))
	}
	for _, inv := range queries.All() {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n%s\n\n", inv.Name, inv.Question, inv.Description)
		b.WriteString("| parameter | type | default | meaning |\n|---|---|---|---|\n")
		for _, p := range inv.Params {
			def := "`" + p.Default + "`"
			if p.Required {
				def = "required"
			} else if p.Default == "" {
				def = "(empty)"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", p.Name, p.TypeName(), def, p.Doc)
		}
	}
	return b.String()
}

func TestInvestigationsPage(t *testing.T) {
	path := filepath.Join("..", "..", "docs", "investigations.md")
	got := investigationsPage()
	testkit.Golden(t, path, []byte(got))
	for _, inv := range queries.All() {
		if !strings.Contains(got, "\n## "+inv.Name+"\n") {
			t.Errorf("page lacks a section for %s", inv.Name)
		}
	}
}
