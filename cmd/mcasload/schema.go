package main

import (
	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/schema"
)

// schemaCommand prints the data dictionary of the activities table: column, type, JSON source,
// fallback and meaning, as docs/schema.md publishes it.
func (e *env) schemaCommand() *cli.Command {
	return &cli.Command{
		Name:  "schema",
		Usage: "print the data dictionary of the activities table",
		Description: "Lists every column of the activities table (DuckDB and Parquet) with its type, the JSON " +
			"field of the API record it comes from and the fallback used when that field is absent. " +
			"docs/schema.md also says which records are rejected and why.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "format", Value: schema.FormatTable, Usage: "output: table, markdown or json"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("schema takes no arguments, got %q", c.Args().First())
			}
			switch f := c.String("format"); f {
			case schema.FormatTable, schema.FormatMarkdown, schema.FormatJSON:
				return schema.WriteDictionary(e.stdout, f)
			default:
				return usageErrorf("unknown --format %q: use table, markdown or json", f)
			}
		},
	}
}
