// Package contrib_test checks the files that install and schedule mcasload: the systemd units
// (with systemd's own verifier, against the real binary), the cron example and the container
// build file.
package contrib_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// unitKeys reads the Key=Value lines of a unit file, keys repeated as often as they occur.
func unitKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	keys := map[string][]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			keys[k] = append(keys[k], v)
		}
	}
	return keys
}

// The shipped units pass `systemd-analyze verify` without a single warning, with ExecStart
// pointing at a freshly built mcasload (verify fails when the binary does not exist), and keep
// the hardening the install guide promises.
func TestSystemdUnits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short")
	}
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is not installed (.ci/run installs systemd)")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin", "mcasload")
	build := exec.Command("go", "build", "-tags", "duckdb_arrow", "-o", bin, "../cmd/mcasload")
	build.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	var units []string
	for _, name := range []string{"mcasload-scan.service", "mcasload-scan.timer"} {
		b, err := os.ReadFile(filepath.Join("systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		text := string(b)
		if name == "mcasload-scan.service" {
			if !strings.Contains(text, "ExecStart=/usr/local/bin/mcasload ") {
				t.Fatal("ExecStart does not start /usr/local/bin/mcasload, where docs/install.md installs it")
			}
			text = strings.ReplaceAll(text, "/usr/local/bin/mcasload", bin)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		units = append(units, p)
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, units...)...).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}

	svc := unitKeys(t, filepath.Join("systemd", "mcasload-scan.service"))
	want := map[string]string{"User": "mcasload", "ProtectSystem": "strict", "NoNewPrivileges": "yes", "ProtectHome": "yes",
		"PrivateTmp": "yes", "CapabilityBoundingSet": "", "StateDirectory": "mcasload", "Type": "oneshot"}
	for k, v := range want {
		if !slices.Contains(svc[k], v) {
			t.Errorf("%s=%q, want %q", k, svc[k], v)
		}
	}
	success := strings.Fields(strings.Join(svc["SuccessExitStatus"], " "))
	for _, code := range []string{"3", "10"} {
		if !slices.Contains(success, code) {
			t.Errorf("SuccessExitStatus %v lacks %s", success, code)
		}
	}
	if len(svc["LoadCredential"]) == 0 || !strings.Contains(svc["ExecStart"][0], "%d/"+strings.SplitN(svc["LoadCredential"][0], ":", 2)[0]) {
		t.Errorf("the credential of LoadCredential=%v is not what ExecStart=%v reads", svc["LoadCredential"], svc["ExecStart"])
	}
	for _, arg := range []string{"--token", "--client-secret ", "MCAS_TOKEN=", "MCAS_CLIENT_SECRET="} {
		if strings.Contains(svc["ExecStart"][0]+strings.Join(svc["Environment"], " "), arg) {
			t.Errorf("the unit passes a secret through %s", arg)
		}
	}
	timer := unitKeys(t, filepath.Join("systemd", "mcasload-scan.timer"))
	if len(timer["OnCalendar"]) != 1 || !slices.Contains(timer["Persistent"], "true") {
		t.Errorf("timer: OnCalendar=%v Persistent=%v", timer["OnCalendar"], timer["Persistent"])
	}
}

// The cron example is one valid /etc/cron.d line running the same scan as the unit as the
// mcasload user, and treats exits 3, 6 and 10 as success.
func TestCronExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("cron", "mcasload"))
	if err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || regexp.MustCompile(`^[A-Z_]+=`).MatchString(line) {
			continue
		}
		jobs = append(jobs, line)
	}
	if len(jobs) != 1 {
		t.Fatalf("%d jobs, want 1: %q", len(jobs), jobs)
	}
	f := strings.Fields(jobs[0])
	field := regexp.MustCompile(`^(\*|[0-9]+(-[0-9]+)?(,[0-9]+)*)(/[0-9]+)?$`)
	for i := 0; i < 5; i++ {
		if !field.MatchString(f[i]) {
			t.Errorf("time field %d %q is not a cron field", i+1, f[i])
		}
	}
	if f[5] != "mcasload" || f[6] != "/usr/local/bin/mcasload" || f[7] != "scan" {
		t.Errorf("the job should run /usr/local/bin/mcasload scan as mcasload: %q", jobs[0])
	}
	for _, code := range []string{"-eq 3", "-eq 6", "-eq 10"} {
		if !strings.Contains(jobs[0], code) {
			t.Errorf("the job does not accept exit %s", code)
		}
	}
	if err := exec.Command("sh", "-n", "-c", strings.Join(f[6:], " ")).Run(); err != nil {
		t.Errorf("the command is not valid sh: %v", err)
	}
}

// The container build file runs mcasload as a user that is not root and keeps the warehouse on a
// volume (the machines here have no container daemon, so the image itself is not built).
func TestContainerfile(t *testing.T) {
	b, err := os.ReadFile("Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	var user, volume, warehouse string
	stages := 0
	for _, line := range strings.Split(string(b), "\n") {
		switch f := strings.Fields(line); {
		case len(f) == 0:
		case f[0] == "FROM":
			stages++
			user = "" // each stage starts as root
		case f[0] == "USER":
			user = f[1]
		case f[0] == "VOLUME":
			volume = strings.Trim(strings.Join(f[1:], " "), `[]" `)
		case f[0] == "ENV" || strings.HasPrefix(strings.TrimSpace(line), "MCAS_WAREHOUSE="):
			if m := regexp.MustCompile(`MCAS_WAREHOUSE=(\S+)`).FindStringSubmatch(line); m != nil {
				warehouse = m[1]
			}
		}
	}
	name, _, _ := strings.Cut(user, ":")
	if stages < 2 || name == "" || name == "root" || name == "0" {
		t.Errorf("the final stage runs as %q (want a named or numeric user that is not root; %d stages)", user, stages)
	}
	if volume == "" || volume != warehouse {
		t.Errorf("VOLUME %q is not the warehouse MCAS_WAREHOUSE=%q", volume, warehouse)
	}
}
