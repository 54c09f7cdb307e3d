package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testserver"
	"github.com/mcasload/mcasload/queries"
)

// needShell finds a shell the completion tests run (see testserver.NeedTool).
func needShell(t *testing.T, name string) string {
	t.Helper()
	return testserver.NeedTool(t, name, name)
}

// completionCases are typed command lines (the last word is the one being completed) and what
// completing it must offer; an empty want means "nothing: the shell completes a file name".
type completionCase struct {
	words []string
	want  []string
}

var completionCases = []completionCase{
	{[]string{"sc"}, []string{"scan", "schema"}},
	{[]string{"query", "mass-d"}, []string{"mass-delete", "mass-download"}},
	{[]string{"query", "mass-download", "--for"}, []string{"--format"}},
	{[]string{"query", "mass-download", "--format", ""}, []string{"table", "csv", "json", "ndjson", "markdown", "parquet"}},
	{[]string{"sql", "--format", "nd"}, []string{"ndjson"}},
	{[]string{"status", "--format", ""}, []string{"table", "json"}},
	{[]string{"export", "--format", ""}, []string{"parquet", "csv", "ndjson"}},
	{[]string{"--log-level", "w"}, []string{"warn"}},
	{[]string{"scan", "--auth", "managed"}, []string{"managed-identity"}},
	{[]string{"help", "sc"}, []string{"scan", "schema"}},
	{[]string{"help", "query", "password-"}, []string{"password-spray"}},
	{[]string{"completion", ""}, []string{"bash", "zsh", "fish"}},
	{[]string{"scan", "--config", ""}, nil},
	{[]string{"load", ""}, nil},
}

// TestCompleteAnswers asks the hidden __complete in-process.
func TestCompleteAnswers(t *testing.T) {
	for _, tt := range append(slices.Clone(completionCases),
		completionCase{[]string{"query", ""}, queries.Names()},
		completionCase{[]string{"status", "--format=j"}, []string{"--format=json"}}, // zsh and fish keep --flag=value one word
		completionCase{[]string{"status", "--format", "=", "j"}, []string{"json"}},  // bash splits it at =
	) {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			code, out, errs := runMcasload(t, nil, append([]string{completeCommand, "--"}, tt.words...)...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errs)
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
				if v, _, _ := strings.Cut(line, "\t"); v != "" {
					got = append(got, v)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// completionScript writes `mcasload completion SHELL` to a file.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	code, out, errs := runMcasload(t, nil, "completion", shell)
	if code != 0 {
		t.Fatalf("completion %s: exit %d: %s", shell, code, errs)
	}
	path := filepath.Join(t.TempDir(), "mcasload."+shell)
	if err := os.WriteFile(path, []byte(out), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// shellWords quotes words for a POSIX-like shell's array.
func shellWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}

// TestCompletionInBash sources the bash script in a real bash and runs its completion function
// the way bash does (COMP_WORDS, COMP_CWORD) with the real binary answering.
func TestCompletionInBash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary in bash; skipped in -short")
	}
	bash := needShell(t, "bash")
	bin := testkit.Build(t, testkit.MCASLoad)
	script := completionScript(t, "bash")
	files := t.TempDir()
	if err := os.WriteFile(filepath.Join(files, "acts.ndjson"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range completionCases {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			words := append([]string{bin}, tt.words...)
			// bash splits --flag=value at "="; the cases are typed without it.
			prog := "source " + script + "\n" +
				"complete -p mcasload >/dev/null || exit 3\n" +
				"COMP_WORDS=(" + shellWords(words) + ")\n" +
				"COMP_CWORD=" + strconv.Itoa(len(words)-1) + "\n" +
				"_mcasload\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
			cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog)
			cmd.Dir = files
			got := offered(t, cmd, "\n")
			want := tt.want
			if want == nil { // file names, from compgen -f
				want = []string{}
				if tt.words[len(tt.words)-1] == "" {
					want = []string{"acts.ndjson"}
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("bash offers %q, want %q", got, want)
			}
		})
	}
}

// offered runs cmd (a shell asked to complete) in the test's clean environment unless cmd sets
// one, and returns the first sep-separated field of each line it prints: what the shell offers.
func offered(t *testing.T, cmd *exec.Cmd, sep string) []string {
	t.Helper()
	if cmd.Env == nil {
		cmd.Env = testkit.CleanEnv()
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", filepath.Base(cmd.Path), err, out)
	}
	got := []string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if v, _, _ := strings.Cut(l, sep); v != "" {
			got = append(got, v)
		}
	}
	return got
}

