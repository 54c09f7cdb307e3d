package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/config"
)

// configCommand is `mcasload config check|convert`: check a config file against this binary's
// commands and flags, and turn a file in an older form into TOML.
func (e *env) configCommand() *cli.Command {
	fileArg := func(c *cli.Context) (string, error) {
		switch {
		case c.NArg() == 1:
			return c.Args().First(), nil
		case c.NArg() == 0 && e.getenv(envName("config")) != "":
			return e.getenv(envName("config")), nil
		}
		return "", usageErrorf("name one config file (or set MCAS_CONFIG)")
	}
	read := func(c *cli.Context) (*config.File, error) {
		path, err := fileArg(c)
		if err != nil {
			return nil, err
		}
		return readCheckedConfig(c.App, path)
	}
	return &cli.Command{
		Name:  "config",
		Usage: "check a config file, or convert one in the older key = value or JSON form to TOML",
		Description: "The config file (--config FILE or MCAS_CONFIG) is TOML: keys are flag names; top-level keys apply to every\n" +
			"command that has the flag, a [scan] or [query] table to that command, a [profile.NAME] table (chosen with\n" +
			"--profile NAME) over both. See docs/configuration.md.",
		Subcommands: []*cli.Command{
			{
				Name:      "check",
				Usage:     "check every key and table of a config file; print its profiles",
				ArgsUsage: "[FILE]",
				Action: func(c *cli.Context) error {
					file, err := read(c)
					if err != nil {
						return err
					}
					var profiles []string
					if p := file.Root.Table("profile"); p != nil {
						profiles = p.TableNames()
					}
					fmt.Fprintf(e.stdout, "%s: ok (%s)", file.Path, file.Format)
					if len(profiles) > 0 {
						fmt.Fprintf(e.stdout, "; profiles: %s", strings.Join(profiles, ", "))
					}
					fmt.Fprintln(e.stdout)
					if file.Format != config.TOML {
						fmt.Fprintf(e.stdout, "convert it: mcasload config convert %s > %s\n", file.Path, strings.TrimSuffix(file.Path, filepath.Ext(file.Path))+".toml")
					}
					return nil
				},
			},
			{
				Name:      "convert",
				Usage:     "print a config file as TOML (same values, same meaning)",
				ArgsUsage: "[FILE]",
				Action: func(c *cli.Context) error {
					file, err := read(c)
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "# converted by mcasload config convert from %s\n", file.Path)
					return config.WriteTOML(e.stdout, file.Root)
				},
			},
		},
	}
}
