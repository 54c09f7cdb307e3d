package main

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/config"
)

// Every flag of every command can come from, in order of precedence: the command line (before or
// after the command name), an MCAS_<FLAG_NAME> environment variable, the config file (--config
// or MCAS_CONFIG): the selected --profile's table for the command, the profile's top level, the
// file's table for the command, the file's top level), the default. Each flag remembers where
// its value came from, so a value the command refuses is traced to its variable or file line.
//
// urfave/cli is told nothing about the variables (it would apply them before we could tell a
// value typed on the command line from one inherited from the environment); applySources sets
// them, and the help lists each flag's variable as urfave/cli would.

// notFromEnv are the flags that shape one command's output: a variable meant for `query` (say
// MCAS_FORMAT=csv) must not change what `status` prints, so they come only from the command line
// or a command's table in the config file.
var notFromEnv = map[string]bool{"format": true, "out": true, "wide": true, "max-width": true}

// notFromFile are flags a config file cannot hold: where one result goes, and the file itself.
var notFromFile = map[string]bool{"out": true, "config": true}

// onlyInTable are keys a config file may set only in a command's table, since commands accept
// different values for them (status has no csv).
var onlyInTable = map[string]bool{"format": true, "wide": true, "max-width": true}

// noSources are the commands that read no config file or variable: they describe the tool
// (help, version, completion, the man page), and a broken config file must not stop them.
var noSources = map[string]bool{"help": true, "version": true, "completion": true, completeCommand: true, "man": true, "config": true}

