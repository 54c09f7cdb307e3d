package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/queries"
)

func (e *env) sqlCommand() *cli.Command {
	return &cli.Command{
		Name:      "sql",
		Usage:     "run one read-only SQL query over the warehouse",
		ArgsUsage: `"SELECT …" | -`,
		Description: "Runs one SELECT (or WITH, DESCRIBE, SUMMARIZE, EXPLAIN) over the views activities,\n" +
			"events (the normalized events with action_class, which investigations read), impersonations,\n" +
			"tenant_domains, own_domains and rejected_activities.\n" +
			"The session cannot write, attach, install, read files outside the warehouse or change\n" +
			"settings. \"-\" reads the query from stdin. Every row has a tenant column; with\n" +
			"--tenant-label the views hold only those tenants' rows (GROUP BY tenant keeps them apart).",
		Flags:  append(readerFlags(), allowListFlag()),
		Action: e.runSQL,
	}
}

func (e *env) runSQL(c *cli.Context) error {
	if c.NArg() == 0 {
		return usageErrorf(`give the query as one argument: mcasload sql "SELECT count(*) FROM activities"`)
	}
	for _, a := range c.Args().Tail() {
		if strings.HasPrefix(a, "-") {
			return usageErrorf("flag %s after the query: put flags before it (mcasload sql --format csv \"SELECT …\")", a)
		}
	}
	text := strings.Join(c.Args().Slice(), " ")
	if text == "-" {
		b, err := readAllWithin(c.Context, e.stdin)
		if err != nil {
			return fmt.Errorf("read the query from stdin: %w", err)
		}
		text = string(b)
	}
	if strings.TrimSpace(text) == "" {
		return usageErrorf("the query is empty")
	}
	format, err := output.ParseFormat(c.String("format"))
	if err != nil {
		return usageErrorf("--format: %v", err)
	}
	return e.withSession(c, readScope{cover: true}, func(ctx context.Context, s *queries.Session) (array.RecordReader, *output.Meta, error) {
		rdr, err := s.SQL(ctx, text)
		return rdr, &output.Meta{Command: "sql"}, err
	}, format)
}

// readAllWithin reads r to its end, giving up when ctx is done first (a signal while stdin is
// quiet); the read left behind ends with the process.
func readAllWithin(ctx context.Context, r io.Reader) ([]byte, error) {
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		b, err := io.ReadAll(r)
		done <- result{b, err}
	}()
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case res := <-done:
		return res.b, res.err
	}
}
