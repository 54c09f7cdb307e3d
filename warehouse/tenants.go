package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/mcasload/mcasload/tenant"
)

// Tenants. A warehouse holds the rows of any number of tenants, each under its label
// (package tenant): every table with per-tenant data has a tenant column (whTable.perTenant), an
// id is stored once per tenant, watermarks and runs are a tenant's, and a dataset's Parquet
// folder is partitioned parquet/<table>/tenant=<label>/day=YYYY-MM-DD/, so one tenant's folder
// can be handed over alone. The tenants table records the source each label was first written
// from, so a label never silently takes rows from a second tenant.

// ErrTenantRequired is returned by Open for a writer that lets the warehouse choose its tenant
// (Options.TenantFromWarehouse) when the warehouse holds several.
var ErrTenantRequired = errors.New("warehouse: this warehouse holds several tenants; name one")

// ErrUnknownTenant is wrapped by readers for a selected label the warehouse does not hold.
var ErrUnknownTenant = errors.New("warehouse: no such tenant")

// TenantRequiredError lists the tenants of a warehouse when a writer must name one of them.
type TenantRequiredError struct {
	Dir     string
	Tenants []string
}

func (e *TenantRequiredError) Error() string {
	return fmt.Sprintf("open warehouse %s: it holds the tenants %s; say which one these rows belong to", e.Dir, strings.Join(e.Tenants, ", "))
}

func (e *TenantRequiredError) Unwrap() error { return ErrTenantRequired }

// upgradeTenantVar is the session variable migration 3 reads the label of earlier rows from.
const upgradeTenantVar = "mcasload_upgrade_tenant"

// upgradeTenantKey is the meta key recording the label rows stored before tenants were given
// (readers of a Parquet folder that is still being moved, and `mcasload migrate`, read it).
const upgradeTenantKey = "upgrade_tenant"

// hasRowsBefore is true in a warehouse that holds something to label (an empty one records no
// tenant at its upgrade).
const hasRowsBefore = `(EXISTS (SELECT 1 FROM wh.activity_ids) OR EXISTS (SELECT 1 FROM wh.runs) OR EXISTS (SELECT 1 FROM wh.rejected_activities))`

// migrationAddTenants is migration 3: a tenant column in every table of per-tenant data, filled
// with the label of the rows stored so far; state keyed by (tenant, key); the tenants table.
// Migration 1 builds activities and staging from schema.Columns, so a new warehouse has their
// tenant column already: hence IF NOT EXISTS, and the UPDATEs touch no row there.
var migrationAddTenants = func() string {
	label := `getvariable('` + upgradeTenantVar + `')`
	var b strings.Builder
	for _, t := range []string{"activities", "staging", "activity_ids", "pending", "rejected_activities", "runs", "commits"} {
		fmt.Fprintf(&b, "ALTER TABLE wh.%s ADD COLUMN IF NOT EXISTS tenant VARCHAR;\n", t)
		fmt.Fprintf(&b, "UPDATE wh.%s SET tenant = %s WHERE tenant IS NULL;\n", t, label)
	}
	fmt.Fprintf(&b, `CREATE TABLE wh.state_v3 (tenant VARCHAR NOT NULL, key VARCHAR NOT NULL, value VARCHAR NOT NULL, updated TIMESTAMPTZ NOT NULL,
	  PRIMARY KEY (tenant, key));
	INSERT INTO wh.state_v3 SELECT %[1]s, key, value, updated FROM wh.state;
	DROP TABLE wh.state;
	ALTER TABLE wh.state_v3 RENAME TO state;
	-- Each label and the source it was first written from (a scan URL, "simulator", "file").
	CREATE TABLE wh.tenants (tenant VARCHAR PRIMARY KEY, source VARCHAR, added TIMESTAMPTZ NOT NULL);
	INSERT INTO wh.tenants SELECT %[1]s, (SELECT max(value) FROM wh.meta WHERE key = 'source'), now() WHERE %[2]s;
	DELETE FROM wh.meta WHERE key = '%[3]s';
	INSERT INTO wh.meta SELECT '%[3]s', %[1]s WHERE %[2]s;
	UPDATE wh.meta SET value = '3' WHERE key = 'schema_version';`, label, hasRowsBefore, upgradeTenantKey)
	return b.String()
}()

