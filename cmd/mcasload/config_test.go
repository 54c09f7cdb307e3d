package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// probe runs an app wired like the real one around two commands that record the values they
// saw: "probe" (flags of several types) and "query inv" (a command under a command).
type probe struct {
	got            map[string]string
	code           int
	stdout, stderr string
}

func runProbe(t *testing.T, vars map[string]string, args ...string) probe {
	t.Helper()
	p := probe{got: map[string]string{}}
	record := func(c *cli.Context) error {
		for _, name := range []string{"page-size", "since", "log-format", "format", "warehouse", "profile"} {
			p.got[name] = c.String(name)
		}
		p.got["full"] = map[bool]string{true: "true", false: "false"}[c.Bool("full")]
		p.got["service"] = strings.Join(c.StringSlice("service"), ",")
		p.got["parallel"] = strconv.Itoa(c.Int("parallel"))
		return nil
	}
	flags := func() []cli.Flag {
		return []cli.Flag{
			&cli.StringFlag{Name: "page-size", Value: "5000"},
			&cli.StringFlag{Name: "since"},
			&cli.BoolFlag{Name: "full"},
			&cli.StringSliceFlag{Name: "service"},
			&cli.IntFlag{Name: "parallel", Value: 1},
			&cli.StringFlag{Name: "format", Value: "table"},
			warehouseFlag(),
		}
	}
	cmds := []*cli.Command{
		{Name: "probe", Flags: flags(), Action: record},
		{Name: "query", Flags: flags(), Subcommands: []*cli.Command{{Name: "inv", Flags: flags(), Action: record}}},
	}
	var stdout, stderr bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }}
	r := *e
	r.sources = map[*cli.Context]map[string]source{}
	p.code = r.runApp(t.Context(), append([]string{"mcasload"}, args...), r.newApp(cmds))
	p.stdout, p.stderr = stdout.String(), stderr.String()
	return p
}

func writeConfig(t *testing.T, name, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestFlagSources(t *testing.T) {
	toml := writeConfig(t, "mcasload.toml", `# shared by every command
warehouse = "/data/all"
page-size = 2000
log-format = "json"

[probe]
parallel = 2
service = [11161, 20893]
format = "csv"

[query]
since = "30d"

[query.inv]
page-size = 1500

[profile.contoso]
warehouse = "/data/contoso"

[profile.contoso.probe]
parallel = 4
`)
	old := writeConfig(t, "mcasload.conf", "# nightly\npage-size = 2000\nfull = true\nservice = 11161\nservice = 20893\nlog-format = json\n")
	js := writeConfig(t, "mcasload.json", `{"page-size": 1000, "service": [12260]}`)
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want map[string]string
	}{
		{"defaults", []string{"probe"}, nil, map[string]string{"page-size": "5000", "full": "false", "service": "", "log-format": "text", "parallel": "1", "warehouse": "mcasload-warehouse"}},
		{"toml: top level and the command's table", []string{"probe", "--config", toml}, nil,
			map[string]string{"warehouse": "/data/all", "page-size": "2000", "parallel": "2", "service": "11161,20893", "format": "csv", "log-format": "json"}},
		{"toml: a table for the command under a command", []string{"query", "inv", "--config", toml}, nil,
			map[string]string{"since": "30d", "page-size": "1500", "parallel": "1", "format": "table"}},
		{"profile over the file", []string{"probe", "--config", toml, "--profile", "contoso"}, nil,
			map[string]string{"warehouse": "/data/contoso", "parallel": "4", "page-size": "2000"}},
		{"profile from the environment", []string{"probe", "--config", toml}, map[string]string{"MCAS_PROFILE": "contoso"},
			map[string]string{"warehouse": "/data/contoso", "parallel": "4"}},
		{"older lines", []string{"probe", "--config", old}, nil, map[string]string{"page-size": "2000", "full": "true", "service": "11161,20893", "log-format": "json"}},
		{"older json", []string{"probe", "--config", js}, nil, map[string]string{"page-size": "1000", "service": "12260"}},
		{"env beats config", []string{"probe", "--config", toml}, map[string]string{"MCAS_PAGE_SIZE": "3000", "MCAS_SERVICE": "1,2"},
			map[string]string{"page-size": "3000", "service": "1,2", "parallel": "2"}},
		{"flag beats env", []string{"probe", "--config", toml, "--page-size", "4000"}, map[string]string{"MCAS_PAGE_SIZE": "3000"}, map[string]string{"page-size": "4000"}},
		{"config from env", []string{"probe"}, map[string]string{"MCAS_CONFIG": toml}, map[string]string{"page-size": "2000"}},
		{"global flags before the command", []string{"--config", toml, "--log-format", "text", "probe"}, nil,
			map[string]string{"page-size": "2000", "log-format": "text", "parallel": "2"}},
		{"global flag before beats env", []string{"--log-format", "text", "probe"}, map[string]string{"MCAS_LOG_FORMAT": "json"}, map[string]string{"log-format": "text"}},
		{"a flag before the subcommand", []string{"query", "--since", "7d", "--config", toml, "inv"}, nil, map[string]string{"since": "7d", "page-size": "1500"}},
		{"the flag after the subcommand wins", []string{"query", "--since", "7d", "inv", "--since", "2d"}, nil, map[string]string{"since": "2d"}},
		{"output flags never from the environment", []string{"probe"}, map[string]string{"MCAS_FORMAT": "csv"}, map[string]string{"format": "table"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := runProbe(t, tt.env, tt.args...)
			if p.code != exitOK {
				t.Fatalf("exit %d: %s", p.code, p.stderr)
			}
			for k, want := range tt.want {
				if p.got[k] != want {
					t.Errorf("%s = %q, want %q", k, p.got[k], want)
				}
			}
		})
	}
}

