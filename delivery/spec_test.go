package delivery

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseSpec(t *testing.T) {
	cases := []struct {
		in   string
		want Spec // display and ident are compared through String and ID below
		str  string
	}{
		{"-", Spec{Kind: KindStdout, Format: "json"}, "stdout"},
		{" stdout ", Spec{Kind: KindStdout, Format: "json"}, "stdout"},
		{"file:///var/lib/mcasload/findings.ndjson", Spec{Kind: KindFile, Format: "json", Path: "/var/lib/mcasload/findings.ndjson"},
			"file:///var/lib/mcasload/findings.ndjson"},
		{"FILE:/tmp/a/../b.ndjson?format=json", Spec{Kind: KindFile, Format: "json", Path: "/tmp/b.ndjson"}, "file:///tmp/b.ndjson"},
		{"file://localhost/tmp/x%20y.ndjson", Spec{Kind: KindFile, Format: "json", Path: "/tmp/x y.ndjson"}, "file:///tmp/x y.ndjson"},
		{"https://hooks.slack.com/services/T0/B0/XXXX#format=slack&secret=/etc/mcasload/hook.key",
			Spec{Kind: KindWebhook, Format: "slack", URL: "https://hooks.slack.com/services/T0/B0/XXXX", Host: "hooks.slack.com",
				SecretFile: "/etc/mcasload/hook.key", Timeout: 10 * time.Second, Attempts: 4, MaxWait: 2 * time.Minute},
			"https://hooks.slack.com/… (slack)"},
		{"https://prod.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers&sig=SIG#format=teams&timeout=30s&attempts=6&max-wait=5m&ca=/etc/ca%2Bx.pem",
			Spec{Kind: KindWebhook, Format: "teams", URL: "https://prod.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers&sig=SIG",
				Host: "prod.westeurope.logic.azure.com", Port: "443", CAFile: "/etc/ca+x.pem", Timeout: 30 * time.Second, Attempts: 6, MaxWait: 5 * time.Minute},
			"https://prod.westeurope.logic.azure.com:443/… (teams)"},
		{"http://127.0.0.1:8080/hook", Spec{Kind: KindWebhook, Format: "json", URL: "http://127.0.0.1:8080/hook", Host: "127.0.0.1", Port: "8080",
			Timeout: 10 * time.Second, Attempts: 4, MaxWait: 2 * time.Minute}, "http://127.0.0.1:8080/… (json)"},
		{"syslog+tcp://siem.example.com", Spec{Kind: KindSyslog, Format: "cef", Host: "siem.example.com", Port: "514",
			Timeout: 10 * time.Second, Attempts: 3, Facility: 16, AppName: "mcasload", MaxSize: 8192}, "syslog+tcp://siem.example.com:514 (cef)"},
		{"syslog+tls://[::1]?format=json&facility=authpriv&hostname=nightly-1&app-name=mcas&max-size=65536&ca=/etc/ca.pem&server-name=siem&cert=/c.pem&key=/k.pem&timeout=1s&attempts=1",
			Spec{Kind: KindSyslog, Format: "json", Host: "::1", Port: "6514", TLS: true, Timeout: time.Second, Attempts: 1, Facility: 10,
				Hostname: "nightly-1", AppName: "mcas", MaxSize: 65536, CAFile: "/etc/ca.pem", ServerName: "siem", CertFile: "/c.pem", KeyFile: "/k.pem"},
			"syslog+tls://[::1]:6514 (json)"},
		{"syslog+tcp://10.0.0.5:1514#facility=13", Spec{Kind: KindSyslog, Format: "cef", Host: "10.0.0.5", Port: "1514",
			Timeout: 10 * time.Second, Attempts: 3, Facility: 13, AppName: "mcasload", MaxSize: 8192}, "syslog+tcp://10.0.0.5:1514 (cef)"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := ParseSpec(c.in)
			if err != nil {
				t.Fatalf("ParseSpec: %v", err)
			}
			if got.String() != c.str {
				t.Errorf("String() = %q, want %q", got.String(), c.str)
			}
			got.display, got.ident = "", ""
			if got != c.want {
				t.Errorf("got\n%+v\nwant\n%+v", got, c.want)
			}
		})
	}
}

