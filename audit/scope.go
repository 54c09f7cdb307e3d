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

// scanWatermark reads the watermark of the scan of tenantURL with filters canon: the audit
// checks what that scan promises, the activities stored before it.
func scanWatermark(ctx context.Context, r *warehouse.Reader, tenantURL string, canon mcas.Filters) (time.Time, error) {
	if r.From != warehouse.FromDuckDB {
		return time.Time{}, fmt.Errorf("audit: the scan watermarks live in the DuckDB file, which cannot be read now (%s); try again when the writer has finished", r.Fallback)
	}
	rows, err := r.Conn().QueryContext(ctx, `SELECT key, value FROM wh.state WHERE starts_with(key, ?) ORDER BY key`, loader.WatermarkPrefix)
	if err != nil {
		return time.Time{}, fmt.Errorf("audit: read watermarks: %w", err)
	}
	defer rows.Close()
	marks := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return time.Time{}, fmt.Errorf("audit: read watermarks: %w", err)
		}
		if v != loader.ResetWatermark {
			marks[k] = v
		}
	}
	if err := rows.Err(); err != nil {
		return time.Time{}, fmt.Errorf("audit: read watermarks: %w", err)
	}
	if len(marks) == 0 {
		var source string
		_ = r.Conn().QueryRowContext(ctx, `SELECT coalesce((SELECT value FROM wh.meta WHERE key = 'source'), '')`).Scan(&source)
		return time.Time{}, fmt.Errorf("%w (source %q, no scan watermark): the audit compares a warehouse with the API it was scanned from; a warehouse loaded from files has none",
			ErrNotScanned, source)
	}
	key := loader.WatermarkKey(tenantURL, canon)
	v, ok := marks[key]
	if !ok {
		known := make([]string, 0, len(marks))
		for k := range marks {
			known = append(known, "'"+k+"'")
		}
		slices.Sort(known)
		return time.Time{}, fmt.Errorf("%w: no watermark %q; this warehouse holds scans of %s", ErrOtherTenant, key, strings.Join(known, ", "))
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
