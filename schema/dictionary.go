package schema

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/apache/arrow-go/v18/arrow"
)

// DictionaryEntry is one column of the data dictionary as published (`mcasload schema --format
// json` and docs/schema.md).
type DictionaryEntry struct {
	Column   string `json:"column"`
	Type     string `json:"type"`     // DuckDB type, as SQL users see it
	Arrow    string `json:"arrow"`    // Arrow type, as Go and Parquet readers see it
	Nullable bool   `json:"nullable"` // false: every row has a value
	Source   string `json:"source"`   // JSON path in the API record
	Fallback string `json:"fallback,omitempty"`
	Doc      string `json:"doc"`
}

// Table is one table of the warehouse as the data dictionary documents it.
type Table struct {
	Name    string
	Version int // its schema version
	Columns []Column
	Rejects []RejectReason // its converter's reject codes, in the order the checks run
}

// ActivitiesTable describes the activities table.
var ActivitiesTable = Table{Name: "activities", Version: Version, Columns: Columns, Rejects: RejectReasons}

// Dictionary returns the data dictionary of the Activities schema, in column order.
func Dictionary() []DictionaryEntry { return ActivitiesTable.Dictionary() }

// Dictionary returns the table's data dictionary, in column order.
func (t Table) Dictionary() []DictionaryEntry {
	out := make([]DictionaryEntry, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = DictionaryEntry{
			Column:   c.Name,
			Type:     SQLType(c.Type),
			Arrow:    c.Type.String(),
			Nullable: c.Nullable,
			Source:   c.Source,
			Fallback: c.Fallback,
			Doc:      c.Doc,
		}
	}
	return out
}

// SQLType names the DuckDB type a column has in the warehouse.
func SQLType(t arrow.DataType) string {
	switch t.ID() {
	case arrow.STRING:
		return "VARCHAR"
	case arrow.TIMESTAMP:
		return "TIMESTAMPTZ"
	case arrow.DATE32:
		return "DATE"
	case arrow.INT32:
		return "INTEGER"
	case arrow.INT64:
		return "BIGINT"
	case arrow.FLOAT64:
		return "DOUBLE"
	case arrow.BOOL:
		return "BOOLEAN"
	case arrow.LIST:
		return SQLType(t.(*arrow.ListType).Elem()) + "[]"
	}
	return strings.ToUpper(t.String())
}

// Dictionary formats accepted by WriteDictionary.
const (
	FormatTable    = "table"
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
)

// WriteDictionary writes the data dictionary of the activities table in format: an aligned text
// table, a Markdown table or a JSON document {"version":…, "columns":[…]}.
func WriteDictionary(w io.Writer, format string) error {
	return ActivitiesTable.WriteDictionary(w, format)
}

// WriteDictionary writes the table's data dictionary in format, as the package's WriteDictionary.
func (t Table) WriteDictionary(w io.Writer, format string) error {
	entries := t.Dictionary()
	switch format {
	case FormatTable, "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "COLUMN\tTYPE\tNULL\tSOURCE\tFALLBACK\tDOC")
		for _, e := range entries {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.Column, e.Type, yesNo(e.Nullable), e.Source, dash(e.Fallback), e.Doc)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write dictionary: %w", err)
		}
		return nil
	case FormatMarkdown:
		var b strings.Builder
		writeMarkdownTable(&b, entries)
		if _, err := io.WriteString(w, b.String()); err != nil {
			return fmt.Errorf("write dictionary: %w", err)
		}
		return nil
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		doc := struct {
			Version int               `json:"version"`
			Columns []DictionaryEntry `json:"columns"`
		}{t.Version, entries}
		if err := enc.Encode(doc); err != nil {
			return fmt.Errorf("write dictionary: %w", err)
		}
		return nil
	}
	return fmt.Errorf("write dictionary: unknown format %q (use table, markdown or json)", format)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func mdCell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func writeMarkdownTable(b *strings.Builder, entries []DictionaryEntry) {
	b.WriteString("| column | type | null | JSON source | fallback | doc |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for _, e := range entries {
		fb := ""
		if e.Fallback != "" {
			fb = "`" + e.Fallback + "`"
		}
		src := e.Source
		if !strings.HasPrefix(src, "(") { // "(whole record)" is prose, not a path
			src = "`" + src + "`"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s | %s |\n",
			e.Column, e.Type, yesNo(e.Nullable), mdCell(src), mdCell(fb), mdCell(e.Doc))
	}
}

