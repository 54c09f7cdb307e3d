package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

// probeApp is a one-command app wired like the real one, which records the values it saw.
func probeApp(t *testing.T, got map[string]string) *cli.App {
	t.Helper()
	cmd := &cli.Command{
		Name: "probe",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "page-size", Value: "5000"},
			&cli.BoolFlag{Name: "full"},
			&cli.StringSliceFlag{Name: "service"},
		},
		Action: func(c *cli.Context) error {
			got["page-size"] = c.String("page-size")
			got["full"] = map[bool]string{true: "true", false: "false"}[c.Bool("full")]
			got["service"] = strings.Join(c.StringSlice("service"), ",")
			got["log-format"] = c.String("log-format")
			return nil
		},
	}
	app := &cli.App{Name: "mcasload", Commands: []*cli.Command{cmd}, ExitErrHandler: func(*cli.Context, error) {}, Writer: &bytes.Buffer{}, ErrWriter: &bytes.Buffer{}}
	addCommonFlags(app.Commands)
	addEnvVars(app.Commands)
	withConfig(app.Commands)
	return app
}

func TestFlagPrecedence(t *testing.T) {
	dir := t.TempDir()
	kv := filepath.Join(dir, "mcasload.conf")
	if err := os.WriteFile(kv, []byte("# nightly\npage-size = 2000\nfull = true\nservice = 11161\nservice = 20893\nlog-format = json\nunknown-for-other-command = x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	js := filepath.Join(dir, "mcasload.json")
	if err := os.WriteFile(js, []byte(`{"page-size": 1000, "service": [12260]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want map[string]string
	}{
		{"defaults", nil, nil, map[string]string{"page-size": "5000", "full": "false", "service": "", "log-format": "text"}},
		{"config file", []string{"--config", kv}, nil, map[string]string{"page-size": "2000", "full": "true", "service": "11161,20893", "log-format": "json"}},
		{"json config", []string{"--config", js}, nil, map[string]string{"page-size": "1000", "service": "12260"}},
		{"env beats config", []string{"--config", kv}, map[string]string{"MCAS_PAGE_SIZE": "3000"}, map[string]string{"page-size": "3000", "full": "true"}},
		{"flag beats env", []string{"--config", kv, "--page-size", "4000"}, map[string]string{"MCAS_PAGE_SIZE": "3000"}, map[string]string{"page-size": "4000"}},
		{"config from env", nil, map[string]string{"MCAS_CONFIG": kv}, map[string]string{"page-size": "2000"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			got := map[string]string{}
			args := append([]string{"mcasload", "probe"}, tt.args...)
			if err := probeApp(t, got).Run(args); err != nil {
				t.Fatalf("run: %v", err)
			}
			for k, want := range tt.want {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(bad, []byte("page-size 2000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, path, want string }{
		{"missing file", filepath.Join(dir, "nope.conf"), "read config"},
		{"bad line", bad, "line 1"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := probeApp(t, map[string]string{}).Run([]string{"mcasload", "probe", "--config", tt.path})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
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
