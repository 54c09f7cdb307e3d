package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/humanize"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/simulator/xdrstream"
	"github.com/mcasload/mcasload/streaming"
	"github.com/mcasload/mcasload/tenant"
	"github.com/mcasload/mcasload/warehouse"
)

// demoMarker marks a folder the demo created, so a rerun may replace it and nothing else.
const demoMarker = ".mcasload-demo"

// demoInvestigations are run at the end of the demo, in this order, when they exist.
var demoInvestigations = []string{"impossible-travel", "mass-download", "mail-forwarding"}

func (e *env) demoCommand() *cli.Command {
	return &cli.Command{
		Name:  "demo",
		Usage: "scan two simulated tenants into a fresh warehouse, load their CloudAppEvents stream, and run a few investigations",
		Description: "Starts the Defender for Cloud Apps simulator on loopback with synthetic tenants, one " +
			"listener each (each with its own users, domain, planted incidents and benign look-alikes), scans each " +
			"into one new warehouse with mcasload scan --tenant-label, writes each tenant's activities as the Defender XDR " +
			"Streaming API's CloudAppEvents export to a local folder (the files azcopy would copy from the storage account) " +
			"and loads them with mcasload stream --folder, shows the status and runs a few investigations, which answer " +
			"per tenant. Needs no network and no credentials. A folder from an earlier demo is replaced; any other " +
			"existing folder is refused.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "warehouse", Aliases: []string{"w"}, Value: "demo-warehouse", Usage: "warehouse `DIR` to create"},
			&cli.StringSliceFlag{Name: "tenants", Value: cli.NewStringSlice("contoso", "fabrikam"), Usage: "the simulated tenants' `LABEL`s (comma-separated or repeated)"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "seed the tenants' seeds derive from"},
			&cli.IntFlag{Name: "days", Value: 37, Usage: "days of activity, ending now"},
			&cli.IntFlag{Name: "users", Value: 250, Usage: "ordinary users per tenant (incident users come on top)"},
			&cli.BoolFlag{Name: "progress", Value: true, Usage: "show scan progress on stderr"},
		},
		Action: e.runDemo,
	}
}

func (e *env) runDemo(c *cli.Context) error {
	ctx := c.Context
	dir, err := filepath.Abs(c.String("warehouse"))
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if c.Int("days") <= 0 || c.Int("users") <= 0 {
		return usageErrorf("--days and --users must be positive")
	}
	if err := prepareDemoDir(dir); err != nil {
		return err
	}
	if _, err := e.logger(c); err != nil { // refuse a bad --log-level before doing any work
		return err
	}

	labels, err := tenant.ParseSelection(c.StringSlice("tenants"))
	if err != nil || len(labels) == 0 {
		return usageErrorf("--tenants: give at least one label (%v)", err)
	}
	start := time.Now()
	servers, tenants := e.demoTenants(c, labels)
	for _, srv := range servers {
		defer srv.Close()
	}
	since := fmt.Sprintf("%dd", c.Int("days")+1)
	// The demo's settings go in a config file, as a user's would: the warehouse for every
	// command, the scan's own settings, and each tenant (a simulator) in a profile.
	cfgPath, cfgText, err := writeDemoConfig(dir, since, labels, servers)
	if err != nil {
		return err
	}
	if err := e.writeDemoExports(ctx, dir, labels, tenants); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "==> %s (the demo's settings; docs/configuration.md)\n%s", cfgPath, cfgText)
	if err := e.demoScans(ctx, cfgPath, c.Bool("progress"), labels, servers); err != nil {
		return err
	}
	if err := e.demoStreams(ctx, cfgPath, c.Bool("progress"), labels); err != nil {
		return err
	}

	fmt.Fprintf(e.stdout, "\n==> mcasload status -w %s\n", dir)
	if code := e.run(ctx, []string{"mcasload", "status", "-w", dir}); code != exitOK {
		return demoStep(ctx, code, "status")
	}
	names := queries.Names()
	for _, inv := range demoInvestigations {
		if !slices.Contains(names, inv) {
			continue
		}
		args := []string{"mcasload", "query", inv, "-w", dir, "--since", since}
		fmt.Fprintf(e.stdout, "\n==> mcasload query %s -w %s --since %s\n", inv, dir, since)
		if code := e.run(ctx, args); code != exitOK {
			return demoStep(ctx, code, "investigation "+inv)
		}
	}
	if err := e.demoDetect(ctx, dir); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "\ndemo done in %s. The warehouse is %s, with %d tenants. Try next:\n", time.Since(start).Round(100*time.Millisecond), dir, len(labels))
	for _, s := range demoTips(dir, labels) {
		fmt.Fprintf(e.stdout, "  %s\n", s)
	}
	return nil
}

