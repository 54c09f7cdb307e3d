package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/config"
	"github.com/mcasload/mcasload/internal/progress"
)

// env is what a command needs from the process, injected so the CLI runs in-process in tests.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string

	// Per run: where each flag of each running command got its value, the config file read,
	// stderr shared by the log and the progress line, and whether logs are JSON.
	sources map[*cli.Context]map[string]source
	config  *config.File
	con     *progress.Console
	logJSON bool
}

// Run runs the CLI with args (args[0] is the program name) and returns the exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv}
	return e.run(ctx, args)
}

// run runs one command line on a copy of e, so a command that runs others (demo) keeps its own
// per-run state.
func (e *env) run(ctx context.Context, args []string) int {
	r := *e
	r.sources = map[*cli.Context]map[string]source{}
	r.config, r.con = nil, nil
	r.logJSON = jsonRequested(args, r.getenv)
	app := r.newApp(r.commands())
	return r.runApp(ctx, flagsFirst(app, args), app)
}

func (e *env) runApp(ctx context.Context, args []string, app *cli.App) int {
	var unknown string
	app.CommandNotFound = func(_ *cli.Context, name string) { unknown = name }
	err := app.RunContext(ctx, args)
	if err == nil && unknown != "" {
		err = &exitError{code: exitUsage, err: fmt.Errorf("unknown command %q", unknown), hint: "run `mcasload --help` for the list of commands"}
	}
	if err == nil {
		return exitOK
	}
	code := exitCodeOf(err)
	if code == exitFailure && ctx.Err() != nil {
		// A failure after SIGINT/SIGTERM is the signal's doing (a query interrupted, a read of
		// stdin given up): a stop, not a fault. Writers say what they committed themselves.
		hint := "rerun the same command"
		var ee *exitError
		if errors.As(err, &ee) && ee.hint != "" {
			hint = ee.hint
		}
		err = withCode(exitStopped, fmt.Errorf("stopped by a signal: %w", err), hint)
		code = exitStopped
	}
	var ee *exitError
	errors.As(err, &ee)
	hint := ""
	if ee != nil {
		hint = ee.hint
	}
	if traced := e.tracedHint(err.Error()); traced != "" {
		hint = strings.TrimPrefix(hint+"; "+traced, "; ")
	}
	e.reportError(err, hint, code)
	return code
}

// reportError prints a failed command's error and hint on stderr: two lines of text, or one
// JSON record when the logs are JSON, so a log pipeline reads the failure like any record.
func (e *env) reportError(err error, hint string, code int) {
	if e.logJSON {
		attrs := []any{"exit_code", code}
		if hint != "" {
			attrs = append(attrs, "hint", hint)
		}
		jsonLogger(e.errOut(), slog.LevelInfo).Error(err.Error(), attrs...)
		return
	}
	fmt.Fprintf(e.errOut(), "mcasload: %v\n", err)
	if hint != "" {
		fmt.Fprintf(e.errOut(), "hint: %s\n", hint)
	}
}

// jsonRequested tells, before flags are parsed, whether the logs will be JSON, so that an error
// in the flags themselves is reported as JSON too.
func jsonRequested(args []string, getenv func(string) string) bool {
	for i, a := range args {
		switch {
		case a == "--":
			return false
		case a == "--log-format" || a == "-log-format":
			return i+1 < len(args) && strings.EqualFold(args[i+1], "json")
		case strings.HasPrefix(a, "--log-format=") || strings.HasPrefix(a, "-log-format="):
			_, v, _ := strings.Cut(a, "=")
			return strings.EqualFold(v, "json")
		}
	}
	return strings.EqualFold(getenv(envName("log-format")), "json")
}

// newApp builds the app around cmds (e.commands(); tests pass their own).
func (e *env) newApp(cmds []*cli.Command) *cli.App {
	app := &cli.App{
		Name:                 "mcasload",
		Usage:                "load Defender for Cloud Apps activities into DuckDB and Parquet, and investigate them",
		Reader:               e.stdin,
		Writer:               e.stdout,
		ErrWriter:            e.stderr,
		EnableBashCompletion: false,
		// `mcasload help CMD` is helpCommand's: urfave/cli's own would add a help subcommand to
		// every command, taking over arguments such as a file named "help".
		HideHelpCommand: true,
		ExitErrHandler:  func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return &exitError{code: exitUsage, err: err}
		},
		// The help flag by hand: urfave/cli adds it only when the app has no "help" command of its
		// own, and without it `mcasload --help` was a flag error.
		Flags:    append(commonFlags(), &cli.BoolFlag{Name: "version", Usage: "print the version, commit, build date and schema version"}, cli.HelpFlag),
		Commands: cmds,
		Action: func(c *cli.Context) error {
			if c.Bool("version") {
				fmt.Fprint(e.stdout, versionText())
				return nil
			}
			if c.NArg() > 0 {
				return &exitError{code: exitUsage, err: fmt.Errorf("unknown command %q", c.Args().First()), hint: "run `mcasload --help` for the list of commands"}
			}
			// Help goes to stdout only when asked for (--help, mcasload help).
			return &exitError{code: exitUsage, err: errors.New("give a command"), hint: "run `mcasload --help` for the list of commands"}
		},
	}
	addCommonFlags(app.Commands)
	markUsageErrors(app.Commands)
	requireFlags(app.Commands)
	requireSubcommands(app.Commands)
	wireEnv(app.Flags)
	e.wireCommands(app.Commands)
	return app
}

