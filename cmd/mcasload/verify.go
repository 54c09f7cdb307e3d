package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/internal/humanize"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/warehouse"
)

func (e *env) verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "compare DuckDB and Parquet day by day (counts, ids, duplicates, rows outside their day)",
		Description: "Takes the writer lock (so no load or scan runs meanwhile; like every writer it first " +
			"finishes publishing what an interrupted run committed) and changes no row. Exits 1 when a " +
			"problem is found, naming the tenants and days; mcasload repair fixes them. --tenant-label " +
			"compares only those tenants' rows.\n\n" +
			"With --remote URL it compares instead the Parquet dataset (of a warehouse, or of a copy made by " +
			"mcasload sync) with the newest manifest pushed there and the files stored there: paths, sizes " +
			"and sha256 (--deep downloads every remote file to hash it).",
		Flags: append([]cli.Flag{
			warehouseFlag(),
			tenantSelectionFlag(),
			&cli.StringFlag{Name: "remote", Usage: "compare with the dataset pushed to storage `URL` (docs/publish.md)"},
			&cli.BoolFlag{Name: "deep", Usage: "with --remote: download and hash every remote file instead of trusting its stored sha256"},
		}, storageFlags()...),
		Action: e.runVerify,
	}
}

func (e *env) repairCommand() *cli.Command {
	return &cli.Command{
		Name:  "repair",
		Usage: "rebuild one sink from the other",
		Description: "--from duckdb rewrites every Parquet day from the DuckDB table; --from parquet " +
			"replaces the DuckDB table with the Parquet rows. Either way the dedupe index is rebuilt, so a " +
			"later load brings back what the repair could not. Run mcasload verify afterwards.",
		Flags: []cli.Flag{
			warehouseFlag(),
			&cli.StringFlag{Name: "from", Required: true, Usage: "the sink that is right: duckdb or parquet"},
		},
		Action: e.runRepair,
	}
}

// openExisting opens an existing warehouse for a maintenance command, with the sinks it keeps
// (read from its status) so the writer does not refuse it, and maps failures to exit codes.
func (e *env) openExisting(c *cli.Context, command, upgradeTenant string) (*warehouse.Writer, error) {
	return e.openExistingWith(c, command, upgradeTenant, nil)
}

// openRewriting is openExisting for a command that changes the activities (prune, repair) or
// the file (migrate, optimize): its Close rebuilds the first times of the days that changed.
func (e *env) openRewriting(c *cli.Context, command, upgradeTenant string) (*warehouse.Writer, error) {
	return e.openExistingWith(c, command, upgradeTenant, firsts())
}

func (e *env) openExistingWith(c *cli.Context, command, upgradeTenant string, f *warehouse.FirstsSpec) (*warehouse.Writer, error) {
	opts, err := e.existingOptions(c, command, upgradeTenant)
	if err != nil {
		return nil, err
	}
	opts.Firsts = f
	return openWriter(c.Context, opts)
}

// firsts is how the warehouse builds the first times the investigations read.
func firsts() *warehouse.FirstsSpec {
	f := queries.Firsts()
	return &f
}

// existingOptions are the writer options of a command that works on the existing warehouse
// --warehouse names (its sinks as recorded), for callers that change some before opening it.
func (e *env) existingOptions(c *cli.Context, command, upgradeTenant string) (warehouse.Options, error) {
	if err := refuseCopy(c.String("warehouse")); err != nil {
		return warehouse.Options{}, err
	}
	log, err := e.logger(c)
	if err != nil {
		return warehouse.Options{}, err
	}
	dir := c.String("warehouse")
	st, err := warehouse.ReadStatus(c.Context, warehouse.ReaderOptions{Dir: dir, Logger: log})
	if err != nil {
		if dbErr := databaseProblem(dir, err); dbErr != nil {
			return warehouse.Options{}, dbErr
		}
		if errors.Is(err, warehouse.ErrBusy) || errors.Is(err, warehouse.ErrLocked) {
			return warehouse.Options{}, withCode(exitLocked, err, "another process has the warehouse open; retry when it has finished")
		}
		return warehouse.Options{}, withCode(exitFailure, err, "pass --warehouse with the folder of an existing warehouse")
	}
	return warehouse.Options{Dir: dir, Sinks: st.Sinks, Command: command, Logger: log, UpgradeTenant: upgradeTenant}, nil
}