// TestSpecID: the id names the receiver, not the options, and shows nothing of a secret URL.
func TestSpecID(t *testing.T) {
	a := mustSpec(t, "https://hooks.slack.com/services/T0/B0/XXXX#format=slack")
	b := mustSpec(t, "https://hooks.slack.com/services/T0/B0/XXXX#format=slack&timeout=3s")
	c := mustSpec(t, "https://hooks.slack.com/services/T0/B0/YYYY#format=slack")
	if a.ID() != b.ID() {
		t.Errorf("changing an option changed the id: %s, %s", a.ID(), b.ID())
	}
	if a.ID() == c.ID() {
		t.Errorf("two webhook URLs share the id %s", a.ID())
	}
	if strings.Contains(a.ID(), "XXXX") || strings.Contains(a.String(), "XXXX") || strings.Contains(a.String(), "services") {
		t.Errorf("the id %q or name %q shows the secret URL", a.ID(), a.String())
	}
	if printed := fmt.Sprintf("%v %+v %#v %s %q", a, a, a, a, []Spec{a}); strings.Contains(printed, "XXXX") || strings.Contains(printed, "services") {
		t.Errorf("printing a spec shows its URL: %s", printed)
	}
	if !strings.HasPrefix(a.ID(), "webhook-") || mustSpec(t, "-").ID() != "stdout" {
		t.Errorf("ids %q, %q do not start with their kind", a.ID(), mustSpec(t, "-").ID())
	}
	if x, y := mustSpec(t, "syslog+tcp://h:514"), mustSpec(t, "syslog+tls://h:514"); x.ID() == y.ID() {
		t.Errorf("TCP and TLS to one address share the id %s", x.ID())
	}
}

// TestParseSpecErrors: every mistake gets a message saying what to write instead, and none
// repeats a secret part of the input (the webhook's path and query).
func TestParseSpecErrors(t *testing.T) {
	cases := []struct{ in, want string }{
		{"", "empty sink"},
		{"/var/log/findings.ndjson", `"/var/log/findings.ndjson": no scheme: write file:///var/log/findings.ndjson`},
		{"findings.ndjson", "no scheme: write file:///ABSOLUTE/PATH"},
		{"hooks.slack.com/services/T0/B0/SECRET", `"hooks.slack.com/…": no scheme`},
		{"file:findings.ndjson", "needs an absolute path"},
		{"file://findings.ndjson", `names host "findings.ndjson"`},
		{"file:///tmp/x?mode=0644", `unknown option "mode": a file sink takes format`},
		{"file:///tmp/x?format=cef", `unknown format "cef": use json`},
		{"file:///tmp/x?format=json#format=json", "both after '?' and after '#'"},
		{"http://hooks.example.com/SECRET", "a webhook needs https"},
		{"https:///SECRET", "not a valid URL"},
		{"https://hooks.example.com/SECRET#format=teamz", `unknown format "teamz": use json, teams, slack`},
		{"https://hooks.example.com/SECRET#format=teams&format=slack", "option format is given twice"},
		{"https://hooks.example.com/SECRET#secret=", "option secret has no value"},
		{"https://hooks.example.com/SECRET#timeout=forever", `"forever" is not a duration`},
		{"https://hooks.example.com/SECRET#attempts=0", `"0" is not a whole number from 1 to 20`},
		{"https://hooks.example.com/SECRET#hostname=x", `unknown option "hostname": a webhook sink takes attempts, ca, format, max-wait, secret, timeout`},
		{"https://hooks.example.com/SECRET?format=teams", "webhook options go after '#'"},
		{"https://hooks.example.com/SECRET?x=1&secret=/k", "webhook options go after '#'"},
		{"syslog://siem:514", "use syslog+tcp://HOST:PORT or syslog+tls://HOST:PORT"},
		{"syslog+udp://siem:514", "UDP is not offered"},
		{"syslog+tcp://siem:99999", `port "99999" is not 1–65535`},
		{"syslog+tcp://siem:514/path", "a syslog sink has no path"},
		{"syslog+tcp://user:pw@siem:514", "takes no user name or password"},
		{"syslog+tcp://siem?format=xml", `unknown format "xml": use cef, json`},
		{"syslog+tcp://siem?ca=/etc/ca.pem", `unknown option "ca"`},
		{"syslog+tcp://siem?facility=local9", "is not a facility"},
		{"syslog+tcp://siem?hostname=two%20words", "without spaces"},
		{"syslog+tcp://siem?max-size=100", "from 1024 to 1048576"},
		{"syslog+tls://siem?cert=/c.pem", "cert= and key= go together"},
		{"mailto:soc@example.com", "email is not a sink"},
		{"ftp://example.com/x", `unknown scheme "ftp"`},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			_, err := ParseSpec(c.in)
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("ParseSpec = %v, want a *SpecError", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not say %q", err, c.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q repeats a secret part of the spec", err)
			}
		})
	}
}

