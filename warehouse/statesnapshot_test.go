package warehouse

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
)

// TestRebuildRestoresState: a DuckDB file rebuilt from Parquet gets back the state (scan
// watermarks, stream cursors) of the last Close, from the snapshot Close writes; state a later
// run committed and did not close is not in it (the rebuilt warehouse resumes from the older
// state, and the key keeps what it reads again from being stored twice). A snapshot of a commit
// the Parquet dataset does not hold, or one that cannot be read, is not used, with a warning.
func TestRebuildRestoresState(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string) // of the snapshot
		want    map[string]string
		warning string
	}{
		{name: "the last close's state", want: map[string]string{"scan.wm": "closed", "stream.cursor:a": "10"}},
		{name: "snapshot ahead of the parquet dataset", warning: "newer than the parquet dataset", want: map[string]string{},
			damage: func(t *testing.T, path string) {
				var snap map[string]any
				b, _ := os.ReadFile(path)
				if err := json.Unmarshal(b, &snap); err != nil {
					t.Fatal(err)
				}
				snap["commit"] = 1e6
				b, _ = json.Marshal(snap)
				if err := os.WriteFile(path, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "unreadable snapshot", warning: "cannot be read", want: map[string]string{},
			damage: func(t *testing.T, path string) {
				if err := os.WriteFile(path, []byte(`{"version":1,"rows":[`), 0o600); err != nil {
					t.Fatal(err)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := newMem(t)
			dir := t.TempDir()
			commitState := func(w *Writer, prefix string, state map[string]string) {
				rec := batch(mem, rows(prefix, 40, day0, time.Hour))
				defer rec.Release()
				if _, err := w.Commit(context.Background(), Commit{Records: []arrow.RecordBatch{rec}, State: state}); err != nil {
					t.Fatal(err)
				}
			}
			w := openTest(t, dir, SinkBoth)
			commitState(w, "a", map[string]string{"scan.wm": "first", "stream.cursor:a": "10"})
			commitState(w, "b", map[string]string{"scan.wm": "closed"})
			if err := w.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			// A later run commits and dies before its Close: its state is not in the snapshot.
			w = openTest(t, dir, SinkBoth)
			commitState(w, "c", map[string]string{"scan.wm": "unclosed", "stream.cursor:b": "5"})
			w.stopHold()
			w.lock.Release()
			if tt.damage != nil {
				tt.damage(t, filepath.Join(dir, StateDir, stateSnapshotFile))
			}
			if err := os.Truncate(filepath.Join(dir, DatabaseFile), 4096); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			opts := Options{Dir: dir, MemoryLimit: "300MB", Threads: 2, Logger: testLogger(&logs), LockWait: 5 * time.Second}
			if err := RebuildDatabase(t.Context(), opts); err != nil {
				t.Fatal(err)
			}
			if got := readState(t, dir); !maps.Equal(got, tt.want) {
				t.Errorf("state after the rebuild %v, want %v", got, tt.want)
			}
			if tt.warning != "" && !strings.Contains(logs.String(), tt.warning) {
				t.Errorf("no warning %q in the log:\n%s", tt.warning, logs.String())
			}
			// The rebuild's own Close wrote the snapshot again, of what the new file holds.
			snap, ok, err := readStateSnapshot(dir)
			if err != nil || !ok || len(snap.Rows) != len(tt.want) {
				t.Errorf("snapshot after the rebuild: %+v, %v, %v", snap, ok, err)
			}
		})
	}
}

// readState is the state table of the warehouse in dir, key → value (one tenant).
func readState(t *testing.T, dir string) map[string]string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`ATTACH '` + filepath.Join(dir, DatabaseFile) + `' AS wh (READ_ONLY)`); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	rows, err := db.Query(`SELECT key, value FROM wh.state`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		out[k] = v
	}
	return out
}
