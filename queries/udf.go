package queries

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"net/netip"
	"strings"
	"sync"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/mcasload/mcasload/allowlist"
)

// ipInRanges is the SQL function ip_in_ranges(ip VARCHAR, ranges VARCHAR[]) BOOLEAN: whether
// the address lies in one of the networks (CIDR, as bound by a cidrs parameter). DuckDB's inet
// extension cannot be loaded in a locked session, and comparing text prefixes is wrong
// (192.168.1 is a prefix of 192.168.10.5), so the test is Go's net/netip. An address that does
// not parse is in no range; NULL in gives false, never NULL.
type ipInRanges struct {
	mu    sync.Mutex
	cache map[string][]netip.Prefix // ranges joined by "," → parsed, for the few lists a query binds
}

func (f *ipInRanges) Config() duckdb.ScalarFuncConfig {
	varchar, _ := duckdb.NewTypeInfo(duckdb.TYPE_VARCHAR)
	list, _ := duckdb.NewListInfo(varchar)
	boolean, _ := duckdb.NewTypeInfo(duckdb.TYPE_BOOLEAN)
	// Volatile keeps the optimizer from pushing the test into the table scan ahead of the cheap
	// filters (admin, the categories): there it would cross into Go for every row of the window.
	return duckdb.ScalarFuncConfig{InputTypeInfos: []duckdb.TypeInfo{varchar, list}, ResultTypeInfo: boolean,
		SpecialNullHandling: true, Volatile: true}
}

func (f *ipInRanges) Executor() duckdb.ScalarFuncExecutor {
	return duckdb.ScalarFuncExecutor{RowExecutor: f.row}
}

func (f *ipInRanges) row(values []driver.Value) (any, error) {
	ip, _ := values[0].(string)
	addr, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return false, nil
	}
	addr = addr.Unmap()
	for _, p := range f.ranges(values[1]) {
		if p.Contains(addr) {
			return true, nil
		}
	}
	return false, nil
}

func (f *ipInRanges) ranges(v driver.Value) []netip.Prefix {
	items, _ := v.([]any)
	texts := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			texts = append(texts, s)
		}
	}
	key := strings.Join(texts, ",")
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.cache[key]; ok {
		return p
	}
	var out []netip.Prefix
	for _, s := range texts {
		if p, err := allowlist.ParsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	if f.cache == nil {
		f.cache = map[string][]netip.Prefix{}
	}
	f.cache[key] = out
	return out
}

// registerFunctions adds the session's Go functions to the connection once.
func registerFunctions(ctx context.Context, conn *sql.Conn) error {
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM duckdb_functions() WHERE function_name = 'ip_in_ranges'").Scan(&n); err != nil {
		return fmt.Errorf("list functions: %w", err)
	}
	if n > 0 {
		return nil
	}
	if err := duckdb.RegisterScalarUDF(conn, "ip_in_ranges", &ipInRanges{}); err != nil {
		return fmt.Errorf("register ip_in_ranges: %w", err)
	}
	return nil
}
