package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/warehouse"
)

// scopeColumns maps the scan filters the audit can count in the warehouse to their column.
var scopeColumns = map[string]string{
	"service":            "app_id",
	"user.username":      "lower(user_name)",
	"activity.eventType": "event_type",
}

// scopeSQL turns a scope's canonical filters into a condition on the warehouse's columns. Only
// eq lists of the scan's shortcut filters have one; other filters cannot be counted locally.
func scopeSQL(canon mcas.Filters) (string, []any, error) {
	var sb strings.Builder
	var args []any
	keys := make([]string, 0, len(canon))
	for k := range canon {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, key := range keys {
		col, ok := scopeColumns[key]
		ops := canon[key]
		list, isList := ops["eq"].([]any)
		if !ok || len(ops) != 1 || !isList || len(list) == 0 {
			return "", nil, fmt.Errorf("audit: the filter %q cannot be counted in the warehouse: %w", key, ErrUncountableScope)
		}
		marks := make([]string, len(list))
		for i, v := range list {
			marks[i] = "?"
			if n, ok := v.(json.Number); ok {
				i64, err := n.Int64()
				if err != nil {
					return "", nil, fmt.Errorf("audit: filter %q value %v: %w", key, v, err)
				}
				args = append(args, i64)
				continue
			}
			s := fmt.Sprint(v)
			if key == "user.username" {
				s = strings.ToLower(s)
			}
			args = append(args, s)
		}
		fmt.Fprintf(&sb, " AND %s IN (%s)", col, strings.Join(marks, ", "))
	}
	return sb.String(), args, nil
}

// scanWatermark reads the watermark of tenant label's scan of tenantURL with filters canon: the
// audit checks what that scan promises, the activities stored before it. tenantCol is the SQL of
// a state row's tenant (its column, or the label in a warehouse not yet upgraded to tenants).
func scanWatermark(ctx context.Context, r *warehouse.Reader, tenantCol, label, tenantURL string, canon mcas.Filters) (time.Time, error) {
	if r.From != warehouse.FromDuckDB {
		return time.Time{}, fmt.Errorf("audit: the scan watermarks live in the DuckDB file, which cannot be read now (%s); try again when the writer has finished", r.Fallback)
	}
	rows, err := r.Conn().QueryContext(ctx, `SELECT `+tenantCol+`, key, value FROM wh.state WHERE starts_with(key, ?) ORDER BY ALL`, loader.WatermarkPrefix)
	if err != nil {
		return time.Time{}, fmt.Errorf("audit: read watermarks: %w", err)
	}
	defer rows.Close()
	marks := map[[2]string]string{} // (tenant, key) → value
	for rows.Next() {
		var t, k, v string
		if err := rows.Scan(&t, &k, &v); err != nil {
			return time.Time{}, fmt.Errorf("audit: read watermarks: %w", err)
		}
		if v != loader.ResetWatermark {
			marks[[2]string{t, k}] = v
		}
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, fmt.Errorf("audit: read watermarks: %w", err)
	}
	if len(marks) == 0 {
		return time.Time{}, fmt.Errorf("%w (no scan watermark, tenant %s): the audit compares a warehouse with the API it was scanned from; a warehouse loaded from files has none",
			ErrNotScanned, label)
	}
	key := loader.WatermarkKey(tenantURL, canon)
	v, ok := marks[[2]string{label, key}]
	if !ok {
		known := make([]string, 0, len(marks))
		for tk := range marks {
			known = append(known, "tenant "+tk[0]+" '"+tk[1]+"'")
		}
		slices.Sort(known)
		return time.Time{}, fmt.Errorf("%w: no watermark %q of tenant %s; this warehouse holds scans of %s", ErrOtherTenant, key, label, strings.Join(known, ", "))
	}
	wm, err := loader.DecodeWatermark(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("audit: watermark %q: %w", key, err)
	}
	return wm.Created, nil
}

// recordID reads a record's _id.
func recordID(rec []byte) (string, error) {
	var v struct {
		ID string `json:"_id"`
	}
	if err := json.Unmarshal(rec, &v); err != nil || v.ID == "" {
		return "", fmt.Errorf("a record without an _id")
	}
	return v.ID, nil
}

func toRaw(records [][]byte) []json.RawMessage {
	out := make([]json.RawMessage, len(records))
	for i, r := range records {
		out[i] = r
	}
	return out
}

// stateTenantColumn is the SQL of a state row's tenant: its tenant column, or, in a warehouse
// no writer has upgraded to tenants yet (one tenant, whose label the reader's views carry), label.
func stateTenantColumn(ctx context.Context, r *warehouse.Reader, label string) (string, error) {
	if r.From != warehouse.FromDuckDB {
		return "tenant", nil
	}
	var n int
	err := r.Conn().QueryRowContext(ctx, `SELECT count(*) FROM duckdb_columns() WHERE database_name = 'wh' AND table_name = 'state' AND column_name = 'tenant'`).Scan(&n)
	if err != nil {
		return "", fmt.Errorf("audit: read warehouse columns: %w", err)
	}
	if n == 0 {
		return "'" + label + "'", nil
	}
	return "tenant", nil
}