func TestConfigMistakes(t *testing.T) {
	dir := t.TempDir()
	file := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"missing file", []string{"probe", "--config", filepath.Join(dir, "nope.toml")}, nil, []string{"read config", "nope.toml"}},
		{"misspelt key", []string{"probe", "--config", file("a.toml", "warehouse = \"/x\"\n[probe]\nparalel = 2\n")}, nil,
			[]string{"a.toml line 3", `unknown key "paralel" in [probe]`, `did you mean "parallel"?`}},
		{"misspelt key at the top", []string{"probe", "--config", file("b.toml", "ware-house = \"/x\"\n")}, nil,
			[]string{"b.toml line 1", `unknown key "ware-house" at the top level`, `did you mean "warehouse"?`}},
		{"misspelt table", []string{"probe", "--config", file("c.toml", "[prbe]\nparallel = 2\n")}, nil,
			[]string{"c.toml line 1", "unknown table [prbe]", `did you mean "probe"?`}},
		{"a key of another command in a table", []string{"probe", "--config", file("d.toml", "[query.inv]\nfull = true\n[query]\nrate-limit = 3\n")}, nil,
			[]string{"d.toml line 4", `unknown key "rate-limit" in [query]`}},
		{"misspelt key in the older form", []string{"probe", "--config", file("e.conf", "page-size = 2000\nparalel = 2\n")}, nil,
			[]string{"e.conf line 2", `did you mean "parallel"?`}},
		{"format at the top level", []string{"probe", "--config", file("f.toml", "format = \"csv\"\n")}, nil,
			[]string{"f.toml line 1", "put it in a command's table"}},
		{"unknown profile", []string{"probe", "--config", file("g.toml", "[profile.contoso]\nwarehouse = \"/c\"\n"), "--profile", "contosso"}, nil,
			[]string{`has no profile "contosso"`, `did you mean "contoso"?`, "profiles in the file: contoso"}},
		{"profile without a file", []string{"probe", "--profile", "contoso"}, nil, []string{"--profile contoso: no config file"}},
		{"bad value in the file", []string{"probe", "--config", file("h.toml", "[probe]\nparallel = \"two\"\n")}, nil,
			[]string{"h.toml line 2: probe.parallel = two is not a valid --parallel"}},
		{"bad value in the environment", []string{"probe"}, map[string]string{"MCAS_PARALLEL": "two"}, []string{`MCAS_PARALLEL="two" is not a valid --parallel`}},
		{"toml syntax", []string{"probe", "--config", file("i.toml", "[probe]\nsince = 7d\n")}, nil, []string{"i.toml", "line 2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := runProbe(t, tt.env, tt.args...)
			if p.code != exitUsage {
				t.Fatalf("exit %d, want %d (stderr %q)", p.code, exitUsage, p.stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(p.stderr, w) {
					t.Errorf("stderr %q lacks %q", p.stderr, w)
				}
			}
		})
	}
}

// TestOlderFormNote: a file in the older form works and says once how to convert it.
func TestOlderFormNote(t *testing.T) {
	old := writeConfig(t, "scan.conf", "page-size = 2000\nsince = 7d\n") // 7d: not TOML
	p := runProbe(t, nil, "query", "inv", "--config", old)
	if p.code != exitOK || p.got["page-size"] != "2000" || p.got["since"] != "7d" {
		t.Fatalf("exit %d, page-size %q: %s", p.code, p.got["page-size"], p.stderr)
	}
	if n := strings.Count(p.stderr, "mcasload config convert "+old); n != 1 {
		t.Errorf("the note on converting appears %d times: %q", n, p.stderr)
	}
}