// demoScans scans each tenant's simulator with its profile of the demo's config file.
func (e *env) demoScans(ctx context.Context, cfgPath string, progress bool, labels []string, servers []*simulator.Server) error {
	for i, label := range labels {
		scanArgs := []string{"mcasload", "scan", "--config", cfgPath, "--profile", label, fmt.Sprintf("--progress=%v", progress)}
		fmt.Fprintf(e.stdout, "==> mcasload scan --config %s --profile %s\n", cfgPath, label)
		// The token reaches the scan the way a user's does, through MCAS_TOKEN, never a command line.
		scanEnv := *e
		token := servers[i].Token
		scanEnv.getenv = func(k string) string {
			if k == "MCAS_TOKEN" {
				return token
			}
			return e.getenv(k)
		}
		if code := scanEnv.run(ctx, scanArgs); code != exitOK {
			return demoStep(ctx, code, "scan of tenant "+label)
		}
	}
	return nil
}

// demoExportDir is the folder, inside the demo's warehouse folder, of each tenant's simulated
// Streaming API export: <demoExportDir>/<label>/<container>/tenantId=…/y=…/…/PT1H.json.
const demoExportDir = "cloudappevents-export"

// writeDemoExports writes each tenant's activities as the Streaming API's CloudAppEvents export:
// the files a copy of the storage container holds, hour by hour up to now.
func (e *env) writeDemoExports(ctx context.Context, dir string, labels []string, tenants []*synth.Tenant) error {
	for i, label := range labels {
		folder := filepath.Join(dir, demoExportDir, label)
		w, err := xdrstream.New(xdrstream.Config{Tenant: tenants[i], Folder: filepath.Join(folder, streaming.DefaultContainer)})
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		n, err := w.WriteThrough(ctx, time.Now())
		if err != nil {
			return fmt.Errorf("demo: write the stream of tenant %s: %w", label, err)
		}
		fmt.Fprintf(e.stdout, "==> stream export of tenant %s: %s CloudAppEvents lines in %d hourly files under %s "+
			"(as azcopy copies the Streaming API's storage container; docs/streaming.md)\n", label, humanize.Count(int64(n)), len(w.Truth().Blobs), folder)
	}
	return nil
}

// demoStreams loads each tenant's export folder with mcasload stream --folder, through its profile.
func (e *env) demoStreams(ctx context.Context, cfgPath string, progress bool, labels []string) error {
	for _, label := range labels {
		fmt.Fprintf(e.stdout, "==> mcasload stream --config %s --profile %s   # the same tenant's CloudAppEvents, into cloud_app_events\n", cfgPath, label)
		if code := e.run(ctx, []string{"mcasload", "stream", "--config", cfgPath, "--profile", label, fmt.Sprintf("--progress=%v", progress)}); code != exitOK {
			return demoStep(ctx, code, "stream of tenant "+label)
		}
	}
	return nil
}

// demoTenants generates each simulated tenant (its own seed, domain and incidents) and serves it
// on its own loopback listener; the caller closes the servers.
func (e *env) demoTenants(c *cli.Context, labels []string) ([]*simulator.Server, []*synth.Tenant) {
	base := synth.Config{Seed: c.Int64("seed"), Users: c.Int("users"), Days: c.Int("days"), Incidents: true}
	var servers []*simulator.Server
	var tenants []*synth.Tenant
	for _, label := range labels {
		cfg := synth.ForTenant(base, label)
		fmt.Fprintf(e.stdout, "==> generating tenant %s (domain %s, %d users, %d days, planted incidents, benign look-alikes)\n", label, cfg.Domain, cfg.Users, cfg.Days)
		tn := synth.New(cfg)
		// The simulator runs without its 30 requests/minute budget so the demo takes seconds,
		// not minutes; everything else (scan mode, paging, ties, visibility) behaves as the
		// service does.
		srv := simulator.NewServer(simulator.Config{Tenant: tn, RateLimit: simulator.NoRateLimit})
		servers = append(servers, srv)
		tenants = append(tenants, tn)
		fmt.Fprintf(e.stdout, "==> simulator serving tenant %s: %s activities at %s/api/v1/activities/ (loopback only)\n", label, humanize.Count(int64(tn.Len())), srv.URL)
	}
	return servers, tenants
}

// demoConfig is the demo's config file, inside its warehouse folder.
const demoConfig = "mcasload.toml"