// envName is the environment variable a flag can be set from: --page-size → MCAS_PAGE_SIZE.
func envName(flag string) string {
	return "MCAS_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// source is where a flag's value came from.
type source struct {
	env  string // the variable, when from the environment
	file string // the config file, when from it
	line int
	key  string // the key with its table, "scan.parallel"
}

func (s source) String() string {
	switch {
	case s.env != "":
		return "the environment variable " + s.env
	case s.file != "" && s.line > 0:
		return fmt.Sprintf("%s line %d (%s)", s.file, s.line, s.key)
	case s.file != "":
		return fmt.Sprintf("%s (%s)", s.file, s.key)
	}
	return "the command line"
}

// settable reports whether f can come from the environment or a file: flags of plain types. A
// GenericFlag (the simulator's --token) holds a secret and comes only from the command line.
func settable(f cli.Flag) bool {
	switch f.(type) {
	case *cli.StringFlag, *cli.StringSliceFlag, *cli.IntFlag, *cli.Int64Flag, *cli.Uint64Flag,
		*cli.Float64Flag, *cli.BoolFlag, *cli.DurationFlag:
		return true
	}
	return false
}

// wireEnv strips urfave/cli's own variables from every flag of cmds and names the MCAS_* one in
// the flag's help instead.
func wireEnv(flags []cli.Flag) {
	for _, f := range flags {
		name := f.Names()[0]
		hint := ""
		if !notFromEnv[name] && settable(f) {
			hint = " (env $" + envName(name) + ")"
		}
		switch f := f.(type) {
		case *cli.StringFlag:
			f.EnvVars, f.Usage = nil, f.Usage+hint
		case *cli.StringSliceFlag:
			f.EnvVars, f.Usage = nil, f.Usage+hint
		case *cli.IntFlag:
			f.EnvVars, f.Usage = nil, f.Usage+hint
		case *cli.Uint64Flag:
			f.EnvVars, f.Usage = nil, f.Usage+hint
		case *cli.Int64Flag:
			f.EnvVars, f.Usage = nil, f.Usage+hint
		case *cli.Float64Flag:
			f.EnvVars, f.Usage = nil, f.Usage+hint
		case *cli.BoolFlag:
			f.EnvVars, f.Usage = nil, f.Usage+hint
		case *cli.DurationFlag:
			f.EnvVars, f.Usage = nil, f.Usage+hint
		}
	}
}

// wireCommands prepares every command of cmds (and their subcommands) for applySources.
func (e *env) wireCommands(cmds []*cli.Command) {
	for _, cmd := range cmds {
		wireEnv(cmd.Flags)
		cmd.HideHelpCommand = true // `mcasload help CMD` instead of a "help" argument in every command
		if noSources[cmd.Name] {
			e.wireEnvOnly(cmd.Subcommands)
			continue
		}
		before := cmd.Before
		cmd.Before = func(c *cli.Context) error {
			if err := e.applySources(c); err != nil {
				return err
			}
			if before != nil {
				return before(c)
			}
			return nil
		}
		e.wireCommands(cmd.Subcommands)
	}
}

// wireEnvOnly prepares commands that read no sources: help only.
func (e *env) wireEnvOnly(cmds []*cli.Command) {
	for _, cmd := range cmds {
		wireEnv(cmd.Flags)
		cmd.HideHelpCommand = true
		e.wireEnvOnly(cmd.Subcommands)
	}
}

// flagText is the value of flag f in c as command-line text (one entry per list element).
func flagText(c *cli.Context, f cli.Flag) []string {
	name := f.Names()[0]
	switch f.(type) {
	case *cli.StringSliceFlag:
		return c.StringSlice(name)
	case *cli.BoolFlag:
		return []string{strconv.FormatBool(c.Bool(name))}
	case *cli.IntFlag:
		return []string{strconv.Itoa(c.Int(name))}
	case *cli.Int64Flag:
		return []string{strconv.FormatInt(c.Int64(name), 10)}
	case *cli.Uint64Flag:
		return []string{strconv.FormatUint(c.Uint64(name), 10)}
	case *cli.Float64Flag:
		return []string{strconv.FormatFloat(c.Float64(name), 'f', -1, 64)}
	case *cli.DurationFlag:
		return []string{c.Duration(name).String()}
	}
	return []string{c.String(name)}
}

// chain is c and its parents, innermost first, ending with the app's own context (urfave/cli
// wraps one more context without a command around it, which is left out).
func chain(c *cli.Context) []*cli.Context {
	var out []*cli.Context
	for _, x := range c.Lineage() {
		if x.Command != nil {
			out = append(out, x)
		}
	}
	return out
}

// commandPath is the names of the running command and its parents: ["query", "mass-download"].
func commandPath(c *cli.Context) []string {
	var path []string
	ch := chain(c)
	for i := len(ch) - 2; i >= 0; i-- { // the last is the app itself
		path = append(path, ch[i].Command.Name)
	}
	return path
}

// applySources gives every flag of the running command the value of the first of its sources
// that has one, and records where it came from.
func (e *env) applySources(c *cli.Context) error {
	if err := e.resolveFlags(c); err != nil {
		return err
	}
	e.logJSON = strings.EqualFold(c.String("log-format"), "json")
	return nil
}

func (e *env) resolveFlags(c *cli.Context) error {
	srcs := map[string]source{}
	e.sources[c] = srcs
	var unset []cli.Flag
	for _, f := range c.Command.Flags {
		from, ok, err := e.flagFromOutside(c, f)
		if err != nil {
			return err
		}
		if ok {
			srcs[f.Names()[0]] = from
		} else if settable(f) {
			unset = append(unset, f)
		}
	}
	path := c.String("config")
	if path == "" {
		if p := c.String("profile"); p != "" {
			return usageErrorf("--profile %s: no config file to read it from; pass --config FILE (or set MCAS_CONFIG)", p)
		}
		return nil
	}
	return e.flagsFromFile(c, path, unset, srcs)
}

// setFlag gives flag f of c the values vals, as if each were typed after it.
func setFlag(c *cli.Context, f cli.Flag, vals []string) error {
	for _, v := range vals {
		if err := c.Set(f.Names()[0], v); err != nil {
			return err
		}
	}
	return nil
}

// flagFromOutside sets f from the command line (where urfave/cli already put it, or a parent
// command's), else from its MCAS_* variable, and says where from; ok is false when neither has it.
func (e *env) flagFromOutside(c *cli.Context, f cli.Flag) (from source, ok bool, err error) {
	name := f.Names()[0]
	if c.IsSet(name) {
		return source{}, true, nil
	}
	// Given on the command line before the command name (mcasload --config x scan,
	// mcasload query --since 7d mass-download): the nearest parent that had it wins.
	if anc, from, ok := e.inherited(c, name); ok && settable(f) {
		if err := setFlag(c, f, flagText(anc, f)); err != nil {
			return from, false, usageErrorf("--%s: %v", name, err)
		}
		return from, true, nil
	}
	ev := envName(name)
	v := e.getenv(ev)
	switch {
	case v == "" || !settable(f):
		return source{}, false, nil
	case notFromEnv[name]:
		if len(c.Command.Subcommands) == 0 {
			fmt.Fprintf(e.errOut(), "mcasload: note: %s is not read: output flags come only from the command line or a command's table in the config file\n", ev)
		}
		return source{}, false, nil
	}
	vals := []string{v}
	if _, ok := f.(*cli.StringSliceFlag); ok {
		vals = strings.Split(v, ",")
	}
	if err := setFlag(c, f, vals); err != nil {
		return source{}, false, usageErrorf("%s=%q is not a valid --%s: %v", ev, v, name, err)
	}
	return source{env: ev}, true, nil
}

// flagsFromFile sets each flag of unset that the config file at path gives a value, from the
// most specific table that has it.
func (e *env) flagsFromFile(c *cli.Context, path string, unset []cli.Flag, srcs map[string]source) error {
	file, err := e.readConfig(c, path)
	if err != nil {
		return err
	}
	layers, err := configLayers(file, commandPath(c), c.String("profile"))
	if err != nil {
		return err
	}
	for _, f := range unset {
		name := f.Names()[0]
		if notFromFile[name] {
			continue
		}
		for _, layer := range layers {
			v, ok := layer.Keys[name]
			if !ok {
				continue
			}
			if err := setFlag(c, f, v.Values); err != nil {
				return withCode(exitUsage, fmt.Errorf("config %s line %d: %s = %s is not a valid --%s (%v)", file.Path, v.Line, v.Key, strings.Join(v.Values, ", "), name, err),
					"fix the value in the file, or override it with --"+name)
			}
			srcs[name] = source{file: file.Path, line: v.Line, key: v.Key}
			break
		}
	}
	return nil
}

// inherited finds the nearest parent (a parent command, or the app) where name was given on the
// command line, directly or inherited there in turn.
func (e *env) inherited(c *cli.Context, name string) (*cli.Context, source, bool) {
	ch := chain(c)
	for i, anc := range ch[1:] {
		flags := c.App.Flags
		if i < len(ch)-2 {
			flags = anc.Command.Flags
		}
		if !slices.ContainsFunc(flags, func(f cli.Flag) bool { return f.Names()[0] == name }) {
			continue
		}
		if srcs, ok := e.sources[anc]; ok { // a parent command: applySources ran for it
			if from, ok := srcs[name]; ok && from == (source{}) {
				return anc, from, true
			}
			continue
		}
		if anc.IsSet(name) { // the app's flags, which only the command line sets
			return anc, source{}, true
		}
	}
	return nil, source{}, false
}

// readConfig reads the config file once per run, checks every key and table in it against the
// command tree, and says once when it is in an older form.
func (e *env) readConfig(c *cli.Context, path string) (*config.File, error) {
	if e.config != nil && e.config.Path == path {
		return e.config, nil
	}
	file, err := readCheckedConfig(c.App, path)
	if err != nil {
		return nil, err
	}
	if file.Format != config.TOML {
		fmt.Fprintf(e.errOut(), "mcasload: note: %s is in the older %s form, still read; `mcasload config convert %s` prints it as TOML, which adds tables per command and --profile\n", path, file.Format, path)
	}
	e.config = file
	return file, nil
}

// readCheckedConfig reads the config file at path and checks every key and table in it against
// app's commands; every failure is a usage error.
func readCheckedConfig(app *cli.App, path string) (*config.File, error) {
	file, err := config.Read(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, withCode(exitUsage, err, "check --config (or MCAS_CONFIG)")
		}
		return nil, withCode(exitUsage, err, "see docs/configuration.md for the format")
	}
	if err := checkConfig(file, app.Commands, app.Flags); err != nil {
		return nil, withCode(exitUsage, err, "keys are flag names; tables are commands ([scan], [query]) or profiles ([profile.NAME]); see docs/configuration.md")
	}
	return file, nil
}