// errDatabaseDamaged marks a warehouse whose Parquet dataset is there but whose DuckDB file is
// missing or cannot be opened; repair --from parquet rebuilds it.
var errDatabaseDamaged = errors.New("the duckdb file is missing or damaged")

// databaseProblem turns a failure to read the warehouse status into a verify problem when the
// Parquet dataset is there but the DuckDB file is missing or unreadable (not merely locked).
func databaseProblem(dir string, err error) error {
	if !warehouse.HasParquet(dir) || errors.Is(err, warehouse.ErrLocked) || errors.Is(err, warehouse.ErrBusy) {
		return nil
	}
	file := filepath.Join(dir, warehouse.DatabaseFile)
	what := "is damaged"
	if _, serr := os.Stat(file); errors.Is(serr, os.ErrNotExist) {
		what = "is missing"
	}
	return withCode(exitFailure, fmt.Errorf("verify: problem: the duckdb file %s %s (%v); the parquet dataset is there: %w", file, what, err, errDatabaseDamaged),
		"rebuild the duckdb file from the parquet dataset with mcasload repair --from parquet (a damaged file is moved to the quarantine folder first)")
}

func (e *env) runVerify(c *cli.Context) error {
	if c.String("remote") != "" {
		return e.runVerifyRemote(c)
	}
	sel, err := tenantSelection(c)
	if err != nil {
		return err
	}
	w, err := e.openExisting(c, "mcasload verify", "")
	if err != nil {
		return err
	}
	rep, verr := w.Verify(c.Context, sel...)
	if errors.Is(verr, warehouse.ErrUnknownTenant) {
		w.Close(context.WithoutCancel(c.Context))
		return withCode(exitUsage, verr, "mcasload status lists the tenants of the warehouse")
	}
	if err := w.Close(context.WithoutCancel(c.Context)); err != nil && verr == nil {
		verr = err
	}
	if verr != nil {
		return verr
	}
	var rows int64
	for _, d := range rep.Days {
		rows += d.DuckDB
	}
	if rep.Pending > 0 {
		fmt.Fprintf(e.stdout, "note: %d (day, commit) pairs were still unpublished and are not compared\n", rep.Pending)
	}
	if rep.OK() {
		fmt.Fprintf(e.stdout, "verify: ok: %s, %d tenant-days, %s rows; DuckDB and Parquet agree (ids, counts, days, no duplicates)\n",
			plural(countTenants(rep), "tenant"), len(rep.Days), humanize.Count(rows))
		return nil
	}
	problems := rep.Problems()
	fmt.Fprintf(e.stdout, "verify: %d problems:\n  %s\n", len(problems), strings.Join(problems, "\n  "))
	if len(rep.TableProblems) > 0 {
		return withCode(exitFailure, errors.New("verify: the duckdb file's tables differ from what mcasload made"),
			"the file was changed outside mcasload: move "+warehouse.DatabaseFile+" aside (keep it), then mcasload repair --from parquet rebuilds it from the Parquet dataset")
	}
	return withCode(exitFailure, errors.New("verify: the sinks disagree"),
		"rebuild the wrong sink with mcasload repair --from duckdb (or --from parquet if the DuckDB file is the damaged one); files repair will not use are moved to the quarantine folder, never deleted")
}

