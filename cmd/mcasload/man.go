package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"
)

// manCommand prints the manual page, generated from the command tree (urfave/cli's ToMan, in
// section 1), so it documents exactly the commands and flags of this binary. `make man` writes it
// to bin/mcasload.1.
func (e *env) manCommand() *cli.Command {
	return &cli.Command{
		Name:  "man",
		Usage: "print the manual page (roff): mcasload man | man -l -",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("man takes no arguments, got %q", c.Args().First())
			}
			page, err := c.App.ToManWithSection(1)
			if err != nil {
				return fmt.Errorf("render manual page: %w", err)
			}
			_, err = io.WriteString(e.stdout, page)
			return err
		},
	}
}