// TestParseSpecs: sinks files (private, comments, line numbers in errors) and duplicates.
func TestParseSpecs(t *testing.T) {
	dir := t.TempDir()
	list := "# the SOC's receivers\n\nhttps://hooks.slack.com/services/T0/B0/SECRET#format=slack\n  syslog+tls://siem:6514  \n"
	good := filepath.Join(dir, "sinks")
	if err := os.WriteFile(good, []byte(list), 0o600); err != nil {
		t.Fatal(err)
	}
	specs, err := ParseSpecs([]string{"-", "@" + good})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, s := range specs {
		kinds = append(kinds, string(s.Kind))
	}
	if got := strings.Join(kinds, ","); got != "stdout,webhook,syslog" {
		t.Errorf("kinds %s, want stdout,webhook,syslog", got)
	}

	wide := writeFile(t, "wide", list, 0o644)
	bad := writeFile(t, "bad", "-\nhttps://hooks.slack.com/services/T0/B0/SECRET#format=tams\n", 0o600)
	empty := writeFile(t, "empty", "# nothing yet\n\n", 0o600)
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"wide file":     {[]string{"@" + wide}, "is open to group or others (mode 0644): it holds a secret; run chmod 600 " + wide},
		"missing file":  {[]string{"@" + filepath.Join(dir, "nope")}, "does not exist"},
		"bad line":      {[]string{"@" + bad}, "(@" + bad + " line 2): option format: unknown format \"tams\""},
		"only comments": {[]string{"@" + empty}, "lists no sink"},
		"twice":         {[]string{"-", "stdout"}, "given twice"},
		"twice in file": {[]string{"syslog+tls://siem:6514?format=json", "@" + good}, "given twice (also as syslog+tls://siem:6514 (json))"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSpecs(c.args)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("ParseSpecs = %v, want an error saying %q", err, c.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("error %q shows a secret from the file", err)
			}
		})
	}
}

// FuzzParseSpec: the parser never panics, a spec it accepts has a known kind and format and
// builds again from its own parts, and neither its name nor its error shows a webhook's path.
func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"-", "stdout", "file:///tmp/x.ndjson", "file:/a?format=json",
		"https://h.example/p/SECRET?sig=SECRET#format=teams&secret=/k&timeout=1s&attempts=2&max-wait=0s",
		"http://127.0.0.1:1/SECRET", "syslog+tcp://h:1?format=json&facility=local7",
		"syslog+tls://[::1]:6514#ca=/c&server-name=s&cert=/c&key=/k&max-size=2048", "x", "a:b", "https://h/SECRET#format=%zz"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sp, err := ParseSpec(in)
		if err != nil {
			var se *SpecError
			if !errors.As(err, &se) {
				t.Fatalf("ParseSpec(%q) error %v is not a *SpecError", in, err)
			}
			// A webhook's path and query are secret; its host and options are not.
			if u, perr := url.Parse(strings.TrimSpace(in)); perr == nil && (u.Scheme == "https" || u.Scheme == "http") &&
				strings.Contains(u.Path+u.RawQuery+u.User.String(), "SECRET") && !strings.Contains(u.Host+u.Fragment, "SECRET") &&
				strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("error %q shows the webhook's path or query", err)
			}
			return
		}
		switch sp.Kind {
		case KindStdout, KindFile:
			if sp.Format != "json" {
				t.Fatalf("%q: %s sink with format %q", in, sp.Kind, sp.Format)
			}
		case KindWebhook:
			if sp.Format != "json" && sp.Format != "teams" && sp.Format != "slack" || sp.URL == "" || sp.Attempts < 1 || sp.Timeout <= 0 {
				t.Fatalf("%q: bad webhook spec %+v", in, sp)
			}
			if strings.Contains(sp.URL, "#") {
				t.Fatalf("%q: the options fragment stayed in the URL %q", in, sp.URL)
			}
			u, err := url.Parse(sp.URL)
			if err != nil {
				t.Fatalf("%q: URL %q does not parse: %v", in, sp.URL, err)
			}
			if strings.Contains(u.EscapedPath()+u.RawQuery+u.User.String(), "SECRET") && !strings.Contains(u.Host, "SECRET") &&
				(strings.Contains(sp.String(), "SECRET") || strings.Contains(sp.ID(), "SECRET")) {
				t.Fatalf("%q: name %q or id %q shows the URL's path or query", in, sp.String(), sp.ID())
			}
			again, err := ParseSpec(sp.URL)
			if err != nil || again.URL != sp.URL {
				t.Fatalf("%q: its URL %q does not parse back: %v", in, sp.URL, err)
			}
		case KindSyslog:
			if sp.Format != "cef" && sp.Format != "json" || sp.Host == "" || sp.Port == "" || sp.Facility < 0 || sp.Facility > 23 || sp.MaxSize < 1024 {
				t.Fatalf("%q: bad syslog spec %+v", in, sp)
			}
		default:
			t.Fatalf("%q: unknown kind %q", in, sp.Kind)
		}
	})
}
