package main

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/queries"
)

// domainsCommand lists the sign-in domains and which of them the investigations treat as the
// tenant's own (forwarding to them, sharing with them is internal).
func (e *env) domainsCommand() *cli.Command {
	return &cli.Command{
		Name:  "domains",
		Usage: "list the tenant's own domains: those its users sign in with",
		Description: "The tenant's own domains are the domains of the sign-in names seen in successful sign-ins\n" +
			"of at least min_users users (default 5) in the 30 days up to the last activity; mail-forwarding\n" +
			"and mass-share treat them and their subdomains as internal. The allow-list's [tenant] section\n" +
			"changes min_users and adds (own_domains) or removes (not_own_domains) domains; see\n" +
			"docs/allow-list.md. Every sign-in domain is listed, with why it is own or not.",
		Flags: append(readerFlags(), allowListFlag()),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("unexpected arguments %v", c.Args().Slice())
			}
			format, err := output.ParseFormat(c.String("format"))
			if err != nil {
				return usageErrorf("--format: %v", err)
			}
			return e.withSession(c, readScope{}, func(ctx context.Context, s *queries.Session) (array.RecordReader, *output.Meta, error) {
				return s.Domains(ctx)
			}, format)
		},
	}
}