// commands lists every subcommand; each lives in its own file.
func (e *env) commands() []*cli.Command {
	return []*cli.Command{
		e.helpCommand(), e.versionCommand(), e.completionCommand(), e.completeCmd(), e.manCommand(),
		e.loadCommand(),
		e.queryCommand(), e.sqlCommand(), e.domainsCommand(),
		e.statusCommand(),
		e.verifyCommand(),
		e.repairCommand(),
		e.pruneCommand(),
		e.optimizeCommand(),
		e.migrateCommand(),
		e.demoCommand(),
		e.checkCommand(),
		e.scanCommand(), e.stateCommand(), e.auditCommand(), e.streamCommand(), e.compareSourcesCommand(),
		e.schemaCommand(), e.configCommand(),
		e.simCommand(),
		e.exportCommand(), e.reportCommand(),
		e.detectCommand(), e.findingsCommand(),
		e.pushCommand(), e.syncCommand(),
	}
}

func (e *env) versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the version, commit, build date and schema version",
		Action: func(c *cli.Context) error {
			fmt.Fprint(e.stdout, versionText())
			return nil
		},
	}
}

// markUsageErrors makes a bad flag or argument of any subcommand exit with exitUsage.
func markUsageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		if c.OnUsageError == nil {
			c.OnUsageError = func(_ *cli.Context, err error, _ bool) error {
				return &exitError{code: exitUsage, err: err, hint: "see `mcasload " + c.Name + " --help`"}
			}
		}
		markUsageErrors(c.Subcommands)
	}
}

// requireFlags checks the flags a command marks Required itself, after the config file and the
// environment gave theirs: urfave/cli checks them before either, and answers a missing one with
// the help on stdout and exit 1; here it is a usage error (exit 2) on stderr naming the flag.
func requireFlags(cmds []*cli.Command) {
	for _, c := range cmds {
		var names []string
		for _, f := range c.Flags {
			if sf, ok := f.(*cli.StringFlag); ok && sf.Required {
				sf.Required = false
				names = append(names, sf.Name)
			}
		}
		if action := c.Action; len(names) > 0 && action != nil {
			name := c.Name
			c.Action = func(ctx *cli.Context) error {
				for _, f := range names {
					if ctx.String(f) == "" {
						return &exitError{code: exitUsage, err: fmt.Errorf("%s: --%s is required", name, f), hint: "see `mcasload " + name + " --help`"}
					}
				}
				return action(ctx)
			}
		}
		requireFlags(c.Subcommands)
	}
}

// requireSubcommands makes a command that only groups others (state, config) a usage error
// when run without one, instead of urfave/cli's help on stdout with exit 0.
func requireSubcommands(cmds []*cli.Command) {
	for _, c := range cmds {
		if len(c.Subcommands) > 0 && c.Action == nil {
			var names []string
			for _, sub := range c.Subcommands {
				if !sub.Hidden {
					names = append(names, sub.Name)
				}
			}
			name := c.Name
			c.Action = func(ctx *cli.Context) error {
				if ctx.NArg() > 0 {
					return &exitError{code: exitUsage, err: fmt.Errorf("%s: unknown subcommand %q; accepted: %s", name, ctx.Args().First(), strings.Join(names, ", ")), hint: "see `mcasload " + name + " --help`"}
				}
				return &exitError{code: exitUsage, err: fmt.Errorf("%s: give a subcommand: %s", name, strings.Join(names, ", ")), hint: "see `mcasload " + name + " --help`"}
			}
		}
		requireSubcommands(c.Subcommands)
	}
}

// isUsageError reports errors urfave/cli raises for bad flags or arguments.
func isUsageError(err error) bool {
	var ue interface{ UsageError() bool }
	return errors.As(err, &ue) && ue.UsageError()
}
