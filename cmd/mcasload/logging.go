package main

import (
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/progress"
)

// commonFlags are accepted by every subcommand (and before it); each call makes new flag values
// because urfave/cli keeps parse state inside a flag.
func commonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "config", Usage: "read flag values from the TOML `FILE` (keys are flag names; a table per command and per profile; docs/configuration.md)"},
		&cli.StringFlag{Name: "profile", Usage: "use the config file's [profile.`NAME`] table (one per tenant) over its other values"},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json (json: durations in seconds, and the summary and errors as JSON too)"},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn, error"},
	}
}

// addCommonFlags appends the common flags to every command that does not define them itself.
func addCommonFlags(cmds []*cli.Command) {
	for _, c := range cmds {
		have := map[string]bool{}
		for _, f := range c.Flags {
			have[f.Names()[0]] = true
		}
		for _, f := range commonFlags() {
			if !have[f.Names()[0]] {
				c.Flags = append(c.Flags, f)
			}
		}
		addCommonFlags(c.Subcommands)
	}
}

// newLogger builds the logger the flags ask for, writing to w.
func newLogger(c *cli.Context, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(c.String("log-level")) {
	case "debug":
		level = slog.LevelDebug
	case "info", "":
		level = slog.LevelInfo
	case "warn", "warning":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, usageErrorf("unknown --log-level %q: use debug, info, warn or error", c.String("log-level"))
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(c.String("log-format")) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return jsonLogger(w, level), nil
	default:
		return nil, usageErrorf("unknown --log-format %q: use text or json", c.String("log-format"))
	}
}

// jsonLogger writes JSON records with every duration in seconds (a number), which log pipelines
// read without knowing Go's units; the summary and a failing command's error use it too.
func jsonLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: durationsInSeconds}))
}

func durationsInSeconds(_ []string, a slog.Attr) slog.Attr {
	if a.Value.Kind() == slog.KindDuration {
		a.Value = slog.Float64Value(a.Value.Duration().Seconds())
	}
	return a
}

// logger returns the logger for a running command. Logs go to stderr through the console, which
// keeps them off a live progress line on a terminal.
func (e *env) logger(c *cli.Context) (*slog.Logger, error) {
	return newLogger(c, e.errOut())
}

// errOut is the command's stderr as the log and the progress line share it.
func (e *env) errOut() *progress.Console {
	if e.con == nil {
		e.con = progress.NewConsole(e.stderr, progress.IsTerminal(e.stderr))
	}
	return e.con
}

// warehouseFlag is the --warehouse flag every command that reads or writes the warehouse takes.
func warehouseFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:    "warehouse",
		Aliases: []string{"w"},
		Value:   "mcasload-warehouse",
		Usage:   "warehouse `DIR` (DuckDB file, Parquet dataset, rejects)",
	}
}

// parquetFlag is the --parquet flag of every reader that can work on a bare Parquet dataset
// (query, export, report) instead of a warehouse.
func parquetFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "parquet", Usage: "read the Parquet dataset in `DIR` (day=YYYY-MM-DD/*.parquet) instead of a warehouse"}
}