// DocPage renders docs/schema.md: the data dictionary, what is rejected and why, and the UTC rule.
// A golden test keeps the checked-in page equal to it.
func DocPage() string {
	var b strings.Builder
	fmt.Fprintf(&b, `# The activities schema (version %d)

<!-- Generated from schema.Columns and schema.RejectReasons by the schema package's tests:
     go test ./schema -run TestDocPage -update -->

Every activity is one row of the `+"`activities`"+` table in `+"`<warehouse>/mcasload.duckdb`"+` and of the
Parquet dataset `+"`<warehouse>/parquet/activities/day=YYYY-MM-DD/*.parquet`"+`, with these columns in this
order. `+"`mcasload schema`"+` prints the same table (`+"`--format markdown|json`"+` for machines).

`, Version)
	writeMarkdownTable(&b, Dictionary())
	b.WriteString(`
## How values are read

- Keys match with their exact case. Records can carry keys that differ only by case
  (` + "`rawDataJson.Level` and `rawDataJson.level`" + `); both load, and only the exact key named above is read.
  When a key repeats, the last one wins.
- Unknown fields are ignored by the columns and kept in ` + "`raw`" + `. Missing or null objects
  (` + "`user`, `location`, `mainInfo`" + ` …) give NULL columns.
- ` + "`fallback`" + ` is used when the source is absent, null or of the wrong type.
- A typed field holding a value of the wrong type (` + "`\"latitude\": \"north\"`, `\"isSuccess\": \"yes\"`" + `, an
  object where a string belongs) is stored as NULL, the record still loads with ` + "`raw`" + ` intact, and the
  field is counted as a type error (per column) in the run summary.
- Numbers: ` + "`timestamp`, `created`, `appId`, `saasId` and `location.category`" + ` accept integers, numeric
  strings (` + "`\"1626197184418\"`" + `) and floats with an integral value (` + "`1626197184418.0`" + `);
  ` + "`latitude`/`longitude`" + ` accept numbers and numeric strings.
- ` + "`ip_category`" + ` is the name of ` + "`location.category`" + `: ` + categoryList() + `. ` + "`0`" + ` (NONE) is
  NULL; any other number is stored as its decimal text so nothing is lost.
- ` + "`objects`" + ` lists the ` + "`name`" + ` of each element of ` + "`mainInfo.eventObjects`" + ` in order; elements
  that are null or have no name are left out; an absent array is NULL, an empty one is an empty list.
- ` + "`raw`" + ` is the record byte for byte as received (for NDJSON: the line without its line ending),
  however large its fields.
- ` + "`parameters`" + ` is the text of ` + "`rawDataJson.Parameters`" + ` byte for byte when it is an array (the
  Exchange cmdlet parameters of inbox rules, mailbox settings and transport rules), so investigations
  read it without touching the wide ` + "`raw`" + `; NULL when absent or null, and NULL with a type error
  when it is not an array. Query it as JSON: ` + "`from_json(parameters, '[{\"Name\":\"VARCHAR\",\"Value\":\"VARCHAR\"}]')`" + `.
  Added in schema version 2: warehouses of version 1 are upgraded when a writer opens them (the
  column is filled from ` + "`raw`" + `), and readers of an unmigrated version 1 Parquet folder compute it
  from ` + "`raw`" + `.
- ` + "`modified_properties`" + ` is the text of ` + "`rawDataJson.ModifiedProperties`" + ` byte for byte when it is
  an array (what an Entra ID audit record changed: ` + "`[{\"Name\":…,\"NewValue\":…,\"OldValue\":…}]`" + `), with
  the same rules as ` + "`parameters`" + `. ` + "`aws_region`" + ` is ` + "`rawDataJson.awsRegion`" + ` (AWS CloudTrail),
  ` + "`mailbox_owner`" + ` is ` + "`rawDataJson.MailboxOwnerUPN`" + ` as received and ` + "`logon_type`" + ` is
  ` + "`rawDataJson.LogonType`" + ` (0 the owner, 1 an administrator, 2 a delegate; a number or a numeric
  string) of Exchange mailbox audit records. They are narrow copies of what investigations read from
  ` + "`raw`" + `: a filter on them never decompresses ` + "`raw`" + `. Added in schema version 4, filled from ` + "`raw`" + `
  the same way when a writer opens an older warehouse; readers of older data compute them from ` + "`raw`" + `.

## Times are UTC

` + "`ts` and `created`" + ` are ` + "`TIMESTAMPTZ`" + ` holding the API's epoch milliseconds; ` + "`day`" + ` is the
calendar day of ` + "`ts`" + ` in UTC (a record at 23:59:59.999Z belongs to that day, one at 00:00:00.000Z to
the next) and names the Parquet partition. The warehouse sets the session time zone to UTC, so a
laptop's zone never moves a row to another day; late arrivals (` + "`created`" + ` long after ` + "`ts`" + `) land
in the day they happened.

## What is rejected

A record is rejected only when it cannot be a row. It goes, with its raw text and the reason, to the
` + "`rejected_activities`" + ` table and ` + "`<warehouse>/rejected/`" + `; the rest of its page or file loads, and the
run ends with exit code 3. A reason is a stable code, then ` + "`: `" + ` and a detail (the line number is
kept separately for NDJSON input). The checks run in this order:

| code | when |
|---|---|
`)
	for _, r := range RejectReasons {
		fmt.Fprintf(&b, "| `%s` | %s |\n", r.Code, mdCell(r.Doc))
	}
	b.WriteString(`
Everything else loads: unknown fields, case-colliding keys, missing or null objects, huge fields, and
wrong-typed fields (as NULL, counted).
`)
	return b.String()
}

func categoryList() string {
	parts := make([]string, 0, len(IPCategoryNames))
	for i := 1; i <= len(IPCategoryNames); i++ {
		parts = append(parts, fmt.Sprintf("%d %s", i, IPCategoryNames[i]))
	}
	return strings.Join(parts, ", ")
}
