package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/config"
)

// helpCommand is `mcasload help [COMMAND [SUBCOMMAND]]`: the help of the app or of a command, on
// stdout, as `mcasload COMMAND --help` prints it.
func (e *env) helpCommand() *cli.Command {
	return &cli.Command{
		Name:      "help",
		Aliases:   []string{"h"},
		Usage:     "show the commands, or the help of one: mcasload help scan, mcasload help query mass-download",
		ArgsUsage: "[COMMAND [SUBCOMMAND]]",
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowAppHelp(c)
			}
			cmds := c.App.Commands
			var path []string
			for _, name := range c.Args().Slice() {
				i := slices.IndexFunc(cmds, func(x *cli.Command) bool { return x.HasName(name) && !x.Hidden })
				if i < 0 {
					var names []string
					for _, x := range cmds {
						if !x.Hidden {
							names = append(names, x.Name)
						}
					}
					msg := fmt.Errorf("no command %q", strings.Join(append(path, name), " "))
					hint := "mcasload help lists the commands"
					if s := config.Suggest(name, names); s != "" {
						hint = fmt.Sprintf("did you mean %q? %s", strings.Join(append(path, s), " "), hint)
					}
					return withCode(exitUsage, msg, hint)
				}
				path = append(path, cmds[i].Name)
				cmds = cmds[i].Subcommands
			}
			args := append(append([]string{"mcasload"}, path...), "--help")
			if code := e.run(c.Context, args); code != exitOK {
				return cli.Exit("", code)
			}
			return nil
		},
	}
}