// migrationTenantsNotNull is migration 4: rows, index entries and pending days always have a
// tenant (a new warehouse has the constraint from migration 1 already for its rows).
const migrationTenantsNotNull = `
	ALTER TABLE wh.activities ALTER COLUMN tenant SET NOT NULL;
	ALTER TABLE wh.staging ALTER COLUMN tenant SET NOT NULL;
	ALTER TABLE wh.activity_ids ALTER COLUMN tenant SET NOT NULL;
	ALTER TABLE wh.pending ALTER COLUMN tenant SET NOT NULL;`

// legacyLabel is the label of rows stored before tenants, from the source the warehouse
// recorded: the tenant of a scan URL, Simulator for the simulator, else (rows loaded from files)
// tenant.Default.
func legacyLabel(source string) string {
	if source == tenant.Simulator {
		return tenant.Simulator
	}
	if strings.Contains(source, "://") {
		if l, err := tenant.FromURL(source); err == nil {
			return l
		}
	}
	return tenant.Default
}

// readMeta reads the meta table of the attached warehouse (empty when it has none yet).
func readMeta(ctx context.Context, conn *sql.Conn, database string) (map[string]string, error) {
	meta := map[string]string{}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name = 'meta'`, database).Scan(&n); err != nil || n == 0 {
		return meta, err
	}
	err := scanRows(ctx, conn, `SELECT key, value FROM `+database+`.meta`, func(r *sql.Rows) error {
		var k, v string
		err := r.Scan(&k, &v)
		meta[k] = v
		return err
	})
	return meta, err
}

// upgradeLabel is the label migration 3 gives the rows already stored: the one the caller chose
// (Options.UpgradeTenant, from `mcasload migrate --tenant-label`), else legacyLabel of the
// recorded source.
func (w *Writer) upgradeLabel(ctx context.Context, s *session) (string, error) {
	if w.opts.UpgradeTenant != "" {
		return w.opts.UpgradeTenant, nil
	}
	meta, err := readMeta(ctx, s.conn, "wh")
	if err != nil {
		return "", fmt.Errorf("read warehouse meta: %w", err)
	}
	return legacyLabel(meta["source"]), nil
}

// listTenants returns the labels the attached warehouse holds: the ones recorded in the tenants
// table and the ones of stored rows (a rebuilt file may lack the first), sorted.
func listTenants(ctx context.Context, conn *sql.Conn) ([]string, error) {
	// Every commit records its tenant in wh.tenants (and repair and the upgrade to tenants do
	// too): reading the dedupe index's tenant column as well cost a scan of millions of rows.
	out, err := queryStrings(ctx, conn, `SELECT tenant FROM wh.tenants ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	return out, nil
}

// resolveTenant settles the writer's tenant: the one asked for (checked), else the warehouse's
// only tenant (tenant.Default in an empty one); a warehouse of several leaves it unset, which
// TenantFromWarehouse refuses. A label already recorded from another source is refused unless
// AllowMixedSources.
func (w *Writer) resolveTenant(ctx context.Context, s *session) error {
	if w.opts.Tenant != "" {
		l, err := tenant.Parse(w.opts.Tenant)
		if err != nil {
			return fmt.Errorf("open warehouse %s: %w", w.dir, err)
		}
		if w.opts.TenantDerived {
			if l, err = tenantOfSource(ctx, s.conn, w.opts.Source, l); err != nil {
				return err
			}
			if l != w.opts.Tenant {
				w.log.Info("the rows go to the tenant this source was first written to", "tenant", l, "source", w.opts.Source, "derived", w.opts.Tenant)
			}
		}
		w.tenant = l
	} else {
		all, err := listTenants(ctx, s.conn)
		if err != nil {
			return err
		}
		switch {
		case len(all) == 0:
			w.tenant = tenant.Default
		case len(all) == 1:
			w.tenant = all[0]
		case w.opts.TenantFromWarehouse:
			return &TenantRequiredError{Dir: w.dir, Tenants: all}
		}
	}
	if w.tenant == "" || w.opts.Source == "" {
		return nil
	}
	var recorded sql.NullString
	err := s.conn.QueryRowContext(ctx, `SELECT source FROM wh.tenants WHERE tenant = ?`, w.tenant).Scan(&recorded)
	switch {
	case errors.Is(err, sql.ErrNoRows) || (err == nil && (!recorded.Valid || recorded.String == "")):
		return nil
	case err != nil:
		return fmt.Errorf("read tenants: %w", err)
	case recorded.String != w.opts.Source:
		if !w.opts.AllowMixedSources {
			return fmt.Errorf("open warehouse %s: its tenant %s was loaded from %q, not %q: %w", w.dir, w.tenant, recorded.String, w.opts.Source, ErrSourceMismatch)
		}
		w.log.Warn("mixing sources in one tenant", "dir", w.dir, "tenant", w.tenant, "recorded", recorded.String, "now", w.opts.Source)
	}
	return nil
}