// TestCompletionInFish loads the fish script into a real fish and asks fish itself what it
// would complete (complete -C), with the binary on PATH as mcasload.
func TestCompletionInFish(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary in fish; skipped in -short")
	}
	fish := needShell(t, "fish")
	bin := testkit.Build(t, testkit.MCASLoad)
	script := completionScript(t, "fish")
	for _, tt := range completionCases[:6] {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			line := "mcasload " + strings.Join(tt.words, " ")
			cmd := exec.Command(fish, "--no-config", "-c", "source "+script+"; complete -C '"+line+"'")
			cmd.Env = append(testkit.CleanEnv(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "HOME="+t.TempDir())
			got := offered(t, cmd, "\t")
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(got, want) {
				t.Errorf("fish offers %q, want %q", got, want)
			}
		})
	}
}

// TestCompletionInZsh sources the zsh script in a real zsh and calls its completion function with
// words and CURRENT set as the completion system sets them; _describe and _files (compinit's)
// are stood in for by functions that print what they are given.
func TestCompletionInZsh(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary in zsh; skipped in -short")
	}
	zsh := needShell(t, "zsh")
	bin := testkit.Build(t, testkit.MCASLoad)
	script := completionScript(t, "zsh")
	for _, tt := range completionCases {
		t.Run(strings.Join(tt.words, " "), func(t *testing.T) {
			words := append([]string{bin}, tt.words...)
			prog := "compdef() { :; }\n" +
				"_describe() { local arr=${@[-1]}; print -rl -- ${(P)arr} }\n" +
				"_files() { print -r -- FILES }\n" +
				"source " + script + "\n" +
				"words=(" + shellWords(words) + ")\nCURRENT=" + strconv.Itoa(len(words)) + "\n_mcasload\n"
			got := offered(t, exec.Command(zsh, "-f", "-c", prog), ":")
			want := tt.want
			if want == nil {
				want = []string{"FILES"}
			}
			if !slices.Equal(got, want) {
				t.Errorf("zsh offers %q, want %q", got, want)
			}
		})
	}
}

// TestCompletionChoicesMatchTheHelp: every closed set of values completion offers for a flag is
// the set the flag's help names, for every command that has the flag.
func TestCompletionChoicesMatchTheHelp(t *testing.T) {
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: os.Getenv}
	var walk func(path []string, cmds []*cli.Command)
	checked := 0
	walk = func(path []string, cmds []*cli.Command) {
		for _, c := range cmds {
			p := append(slices.Clone(path), c.Name)
			for _, f := range c.Flags {
				choices := flagChoices(p, f.Names()[0])
				if choices == nil || f.Names()[0] == "cloud" || f.Names()[0] == "auth" {
					continue // cloud and auth build their help from the same lists
				}
				checked++
				usage := usageOf(f)
				for _, v := range choices {
					if !regexp.MustCompile(`\b` + regexp.QuoteMeta(v) + `\b`).MatchString(usage) {
						t.Errorf("%s --%s: completion offers %q, the help %q does not name it", strings.Join(p, " "), f.Names()[0], v, usage)
					}
				}
			}
			walk(p, c.Subcommands)
		}
	}
	app := e.newApp(e.commands())
	walk(nil, app.Commands)
	if checked < 10 {
		t.Errorf("only %d flags with closed sets checked", checked)
	}
}

// TestManPage renders the manual page from the command tree: every command and investigation
// has its section, and groff formats it without a warning.
func TestManPage(t *testing.T) {
	code, page, errs := runMcasload(t, nil, "man")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.HasPrefix(page, ".nh\n.TH mcasload 1") && !strings.Contains(page, ".TH mcasload 1") {
		t.Errorf("not a section 1 page:\n%.300s", page)
	}
	e := &env{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: os.Getenv}
	for _, c := range e.commands() {
		if c.Hidden {
			if strings.Contains(page, c.Name) {
				t.Errorf("hidden command %s is in the page", c.Name)
			}
			continue
		}
		if !regexp.MustCompile(`(?m)^\.SH ` + regexp.QuoteMeta(c.Name) + `\b`).MatchString(page) {
			t.Errorf("no section for %s", c.Name)
		}
		for _, s := range c.Subcommands {
			if !regexp.MustCompile(`(?m)^\.SS ` + regexp.QuoteMeta(s.Name) + `\b`).MatchString(page) {
				t.Errorf("no section for %s %s", c.Name, s.Name)
			}
		}
	}
	cmd := exec.Command(testserver.NeedTool(t, "groff", "groff-base"), "-k", "-man", "-Tutf8", "-ww", "-z")
	cmd.Stdin = strings.NewReader(page)
	if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("groff: %v\n%s", err, out)
	}
}