func TestRunExitCodes(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"version", []string{"mcasload", "version"}, exitOK, "schema v"},
		{"--version", []string{"mcasload", "--version"}, exitOK, "mcasload dev (commit unknown, built unknown, go"},
		{"--version names DuckDB and the schema", []string{"mcasload", "--version"}, exitOK, ", DuckDB v1."},
		{"help CMD", []string{"mcasload", "help", "scan"}, exitOK, "mcasload scan - fetch activities"},
		{"help unknown", []string{"mcasload", "help", "scna"}, exitUsage, `did you mean "scan"?`},
		{"bad flag", []string{"mcasload", "version", "--nope"}, exitUsage, "nope"},
		{"unknown command", []string{"mcasload", "nope"}, exitUsage, "nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Run(t.Context(), tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String()+stderr.String(), tt.out) {
				t.Errorf("output %q lacks %q", stdout.String()+stderr.String(), tt.out)
			}
		})
	}
}

// TestValuesTracedToTheirSource runs real commands: a value the command refuses names the
// variable or file line it came from, and an output flag's variable meant for another command
// changes nothing.
func TestValuesTracedToTheirSource(t *testing.T) {
	run := func(args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := Run(t.Context(), append([]string{"mcasload"}, args...), strings.NewReader(""), &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}
	t.Setenv("MCAS_TOKEN", "not-used")
	dir := t.TempDir()

	t.Setenv("MCAS_PARALLEL", "100")
	code, _, errs := run("scan", "--url", "http://127.0.0.1:1", "-w", dir)
	if code != exitUsage || !strings.Contains(errs, "--parallel 100") || !strings.Contains(errs, "--parallel came from the environment variable MCAS_PARALLEL") {
		t.Errorf("exit %d, stderr %q: want a usage error naming MCAS_PARALLEL", code, errs)
	}
	t.Setenv("MCAS_PARALLEL", "")

	cfg := writeConfig(t, "mcasload.toml", "[scan]\nlimit = 5000\nparallel = 65\n")
	code, _, errs = run("--config", cfg, "scan", "--url", "http://127.0.0.1:1", "-w", dir)
	if code != exitUsage || !strings.Contains(errs, "--parallel came from "+cfg+" line 3 (scan.parallel)") {
		t.Errorf("exit %d, stderr %q: want a usage error naming the file's line 3", code, errs)
	}

	t.Setenv("MCAS_FORMAT", "csv") // meant for query; schema has no csv
	code, out, errs := run("schema")
	if code != exitOK || !strings.Contains(out, "user_name") || !strings.Contains(errs, "MCAS_FORMAT is not read") {
		t.Errorf("schema with MCAS_FORMAT=csv: exit %d, stderr %q", code, errs)
	}
}

// TestConfigCommand converts a file in the older form and checks both: the TOML it prints reads
// back to the same values for a real command, and a misspelt key is found with its line.
func TestConfigCommand(t *testing.T) {
	old := writeConfig(t, "scan.conf", "# nightly\nwarehouse = /data/mcasload\nparallel = 2\nmax-duration = 3h\nprogress = false\nservice = 11161\nservice = 20893\n")
	code, out, errs := runMcasload(t, nil, "config", "convert", old)
	if code != 0 {
		t.Fatalf("convert: exit %d: %s", code, errs)
	}
	want := "# converted by mcasload config convert from " + old + "\nwarehouse = \"/data/mcasload\"\nparallel = 2\nmax-duration = \"3h\"\nprogress = false\nservice = [11161, 20893]\n"
	if out != want {
		t.Errorf("convert printed\n%s\nwant\n%s", out, want)
	}
	converted := writeConfig(t, "scan.toml", out)
	for _, f := range []string{old, converted} {
		code, out, errs := runMcasload(t, nil, "config", "check", f)
		if code != 0 || !strings.Contains(out, f+": ok") {
			t.Errorf("check %s: exit %d: %s%s", f, code, out, errs)
		}
	}
	bad := writeConfig(t, "bad.toml", "[scan]\nparalel = 2\n[prfile.contoso]\nurl = \"https://x\"\n")
	code, _, errs = runMcasload(t, nil, "config", "check", bad)
	for _, w := range []string{"line 2: unknown key \"paralel\" in [scan]; did you mean \"parallel\"?", "line 3: unknown table [prfile]: not a command; did you mean \"profile\"?"} {
		if code != exitUsage || !strings.Contains(errs, w) {
			t.Errorf("check bad.toml: exit %d, stderr %q lacks %q", code, errs, w)
		}
	}
}