// tenantOfSource is the label a scan of source stores under when its label was derived: the one
// tenant first written from source, when there is exactly one, else derived. The simulator's
// source ("simulator", any loopback URL) names no tenant, so it never decides.
func tenantOfSource(ctx context.Context, conn *sql.Conn, source, derived string) (string, error) {
	if source == "" || source == tenant.Simulator {
		return derived, nil
	}
	labels, err := queryStrings(ctx, conn, `SELECT tenant FROM wh.tenants WHERE source = ? ORDER BY 1`, source)
	if err != nil {
		return "", fmt.Errorf("read tenants: %w", err)
	}
	if len(labels) == 1 {
		return labels[0], nil
	}
	return derived, nil
}

// TenantOfSource is, for a reader of a warehouse (DuckDB file), the label a scan of source
// whose label was derived (derived) stores under: see Options.TenantDerived. A warehouse not
// yet upgraded, or read from Parquet, answers derived.
func (r *Reader) TenantOfSource(ctx context.Context, source, derived string) (string, error) {
	if r.From != FromDuckDB {
		return derived, nil
	}
	if ok, err := hasColumn(ctx, r.conn, "wh", "activity_ids", "tenant"); err != nil || !ok {
		return derived, err
	}
	return tenantOfSource(ctx, r.conn, source, derived)
}

// recordTenant records label (and the writer's source, unless one is recorded) inside a commit's
// transaction.
func (w *Writer) recordTenant(ctx context.Context, s *session, label string) error {
	return s.exec(ctx, `INSERT INTO wh.tenants VALUES (?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET source = coalesce(tenants.source, excluded.source)`,
		label, nullIfEmpty(w.opts.Source), w.opts.Clock.Now().UTC())
}

// Tenant is the writer's tenant: the label its commits store rows under unless a Commit names
// another ("" for a maintenance writer opened without one).
func (w *Writer) Tenant() string { return w.tenant }

// Tenants lists the labels the warehouse holds, sorted.
func (w *Writer) Tenants(ctx context.Context) (_ []string, err error) {
	defer markStorage(&err)
	s, err := w.session(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	return listTenants(ctx, s.conn)
}

// selectTenants checks a selection against the labels a warehouse holds: nil selects them all;
// a label it does not hold is an error naming the ones it does.
func selectTenants(selection, held []string) ([]string, error) {
	if len(selection) == 0 {
		return held, nil
	}
	for _, l := range selection {
		if !slices.Contains(held, l) {
			if len(held) == 0 {
				return nil, fmt.Errorf("select tenant %s: the warehouse holds no tenant yet: %w", l, ErrUnknownTenant)
			}
			return nil, fmt.Errorf("select tenant %s: the warehouse holds %s: %w", l, strings.Join(held, ", "), ErrUnknownTenant)
		}
	}
	return selection, nil
}

// tenantFilter is a WHERE condition on column tenant for a selection ("true" for all).
func tenantFilter(selection []string) string { return tenantFilterOn("tenant", selection) }

// tenantFilterOn is a WHERE condition on the SQL expression expr for a selection.
func tenantFilterOn(expr string, selection []string) string {
	if len(selection) == 0 {
		return "true"
	}
	q := make([]string, len(selection))
	for i, l := range selection {
		q[i] = quoteString(l)
	}
	return expr + " IN (" + strings.Join(q, ", ") + ")"
}