// writeDemoConfig creates the demo folder, marks it as the demo's and writes its config file: one
// profile per tenant, with its simulator's URL and its label.
func writeDemoConfig(dir, since string, labels []string, servers []*simulator.Server) (path, text string, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("demo: create %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, demoMarker), []byte("created by mcasload demo\n"), 0o600); err != nil {
		return "", "", fmt.Errorf("demo: mark folder: %w", err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by mcasload demo. Keys are flag names: at the top for every command that has
# the flag, in [scan] for mcasload scan only, in [profile.NAME] with --profile NAME: one profile
# per simulated tenant, scanned with mcasload scan --profile NAME, its stream loaded with
# mcasload stream --profile NAME.
warehouse = %q

[scan]
since = %q
limit = 5000
rate-limit = 600   # the simulator runs without the API's 30 requests a minute
parallel = 2
`, dir, since)
	for i, label := range labels {
		fmt.Fprintf(&b, "\n[profile.%s]\nurl = %q  # the simulator's port changes from run to run\ntenant-label = %q\n", label, servers[i].URL, label)
		fmt.Fprintf(&b, "[profile.%s.stream]  # mcasload stream --profile %s: the tenant's Streaming API export, copied to a folder\nfolder = %q\n",
			label, label, filepath.Join(dir, demoExportDir, label))
	}
	path = filepath.Join(dir, demoConfig)
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		return "", "", fmt.Errorf("demo: write %s: %w", path, err)
	}
	return path, b.String(), nil
}

// prepareDemoDir makes dir an empty folder, replacing an earlier demo's warehouse but refusing
// to touch any other folder that holds files.
func prepareDemoDir(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("demo: read %s: %w", dir, err)
	case len(entries) == 0:
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, demoMarker)); err != nil {
		return withCode(exitUsage, fmt.Errorf("demo: %s exists and was not made by mcasload demo", dir),
			"pass --warehouse with a new folder; the demo replaces only its own")
	}
	// Take the lock first so a demo never deletes a warehouse another process is writing.
	w, err := openWriter(context.Background(), warehouse.Options{Dir: dir, Command: "mcasload demo (cleanup)", CompactOver: -1})
	if err != nil {
		return err
	}
	if err := w.Close(context.Background()); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("demo: remove the earlier demo warehouse: %w", err)
	}
	return nil
}

// demoDetect runs detect, whose first run treats every activity as new so the planted incidents
// become findings, and lists them.
func (e *env) demoDetect(ctx context.Context, dir string) error {
	sink := "file://" + filepath.Join(dir, "findings.ndjson")
	fmt.Fprintf(e.stdout, "\n==> mcasload detect -w %s --deliver %s\n", dir, sink)
	if code := e.run(ctx, []string{"mcasload", "detect", "-w", dir, "--deliver", sink}); code != exitOK && code != exitNewFindings {
		return demoStep(ctx, code, "detect")
	}
	fmt.Fprintf(e.stdout, "\n==> mcasload findings list -w %s --status new,notified\n", dir)
	if code := e.run(ctx, []string{"mcasload", "findings", "list", "-w", dir, "--status", "new,notified"}); code != exitOK {
		return demoStep(ctx, code, "findings list")
	}
	return nil
}

// demoStep is the error of a demo step that ended with code: stopped by a signal (exit 6), or
// failed with the step's own code, its message above.
func demoStep(ctx context.Context, code int, step string) error {
	if ctx.Err() != nil {
		return withCode(exitStopped, fmt.Errorf("demo: stopped by a signal during the %s", step), "rerun mcasload demo: it starts again from a fresh warehouse")
	}
	return withCode(code, fmt.Errorf("demo: %s failed", step), "see the error above")
}

// demoTips are the commands the demo suggests trying next on its warehouse.
func demoTips(dir string, labels []string) []string {
	return []string{
		"mcasload query --list",
		"mcasload query password-spray --config " + filepath.Join(dir, demoConfig) + " --since 30d   # the warehouse comes from the config file",
		"mcasload query mass-download -w " + dir + " --since 30d --tenant-label " + labels[0] + "   # one tenant only",
		"mcasload query user-timeline -w " + dir + " --since 30d --param user=<a user from above>",
		`mcasload sql -w ` + dir + ` "SELECT tenant, app_name, count(*) AS n FROM activities GROUP BY ALL ORDER BY n DESC"`,
		`mcasload sql -w ` + dir + ` "SELECT tenant, application, action_type, count(*) AS n FROM cloud_app_events GROUP BY ALL ORDER BY n DESC LIMIT 10"   # the stream's rows`,
		"mcasload verify -w " + dir,
		"mcasload detect -w " + dir + "   # again: nothing new, exit 0; mcasload findings ack <id> -w " + dir + " --reason …",
		"open " + filepath.Join(dir, warehouse.ParquetDir) + " in pandas, polars or DuckDB (Hive layout, tenant=<label>/day=YYYY-MM-DD; hand one tenant its own tenant= folder)",
		"mcasload sim --tenants " + strings.Join(labels, ",") + "   # the simulator alone; then MCAS_TOKEN=<its token> mcasload scan --url <a url> --tenant-label <its tenant> -w " + dir,
	}
}
