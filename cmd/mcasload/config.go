package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
)

// Every flag of every subcommand can come from, in order of precedence: the command line, an
// MCAS_<FLAG_NAME> environment variable, the config file (--config / MCAS_CONFIG), the default.

// envName is the environment variable a flag can be set from: --page-size → MCAS_PAGE_SIZE.
func envName(flag string) string {
	return "MCAS_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// addEnvVars gives every flag of cmds (and their subcommands) its MCAS_* variable.
func addEnvVars(cmds []*cli.Command) {
	for _, c := range cmds {
		for _, f := range c.Flags {
			name := f.Names()[0]
			if name == "config" {
				continue
			}
			ev := envName(name)
			switch f := f.(type) {
			case *cli.StringFlag:
				f.EnvVars = appendOnce(f.EnvVars, ev)
			case *cli.StringSliceFlag:
				f.EnvVars = appendOnce(f.EnvVars, ev)
			case *cli.IntFlag:
				f.EnvVars = appendOnce(f.EnvVars, ev)
			case *cli.Int64Flag:
				f.EnvVars = appendOnce(f.EnvVars, ev)
			case *cli.Float64Flag:
				f.EnvVars = appendOnce(f.EnvVars, ev)
			case *cli.BoolFlag:
				f.EnvVars = appendOnce(f.EnvVars, ev)
			case *cli.DurationFlag:
				f.EnvVars = appendOnce(f.EnvVars, ev)
			}
		}
		addEnvVars(c.Subcommands)
	}
}

func appendOnce(list []string, v string) []string {
	for _, s := range list {
		if s == v {
			return list
		}
	}
	return append(list, v)
}

// loadConfig reads a config file: either a JSON object {"flag-name": value, …} or lines of
// `flag-name = value` (# starts a comment). List values repeat the key or use a JSON array.
func loadConfig(path string) (map[string][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	out := map[string][]string{}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && trimmed[0] == '{' {
		var m map[string]any
		if err := json.Unmarshal(trimmed, &m); err != nil {
			return nil, fmt.Errorf("parse config %s: %w", path, err)
		}
		for k, v := range m {
			switch v := v.(type) {
			case []any:
				for _, x := range v {
					out[k] = append(out[k], fmt.Sprint(x))
				}
			case float64:
				out[k] = []string{strings.TrimSuffix(fmt.Sprintf("%f", v), ".000000")}
			default:
				out[k] = []string{fmt.Sprint(v)}
			}
		}
		return out, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("parse config %s line %d: want `flag-name = value`", path, line)
		}
		k = strings.TrimPrefix(strings.TrimSpace(k), "--")
		v = strings.Trim(strings.TrimSpace(v), `"`)
		out[k] = append(out[k], v)
	}
	return out, sc.Err()
}

// applyConfig sets every flag of the running command that the command line and environment left
// unset from the config file named by --config, and refuses keys the command does not know.
func applyConfig(c *cli.Context) error {
	path := c.String("config")
	if path == "" {
		return nil
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return usageErrorf("%v", err)
	}
	known := map[string]bool{}
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			known[n] = true
		}
	}
	for k, vals := range cfg {
		if !known[k] {
			// A shared config file serves several subcommands; keys for others are fine.
			continue
		}
		if c.IsSet(k) {
			continue
		}
		for _, v := range vals {
			if err := c.Set(k, v); err != nil {
				return usageErrorf("config %s: set %s: %v", path, k, err)
			}
		}
	}
	return nil
}

// withConfig chains applyConfig before each command's own Before.
func withConfig(cmds []*cli.Command) {
	for _, cmd := range cmds {
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			if err := applyConfig(c); err != nil {
				return err
			}
			if before != nil {
				return before(c)
			}
			return nil
		}
		withConfig(cmd.Subcommands)
	}
}