// configLayers are the tables of file that apply to the command at path, the most specific
// first: the profile's tables for the command (deepest first), the profile's top level, the
// file's tables for the command, the file's top level.
func configLayers(file *config.File, path []string, profile string) ([]*config.Table, error) {
	var layers []*config.Table
	add := func(root *config.Table) {
		for i := len(path); i >= 1; i-- {
			if t := root.Table(path[:i]...); t != nil {
				layers = append(layers, t)
			}
		}
		layers = append(layers, root)
	}
	if profile == "" {
		if v, ok := file.Root.Keys["profile"]; ok && len(v.Values) == 1 {
			profile = v.Values[0]
		}
	}
	if profile != "" {
		p := file.Root.Table("profile", profile)
		if p == nil {
			var names []string
			if ps := file.Root.Table("profile"); ps != nil {
				names = ps.TableNames()
			}
			msg := fmt.Sprintf("config %s has no profile %q", file.Path, profile)
			if s := config.Suggest(profile, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			hint := "add a [profile." + profile + "] table"
			if len(names) > 0 {
				hint = "profiles in the file: " + strings.Join(names, ", ")
			}
			return nil, withCode(exitUsage, errors.New(msg), hint)
		}
		add(p)
	}
	add(file.Root)
	return layers, nil
}

// checkConfig refuses any key that no command could use where it stands and any table that is
// not a command or a profile, naming the line and the closest valid name.
func checkConfig(file *config.File, cmds []*cli.Command, appFlags []cli.Flag) error {
	var errs []error
	bad := func(line int, format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		if line > 0 {
			msg = fmt.Sprintf("config %s line %d: %s", file.Path, line, msg)
		} else {
			msg = fmt.Sprintf("config %s: %s", file.Path, msg)
		}
		errs = append(errs, errors.New(msg))
	}
	suggest := func(name string, candidates []string) string {
		if s := config.Suggest(name, candidates); s != "" {
			return fmt.Sprintf("; did you mean %q?", s)
		}
		return ""
	}
	var checkTable func(t *config.Table, flags []string, subs []*cli.Command, top, inProfile bool)
	checkTable = func(t *config.Table, flags []string, subs []*cli.Command, top, inProfile bool) {
		where := "at the top level"
		if t.Name != "" {
			where = "in [" + t.Name + "]"
		}
		for _, k := range t.KeyNames() {
			v := t.Keys[k]
			switch {
			case k == "profile":
				if !top || inProfile {
					bad(v.Line, "profile chooses the default profile: set it at the top level only")
				} else if len(v.Values) != 1 {
					bad(v.Line, "profile must be one name")
				}
			case notFromFile[k]:
				bad(v.Line, "%s cannot be set in a config file (give it on the command line)", k)
			case top && onlyInTable[k]:
				bad(v.Line, "%s differs by command: put it in a command's table, e.g. [query]", k)
			case !slices.Contains(flags, k):
				bad(v.Line, "unknown key %q %s%s", k, where, suggest(k, flags))
			}
		}
		var names []string
		for _, s := range subs {
			names = append(names, s.Name)
		}
		for _, name := range t.TableNames() {
			sub := t.Tables[name]
			if name == "profile" && top && !inProfile {
				for _, k := range sub.KeyNames() {
					bad(sub.Keys[k].Line, "[profile] holds profiles as tables, [profile.NAME], not the key %q", k)
				}
				for _, pn := range sub.TableNames() {
					checkTable(sub.Tables[pn], flags, subs, true, true)
				}
				continue
			}
			i := slices.IndexFunc(subs, func(c *cli.Command) bool { return c.Name == name })
			if i < 0 {
				cands := names
				if top && !inProfile {
					cands = append(slices.Clone(names), "profile")
				}
				bad(sub.Line, "unknown table [%s]: not a command%s", sub.Name, suggest(name, cands))
				continue
			}
			checkTable(sub, flagNamesOf(subs[i]), subs[i].Subcommands, false, inProfile)
		}
	}
	all := flagNames(appFlags)
	for _, c := range cmds {
		all = append(all, flagNamesOf(c)...)
	}
	slices.Sort(all)
	checkTable(file.Root, slices.Compact(all), cmds, true, false)
	return errors.Join(errs...)
}

// flagNamesOf lists the flags of c and of every command under it (a [query] table serves every
// investigation).
func flagNamesOf(c *cli.Command) []string {
	names := flagNames(c.Flags)
	for _, s := range c.Subcommands {
		names = append(names, flagNamesOf(s)...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// flagNames lists the flags of flags that a config file may set.
func flagNames(flags []cli.Flag) []string {
	var names []string
	for _, f := range flags {
		if settable(f) {
			names = append(names, f.Names()[0])
		}
	}
	return names
}

// flagMention finds the flags an error message names (--parallel).
var flagMention = regexp.MustCompile(`--([a-z][a-z0-9-]*)`)

// tracedHint says where the flags a failed command's error names got their values, when that
// was not the command line: a bad MCAS_PARALLEL or config line is found at once.
func (e *env) tracedHint(msg string) string {
	var notes []string
	seen := map[string]bool{}
	for _, m := range flagMention.FindAllStringSubmatch(msg, -1) {
		name := m[1]
		if seen[name] {
			continue
		}
		seen[name] = true
		for _, srcs := range e.sources {
			if from, ok := srcs[name]; ok && from != (source{}) {
				notes = append(notes, fmt.Sprintf("--%s came from %s", name, from))
				break
			}
		}
	}
	return strings.Join(notes, "; ")
}
