package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/schema"
)

// Shell completion: `mcasload completion bash|zsh|fish` prints a small script that asks the
// binary itself, through the hidden `mcasload __complete WORD…`, what may come next. The command
// tree answers (commands, investigations, flags), so the scripts never go stale; flag values come
// from flagChoices. An empty answer lets the shell complete file names.

// completeCommand is the hidden `__complete`: words typed so far, the last one the word being
// completed (possibly empty); one candidate per line, "value<TAB>description".
const completeCommand = "__complete"

var shells = []string{"bash", "zsh", "fish"}

func (e *env) completionCommand() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: "Completes commands, investigation names, flags and their values (--format, --log-level, …).\n\n" +
			"   bash:  source <(mcasload completion bash)           # in ~/.bashrc\n" +
			"   zsh:   source <(mcasload completion zsh)            # in ~/.zshrc, after compinit\n" +
			"   fish:  mcasload completion fish | source            # or save it as ~/.config/fish/completions/mcasload.fish",
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 || !slices.Contains(shells, c.Args().First()) {
				return usageErrorf("name the shell: mcasload completion bash, zsh or fish")
			}
			_, err := io.WriteString(e.stdout, completionScripts[c.Args().First()])
			return err
		},
	}
}

func (e *env) completeCmd() *cli.Command {
	return &cli.Command{
		Name:            completeCommand,
		Hidden:          true,
		SkipFlagParsing: true,
		Action: func(c *cli.Context) error {
			words := c.Args().Slice()
			if len(words) > 0 && words[0] == "--" {
				words = words[1:]
			}
			if len(words) == 0 {
				words = []string{""}
			}
			for _, cand := range complete(c.App, words) {
				fmt.Fprintf(e.stdout, "%s\t%s\n", cand.value, cand.desc)
			}
			return nil
		},
	}
}

type candidate struct{ value, desc string }

// complete returns what may replace the last of words, given the words before it.
func complete(app *cli.App, words []string) []candidate {
	cur, before := words[len(words)-1], words[:len(words)-1]
	cmds, flags := app.Commands, app.Flags
	var path []string
	var expect cli.Flag // a flag whose value comes next
	for i := 0; i < len(before); i++ {
		w := before[i]
		switch {
		case expect != nil:
			expect = nil
			if w == "=" { // bash splits --format=csv into --format, =, csv
				expect = lookupFlag(flags, strings.TrimLeft(before[i-1], "-"))
			}
		case w == "--":
			return nil
		case strings.HasPrefix(w, "-"):
			name, _, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			if f := lookupFlag(flags, name); f != nil && takesValue(f) && !hasValue {
				expect = f
			}
		default:
			if sub := lookupCommand(cmds, w); sub != nil {
				path = append(path, sub.Name)
				cmds, flags = sub.Subcommands, sub.Flags
				if len(path) == 1 && sub.Name == "help" {
					cmds = app.Commands // help CMD SUB names commands
				}
			}
		}
	}
	if cur == "=" && expect != nil {
		return values(path, expect, "", "")
	}
	if expect != nil {
		return values(path, expect, cur, "")
	}
	if strings.HasPrefix(cur, "-") {
		if name, v, ok := strings.Cut(strings.TrimLeft(cur, "-"), "="); ok {
			if f := lookupFlag(flags, name); f != nil {
				return values(path, f, v, cur[:len(cur)-len(v)])
			}
			return nil
		}
		var out []candidate
		for _, f := range append(slices.Clone(flags), cli.HelpFlag) {
			name := "--" + f.Names()[0]
			if strings.HasPrefix(name, cur) && !slices.ContainsFunc(out, func(c candidate) bool { return c.value == name }) {
				out = append(out, candidate{name, usageOf(f)})
			}
		}
		return out
	}
	var out []candidate
	for _, c := range cmds {
		if !c.Hidden && strings.HasPrefix(c.Name, cur) {
			out = append(out, candidate{c.Name, c.Usage})
		}
	}
	if slices.Equal(path, []string{"completion"}) {
		for _, s := range shells {
			if strings.HasPrefix(s, cur) {
				out = append(out, candidate{s, "the " + s + " script"})
			}
		}
	}
	return out
}

func lookupCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) && !c.Hidden {
			return c
		}
	}
	return nil
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	_, isBool := f.(*cli.BoolFlag)
	return !isBool && f != cli.HelpFlag
}

// usageOf is a flag's help text without the variable it can come from, for a menu.
func usageOf(f cli.Flag) string {
	u := ""
	if d, ok := f.(cli.DocGenerationFlag); ok {
		u = d.GetUsage()
	}
	if i := strings.Index(u, " (env $"); i >= 0 {
		u = u[:i]
	}
	return strings.ReplaceAll(u, "`", "")
}

// values completes the value of flag f of the command at path: prefix is what was typed of it,
// lead what stands before it in the word (--format= when typed as one word).
func values(path []string, f cli.Flag, prefix, lead string) []candidate {
	var out []candidate
	for _, v := range flagChoices(path, f.Names()[0]) {
		if strings.HasPrefix(v, prefix) {
			out = append(out, candidate{lead + v, ""})
		}
	}
	return out
}

// flagChoices lists the values a flag accepts, where they are a closed set; nil lets the shell
// complete a file name. TestCompletionChoicesMatchTheHelp keeps the lists and the flags' help
// in step.
func flagChoices(path []string, flag string) []string {
	cmd := ""
	if len(path) > 0 {
		cmd = path[0]
	}
	switch flag {
	case "format":
		switch cmd {
		case "query", "sql":
			names := make([]string, len(output.Formats))
			for i, f := range output.Formats {
				names[i] = string(f)
			}
			return names
		case "export":
			return []string{"parquet", "csv", "ndjson"}
		case "audit":
			return []string{"table", "json", "csv"}
		case "schema":
			return []string{schema.FormatTable, schema.FormatMarkdown, schema.FormatJSON}
		case "status", "state":
			return []string{"table", "json"}
		}
	case "log-format":
		return []string{"text", "json"}
	case "log-level":
		return []string{"debug", "info", "warn", "error"}
	case "sink":
		return []string{"duckdb", "parquet", "both"}
	case "from":
		return []string{"duckdb", "parquet"}
	case "partition-by":
		return []string{"day"}
	case "auth":
		return authMethods
	case "cloud":
		return strings.Split(cloudNames(), ", ")
	}
	return nil
}

// completionScripts are the scripts `mcasload completion SHELL` prints. Each asks the binary it
// was typed with (so bin/mcasload completes as well as an installed one) and falls back to file
// names when the answer is empty.
var completionScripts = map[string]string{
	"bash": `# bash completion for mcasload: source <(mcasload completion bash)
_mcasload() {
    local cur=${COMP_WORDS[COMP_CWORD]} line out
    local IFS=$'\n'
    out=$("${COMP_WORDS[0]}" ` + completeCommand + ` -- "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
    COMPREPLY=()
    for line in $out; do
        COMPREPLY+=("${line%%$'\t'*}")
    done
    if [[ ${#COMPREPLY[@]} -eq 0 ]]; then
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o filenames -F _mcasload mcasload
`,
	"zsh": `#compdef mcasload
# zsh completion for mcasload: source <(mcasload completion zsh), after compinit
_mcasload() {
    local -a lines cands
    local line value desc
    lines=("${(@f)$(${words[1]} ` + completeCommand + ` -- "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    for line in $lines; do
        [[ -z $line ]] && continue
        value=${line%%$'\t'*}
        desc=${line#*$'\t'}
        cands+=("${value//:/\\:}:${desc}")
    done
    if (( ${#cands} == 0 )); then
        _files
        return
    fi
    _describe -t values mcasload cands
}
compdef _mcasload mcasload
`,
	"fish": `# fish completion for mcasload: mcasload completion fish | source
function __mcasload_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l out ($words[1] ` + completeCommand + ` -- $words[2..-1] 2>/dev/null)
    if test (count $out) -eq 0
        __fish_complete_path (commandline -ct)
    else
        printf '%s\n' $out
    end
end
complete -c mcasload -f -a '(__mcasload_complete)'
`,
}
