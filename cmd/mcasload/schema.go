package main

import (
	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/schema"
)

// schemaTables are the tables `mcasload schema --table` documents.
var schemaTables = map[string]schema.Table{"activities": schema.ActivitiesTable, "cloud_app_events": schema.CloudAppEventsTable}

// schemaCommand prints the data dictionary of a table (activities by default, or the stream's
// cloud_app_events): column, type, JSON source, fallback and meaning, as docs/schema.md and
// docs/cloud-app-events.md publish them.
func (e *env) schemaCommand() *cli.Command {
	return &cli.Command{
		Name:  "schema",
		Usage: "print the data dictionary of the activities table (or, with --table, of cloud_app_events)",
		Description: "Lists every column of the table (DuckDB and Parquet) with its type, the JSON " +
			"field of the record it comes from and the fallback used when that field is absent. " +
			"docs/schema.md and docs/cloud-app-events.md also say which records are rejected and why.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: schema.FormatTable, Usage: "output: table, markdown or json"},
			&cli.StringFlag{Name: "table", Value: "activities", Usage: "the `TABLE`: activities (the activities API) or cloud_app_events (the Streaming API, mcasload stream)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("schema takes no arguments, got %q", c.Args().First())
			}
			tb, ok := schemaTables[c.String("table")]
			if !ok {
				return usageErrorf("unknown --table %q: use activities or cloud_app_events", c.String("table"))
			}
			switch f := c.String("format"); f {
			case schema.FormatTable, schema.FormatMarkdown, schema.FormatJSON:
				return tb.WriteDictionary(e.stdout, f)
			default:
				return usageErrorf("unknown --format %q: use table, markdown or json", f)
			}
		},
	}
}
