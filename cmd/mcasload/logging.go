package main

import (
	"io"
	"log/slog"
	"strings"

	"github.com/urfave/cli/v2"
)

// commonFlags are accepted by every subcommand (and before it); each call makes new flag values
// because urfave/cli keeps parse state inside a flag.
func commonFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{
			Name:    "config",
			Usage:   "read flag values from `FILE` (JSON object or key = value lines; keys are flag names)",
			EnvVars: []string{"MCAS_CONFIG"},
		},
		&cli.StringFlag{Name: "log-format", Value: "text", Usage: "log format: text or json", EnvVars: []string{"MCAS_LOG_FORMAT"}},
		&cli.StringFlag{Name: "log-level", Value: "info", Usage: "log level: debug, info, warn, error", EnvVars: []string{"MCAS_LOG_LEVEL"}},
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
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, usageErrorf("unknown --log-format %q: use text or json", c.String("log-format"))
	}
}

// logger returns the logger for a running command (logs go to stderr).
func (e *env) logger(c *cli.Context) (*slog.Logger, error) {
	l, err := newLogger(c, e.stderr)
	if err != nil {
		return nil, err
	}
	return l, nil
}

// warehouseFlag is the --warehouse flag every command that reads or writes the warehouse takes.
func warehouseFlag() *cli.StringFlag {
	return &cli.StringFlag{
		Name:    "warehouse",
		Aliases: []string{"w"},
		Value:   "mcasload-warehouse",
		Usage:   "warehouse `DIR` (DuckDB file, Parquet dataset, rejects)",
		EnvVars: []string{"MCAS_WAREHOUSE"},
	}
}

// parquetFlag is the --parquet flag of every reader that can work on a bare Parquet dataset
// (query, export, report) instead of a warehouse.
func parquetFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "parquet", Usage: "read the Parquet dataset in `DIR` (day=YYYY-MM-DD/*.parquet) instead of a warehouse"}
}