func (e *env) runRepair(c *cli.Context) error {
	from, err := warehouse.ParseSinks(c.String("from"))
	if err != nil || from == warehouse.SinkBoth {
		return usageErrorf("--from must be duckdb or parquet, not %q", c.String("from"))
	}
	w, err := e.openRewriting(c, "mcasload repair --from "+string(from), "")
	if errors.Is(err, errDatabaseDamaged) && from == warehouse.SinkParquet {
		log, lerr := e.logger(c)
		if lerr != nil {
			return lerr
		}
		opts := warehouse.Options{Dir: c.String("warehouse"), Command: "mcasload repair --from parquet", Logger: log}
		if err := warehouse.RebuildDatabase(c.Context, opts); err != nil {
			return withStorageHint(err)
		}
		w, err = openWriter(c.Context, opts)
	}
	if err != nil {
		return err
	}
	rerr := w.Repair(c.Context, from)
	var rep *warehouse.VerifyReport
	if rerr == nil {
		rep, rerr = w.Verify(c.Context)
	}
	if err := w.Close(context.WithoutCancel(c.Context)); err != nil && rerr == nil {
		rerr = err
	}
	if rerr != nil {
		return rerr
	}
	if !rep.OK() {
		return withCode(exitFailure, fmt.Errorf("repair from %s: the sinks still disagree: %s", from, strings.Join(rep.Problems(), "; ")),
			"try repairing from the other sink, or reload the source files into a new warehouse")
	}
	fmt.Fprintf(e.stdout, "repair: rebuilt from %s; verify ok over %d days\n", from, len(rep.Days))
	return nil
}

// countTenants counts the tenants a verify report compared.
func countTenants(rep *warehouse.VerifyReport) int {
	seen := map[string]bool{}
	for _, d := range rep.Days {
		seen[d.Tenant] = true
	}
	return len(seen)
}

func (e *env) migrateCommand() *cli.Command {
	return &cli.Command{
		Name:  "migrate",
		Usage: "upgrade a warehouse made by an earlier mcasload now, naming the tenant of its rows",
		Description: "Every writer (load, scan, verify, repair, …) upgrades an older warehouse in place when it " +
			"opens it; migrate does only that, so you choose when it runs and, with --tenant-label, which tenant " +
			"the rows stored before tenants belong to. Without it they get the tenant of the scan URL the " +
			"warehouse was loaded from (contoso for https://contoso.eu2.portal.cloudappsecurity.com), " +
			"\"simulator\" for the simulator, and \"default\" for rows loaded from files. Killed half way, rerun " +
			"it: it finishes the upgrade. On a current warehouse it changes nothing. docs/tenants.md has the details.",
		Flags: []cli.Flag{
			warehouseFlag(),
			tenantLabelFlag("the tenant `LABEL` of the rows stored before tenants (letters, digits, '-', '_', '.')"),
		},
		Action: e.runMigrate,
	}
}

func (e *env) runMigrate(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("migrate takes no arguments, got %q", c.Args().First())
	}
	label, err := tenantLabel(c)
	if err != nil {
		return err
	}
	w, err := e.openRewriting(c, "mcasload migrate", label)
	if err != nil {
		return err
	}
	tenants, terr := w.Tenants(c.Context)
	got := w.UpgradeTenant()
	if err := errors.Join(terr, w.Close(context.WithoutCancel(c.Context))); err != nil {
		return withStorageHint(err)
	}
	switch {
	case got == "":
		fmt.Fprintf(e.stdout, "migrate: %s is current; it holds no rows from before tenants\n", w.Dir())
	case label != "" && got != label:
		return withCode(exitFailure, fmt.Errorf("migrate: %s was upgraded earlier and its rows from before tenants are tenant %s, not %s", w.Dir(), got, label),
			"a label is given once, at the upgrade; to keep the new rows apart, load or scan them with --tenant-label "+label)
	default:
		fmt.Fprintf(e.stdout, "migrate: %s is current; its rows from before tenants are tenant %s\n", w.Dir(), got)
	}
	fmt.Fprintf(e.stdout, "tenants: %s\n", strings.Join(tenants, ", "))
	return nil
}
