package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/tenant"
	"github.com/mcasload/mcasload/warehouse"
)

// The tenant flag is --tenant-label everywhere, never --tenant: --tenant-id is the Entra
// directory a sign-in uses, a different thing. docs/tenants.md describes labels.
const tenantFlagName = "tenant-label"

// tenantLabelFlag is --tenant-label of a command that stores one tenant's rows (scan, load,
// audit); usage says what the default is for that command.
func tenantLabelFlag(usage string) cli.Flag {
	return &cli.StringFlag{Name: tenantFlagName, Usage: usage}
}

// tenantSelectionFlag is --tenant-label of a command that reads: which tenants.
func tenantSelectionFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: tenantFlagName, Usage: "only the tenant `LABEL` (a comma-separated list, or repeat the flag, for several; default every tenant)"}
}

// tenantSelection parses a reader's --tenant-label values (nil: every tenant).
func tenantSelection(c *cli.Context) ([]string, error) {
	sel, err := tenant.ParseSelection(c.StringSlice(tenantFlagName))
	if err != nil {
		return nil, usageErrorf("--%s: %v", tenantFlagName, err)
	}
	return sel, nil
}

// tenantLabel parses a writer's --tenant-label ("" when not given).
func tenantLabel(c *cli.Context) (string, error) {
	v := c.String(tenantFlagName)
	if v == "" {
		return "", nil
	}
	l, err := tenant.Parse(v)
	if err != nil {
		return "", usageErrorf("--%s: %v", tenantFlagName, err)
	}
	return l, nil
}

// scanTenantLabel is the tenant of a scan of url: --tenant-label, else (derived true) the one
// the URL names; the warehouse then keeps a tenant it recorded from this source under another
// label (warehouse.Options.TenantDerived).
func scanTenantLabel(c *cli.Context, url string) (label string, derived bool, err error) {
	if label, err = tenantLabel(c); err != nil || label != "" {
		return label, false, err
	}
	if label, err = tenant.FromURL(url); err != nil {
		return "", false, usageErrorf("%v; pass --%s NAME", err, tenantFlagName)
	}
	return label, true, nil
}

// openReader opens the warehouse (or the --parquet dataset) read-only for the tenants
// --tenant-label selects, mapping failures to exit codes with hints.
func (e *env) openReader(c *cli.Context, log *slog.Logger) (*warehouse.Reader, error) {
	sel, err := tenantSelection(c)
	if err != nil {
		return nil, err
	}
	opts := warehouse.ReaderOptions{Dir: c.String("warehouse"), Logger: log, Tenants: sel}
	var r *warehouse.Reader
	if dir := c.String("parquet"); dir != "" {
		if err := checkParquetDir(dir); err != nil {
			return nil, err
		}
		opts.Dir = dir
		r, err = warehouse.OpenParquet(c.Context, opts)
	} else {
		r, err = warehouse.OpenReader(c.Context, opts)
	}
	switch {
	case errors.Is(err, warehouse.ErrUnknownTenant):
		return nil, withCode(exitUsage, err, "mcasload status lists the tenants of the warehouse")
	case errors.Is(err, warehouse.ErrDamaged):
		return nil, withCode(exitFailure, err, damagedHint)
	case err != nil:
		return nil, withCode(exitFailure, err, "pass --warehouse DIR (or MCAS_WAREHOUSE) of a loaded warehouse, or --parquet DIR")
	}
	return r, nil
}

// parquetSearchDepth is how deep checkParquetDir looks for a Parquet file: a warehouse folder
// holds them at parquet/activities/tenant=…/day=…/ (four levels down).
const parquetSearchDepth = 5

// checkParquetDir refuses a --parquet path that is missing, is not a folder or holds no
// Parquet file within a few levels, as a usage error naming it: reading it would answer "no
// rows" about a dataset that is not there.
func checkParquetDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return withCode(exitUsage, fmt.Errorf("--parquet %s: no such folder", dir), "give the folder of a Parquet dataset (day=YYYY-MM-DD/ or tenant=…/day=…/ folders), or a warehouse with --warehouse")
	case err != nil:
		return withCode(exitUsage, fmt.Errorf("--parquet %s: %w", dir, err), "")
	case !fi.IsDir():
		return withCode(exitUsage, fmt.Errorf("--parquet %s: not a folder", dir), "give the folder that holds the dataset's day=YYYY-MM-DD/ folders, not one file")
	}
	found := false
	root := filepath.Clean(dir)
	_ = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || found {
			return filepath.SkipDir
		}
		if d.IsDir() && path != root && strings.Count(strings.TrimPrefix(path, root), string(filepath.Separator)) > parquetSearchDepth {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".parquet") {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	if !found {
		return withCode(exitUsage, fmt.Errorf("--parquet %s: no Parquet files in this folder", dir), "give the folder of a Parquet dataset (day=YYYY-MM-DD/ or tenant=…/day=…/ folders); mcasload export --partition-by day and mcasload sync write one")
	}
	return nil
}

// openInvestigations locks the reader's connection down for queries and makes investigations
// run once per selected tenant.
func openInvestigations(c *cli.Context, r *warehouse.Reader) (*queries.Session, error) {
	lock := queries.Lockdown{}
	if r.From == warehouse.FromParquet {
		// The views read Parquet files lazily, so the warehouse folder stays readable.
		lock.AllowedDirectories = []string{r.Dir}
	}
	s, err := queries.Open(c.Context, r.Conn(), lock)
	if err != nil {
		return nil, err
	}
	if err := s.UseTenants(warehouse.ActivitiesView, r.Tenants); err != nil {
		return nil, err
	}
	return s, nil
}

// tenantRequired maps a writer that must be told its tenant to a usage error naming them.
func tenantRequired(err error) error {
	var tr *warehouse.TenantRequiredError
	if errors.As(err, &tr) {
		return withCode(exitUsage, err, fmt.Sprintf("pass --%s with one of %s (or a new label for a new tenant)", tenantFlagName, strings.Join(tr.Tenants, ", ")))
	}
	return nil
}
