package queries

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/mcasload/mcasload/allowlist"
	"github.com/mcasload/mcasload/output"
)

// ErrNotReadOnly is returned (wrapped) by Session.SQL for a statement other than a query, or
// one that reaches for files outside the warehouse, extensions or settings.
var ErrNotReadOnly = errors.New("only read-only queries are allowed")

// refused wraps DuckDB's permission errors (the lock-down at work) in ErrNotReadOnly.
func refused(err error) error {
	var de *duckdb.Error
	if errors.As(err, &de) && de.Type == duckdb.ErrorTypePermission {
		return fmt.Errorf("%w: the session reads only the warehouse: %w", ErrNotReadOnly, err)
	}
	return err
}

// Lockdown says which files a locked session may still read: the warehouse's own Parquet when the
// "activities" view reads Parquet rather than an attached DuckDB file.
type Lockdown struct {
	AllowedDirectories []string
	AllowedPaths       []string
}

// Session runs investigations and ad-hoc SQL on one DuckDB connection locked down so that
// queries can read the warehouse and nothing else. It is not safe for concurrent use.
type Session struct {
	conn  *sql.Conn
	arrow *duckdb.Arrow
	// allow suppresses detection rows (an empty list unless UseAllowList was called).
	allow *allowlist.List
	// portal is how detection rows link to their evidence (UsePortal; no links by default).
	portal output.Portal
	// evidence is how many evidence ids a detection row keeps unless a request says (UseEvidence).
	evidence int
	// portals are the tenants' own portals (UseTenantPortals); current is the tenant being run.
	portals map[string]output.Portal
	current string
	// base and tenants: investigations run once per tenant over base narrowed to it (UseTenants).
	base    string
	tenants []string
	// stream is whether the connection holds stream rows (cloud_app_events); without them
	// all_events is the activities alone and no stream view is narrowed per tenant.
	stream bool
	// firsts is whether the connection holds the warehouse's first times (activity_firsts and
	// activity_firsts_days): event_firsts reads them during a run (firsts.go).
	firsts bool
	// narrowed is the stretch and sources the events view reads (zero: all_events); unknown
	// after a narrowing that failed half-way.
	narrowed narrowing
	unknown  bool
	// batch is set while Batch runs: events stays narrowed between investigations, and the
	// history look-ups are remembered in held (per tenant and day) and first (per tenant).
	batch bool
	held  map[string]bool
	first map[string]firstSeen
}

// narrowing is what narrowEvents last pointed the events view at.
type narrowing struct {
	from, until time.Time
	sources     string
	tenant      string // the tenant event_firsts reads the first times of
}

// firstSeen is a remembered answer of firstActivity.
type firstSeen struct {
	at time.Time
	ok bool
}

// Open prepares conn, whose "activities" table or view is already set up (warehouse.Reader's
// connection), for investigations: it creates the normalized events views and the
// classification and locks the connection down: no file access outside lock's allowances, no
// extension install or autoload, no configuration change afterwards. The lock lasts as long as
// conn; the caller closes conn.
func Open(ctx context.Context, conn *sql.Conn, lock Lockdown) (*Session, error) {
	s := &Session{conn: conn, allow: allowlist.Empty(), portal: output.Portal{Note: "no portal was named for these activities"}}
	if err := s.setup(ctx, lock); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Session) setup(ctx context.Context, lock Lockdown) error {
	var locked bool
	if err := s.conn.QueryRowContext(ctx, "SELECT current_setting('lock_configuration')").Scan(&locked); err != nil {
		return fmt.Errorf("read session settings: %w", err)
	}
	if !locked {
		if _, err := s.conn.ExecContext(ctx, "SET TimeZone = 'UTC'"); err != nil {
			return fmt.Errorf("set time zone: %w", err)
		}
	}
	if err := registerFunctions(ctx, s.conn); err != nil {
		return err
	}
	if err := s.setupEvents(ctx); err != nil {
		return err
	}
	if !locked {
		// allowed_* must be set while external access is still on; lock_configuration last.
		stmts := []struct {
			sql string
			arg any
		}{
			{"SET allowed_directories = $1", nonNil(lock.AllowedDirectories)},
			{"SET allowed_paths = $1", nonNil(lock.AllowedPaths)},
			{"SET enable_external_access = false", nil},
			{"SET autoinstall_known_extensions = false", nil},
			{"SET autoload_known_extensions = false", nil},
			{"SET allow_community_extensions = false", nil},
			{"SET lock_configuration = true", nil},
		}
		for _, st := range stmts {
			var err error
			if st.arg != nil {
				err = s.setList(ctx, st.sql, st.arg.([]string))
			} else {
				_, err = s.conn.ExecContext(ctx, st.sql)
			}
			if err != nil {
				return fmt.Errorf("lock down query session (%s): %w", st.sql, err)
			}
		}
	}
	var external bool
	if err := s.conn.QueryRowContext(ctx, "SELECT current_setting('enable_external_access')").Scan(&external); err != nil {
		return fmt.Errorf("read session settings: %w", err)
	}
	if external {
		return errors.New("lock down query session: the connection was locked with external access on; open it unlocked")
	}
	return s.conn.Raw(func(dc any) error {
		a, err := duckdb.NewArrowFromConn(dc.(*duckdb.Conn))
		if err != nil {
			return fmt.Errorf("open arrow interface: %w", err)
		}
		s.arrow = a
		return nil
	})
}

