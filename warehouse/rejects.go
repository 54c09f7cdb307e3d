package warehouse

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/mcasload/mcasload/schema"
)

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// rejectedPath is the NDJSON file of an activities run's rejects.
func rejectedPath(dir, runID string) string { return tableRejectedPath(dir, &activitiesTable, runID) }

// tableRejectedPath is the NDJSON file of a run's rejects of dataset t: rejected/<run>.ndjson
// for activities, rejected/<table>/<run>.ndjson for the others (so readers of rejected/*.ndjson
// see activities' only).
func tableRejectedPath(dir string, t *whTable, runID string) string {
	return filepath.Join(dir, t.rejectsDir, unsafeName.ReplaceAllString(runID, "_")+".ndjson")
}

func (w *Writer) rejectedPath(t *whTable, runID string) string {
	return tableRejectedPath(w.dir, t, runID)
}

// rejectLine is one line of rejected/<run>.ndjson, with the tenant of its run. Raw is the record text; when it is not valid
// UTF-8 it is in RawBase64 instead, so the file keeps exactly what was received.
type rejectLine struct {
	Tenant    string    `json:"tenant"`
	ID        string    `json:"id,omitempty"`
	Reason    string    `json:"reason"`
	RunID     string    `json:"run_id"`
	At        time.Time `json:"at"`
	Raw       string    `json:"raw,omitempty"`
	RawBase64 []byte    `json:"raw_base64,omitempty"`
}

func newRejectLine(label, id, reason, runID string, at time.Time, raw []byte) rejectLine {
	l := rejectLine{Tenant: label, ID: id, Reason: reason, RunID: runID, At: at}
	if utf8.Valid(raw) {
		l.Raw = string(raw)
	} else {
		l.RawBase64 = raw
	}
	return l
}

// appendRejects appends rejects of dataset t to the run's file and syncs it.
func (w *Writer) appendRejects(t *whTable, runID string, rejects []schema.Rejected, label string, at time.Time) error {
	if err := mkdirAll(filepath.Join(w.dir, t.rejectsDir)); err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	return appendRejects(w.rejectedPath(t, runID), rejects, label, runID, at)
}

// appendRejects appends rejects to the run's file and syncs it.
func appendRejects(path string, rejects []schema.Rejected, label, runID string, at time.Time) error {
	var buf []byte
	for _, r := range rejects {
		b, err := json.Marshal(newRejectLine(label, r.ID, r.Reason, runID, at, r.Raw))
		if err != nil {
			return fmt.Errorf("encode reject: %w", err)
		}
		buf = append(append(buf, b...), '\n')
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write rejects %s: %w", path, err)
	}
	return nil
}

// writeRejectedFile rewrites rejected/<run>.ndjson from DuckDB (the source of truth), under a
// temporary name, so the file is complete or absent, never half written.
func (w *Writer) writeRejectedFile(ctx context.Context, s *session, t *whTable, runID string) error {
	rows, err := s.conn.QueryContext(ctx, `SELECT coalesce(tenant, ''), coalesce(id, ''), reason, run_id, "at", raw_bytes FROM wh.`+t.rejects+` WHERE run_id = ? ORDER BY "at", rowid`, runID)
	if err != nil {
		return fmt.Errorf("read rejects: %w", err)
	}
	defer rows.Close()
	var buf []byte
	for rows.Next() {
		var label, id, reason, run string
		var at time.Time
		var raw []byte
		if err := rows.Scan(&label, &id, &reason, &run, &at, &raw); err != nil {
			return fmt.Errorf("read rejects: %w", err)
		}
		b, err := json.Marshal(newRejectLine(label, id, reason, run, at.UTC(), raw))
		if err != nil {
			return fmt.Errorf("encode reject: %w", err)
		}
		buf = append(append(buf, b...), '\n')
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rejects: %w", err)
	}
	if err := mkdirAll(filepath.Join(w.dir, t.rejectsDir)); err != nil {
		return fmt.Errorf("write rejects: %w", err)
	}
	return writeFileAtomic(w.rejectedPath(t, runID), buf)
}