// setList sets a list-valued setting. SET takes no parameters, so the list is written as a SQL
// literal with every quote doubled; the values are the warehouse's own paths, not user SQL.
func (s *Session) setList(ctx context.Context, stmt string, list []string) error {
	if len(list) == 0 {
		return nil
	}
	quoted := make([]string, len(list))
	for i, v := range list {
		quoted[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	_, err := s.conn.ExecContext(ctx, strings.Replace(stmt, "$1", "["+strings.Join(quoted, ", ")+"]", 1))
	return err
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// Run binds values to inv's parameters (see Investigation.Bind) and runs it with the session's
// allow-list, as Investigate does (once per tenant when the session holds several), returning the
// rows alone. The caller releases the reader.
func (s *Session) Run(ctx context.Context, inv *Investigation, values map[string]string, now time.Time) (array.RecordReader, error) {
	res, err := s.Investigate(ctx, inv, Request{Values: values, Now: now})
	if err != nil {
		return nil, err
	}
	defer res.Release()
	return res.Reader()
}

// SQL runs one ad-hoc read-only statement (SELECT, a WITH query, SUMMARIZE, DESCRIBE, SHOW,
// EXPLAIN or VALUES): anything that could write, attach, install or configure is refused before
// it runs, and the locked session refuses it again if it got that far.
func (s *Session) SQL(ctx context.Context, query string) (array.RecordReader, error) {
	var kind duckdb.StmtType
	err := s.conn.Raw(func(dc any) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		// Prepare, not PrepareContext: the latter executes every statement before the last one,
		// while Prepare refuses more than one statement without running anything.
		st, err := dc.(*duckdb.Conn).Prepare(query)
		if err != nil {
			if strings.Contains(err.Error(), "multiple statements") || strings.Contains(err.Error(), "PrepareContext") {
				return errors.New("give one statement at a time")
			}
			return err
		}
		defer st.Close()
		kind, err = st.(*duckdb.Stmt).StatementType()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("prepare query: %w", refused(err))
	}
	if kind != duckdb.STATEMENT_TYPE_SELECT && kind != duckdb.STATEMENT_TYPE_EXPLAIN {
		return nil, fmt.Errorf("%w: this is a %s statement; use SELECT (or WITH, DESCRIBE, SUMMARIZE, EXPLAIN)", ErrNotReadOnly, stmtTypeName(kind))
	}
	rdr, err := s.arrow.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("run query: %w", refused(err))
	}
	return rdr, nil
}

func stmtTypeName(k duckdb.StmtType) string {
	names := map[duckdb.StmtType]string{
		duckdb.STATEMENT_TYPE_INSERT: "INSERT", duckdb.STATEMENT_TYPE_UPDATE: "UPDATE",
		duckdb.STATEMENT_TYPE_DELETE: "DELETE", duckdb.STATEMENT_TYPE_CREATE: "CREATE",
		duckdb.STATEMENT_TYPE_DROP: "DROP", duckdb.STATEMENT_TYPE_COPY: "COPY",
		duckdb.STATEMENT_TYPE_ATTACH: "ATTACH", duckdb.STATEMENT_TYPE_DETACH: "DETACH",
		duckdb.STATEMENT_TYPE_SET: "SET", duckdb.STATEMENT_TYPE_LOAD: "LOAD/INSTALL",
		duckdb.STATEMENT_TYPE_PRAGMA: "PRAGMA", duckdb.STATEMENT_TYPE_CALL: "CALL",
		duckdb.STATEMENT_TYPE_ALTER: "ALTER", duckdb.STATEMENT_TYPE_TRANSACTION: "transaction",
		duckdb.STATEMENT_TYPE_EXPORT: "EXPORT", duckdb.STATEMENT_TYPE_VACUUM: "VACUUM",
	}
	if n, ok := names[k]; ok {
		return n
	}
	return "non-query"
}
