package remote_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // database/sql driver: the independent reader of published files

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// state is a snapshot of a warehouse's parquet/ folder at one point of its life.
type state struct {
	name string
	dir  string // a copy of <warehouse>/parquet
	rows int    // activities it holds
}

// history is what the tests publish, in order: three loads of a synthetic tenant, each in
// several commits (so every day has several parts), with compactions between them.
type history struct {
	warehouse string // the warehouse after the last step (its DuckDB file is the reference)
	states    []state
}

func (h *history) get(name string) state {
	for _, s := range h.states {
		if s.name == name {
			return s
		}
	}
	panic("no state " + name)
}

var (
	historyOnce sync.Once
	historyDir  string
	shared      *history
	historyErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if historyDir != "" {
		os.RemoveAll(historyDir)
	}
	testkit.RemoveBuilds()
	os.Exit(code)
}

// sharedHistory builds the history once per test binary, through the real load path
// (loader.Load into warehouse.Open) and the warehouse's own compaction.
func sharedHistory(t testing.TB) *history {
	t.Helper()
	historyOnce.Do(func() {
		historyDir, historyErr = os.MkdirTemp("", "mcasload-remote-test-")
		if historyErr == nil {
			shared, historyErr = buildHistory(context.Background(), historyDir)
		}
	})
	if historyErr != nil {
		t.Fatalf("build the warehouse history: %v", historyErr)
	}
	return shared
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func buildHistory(ctx context.Context, root string) (*history, error) {
	end := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tn := synth.New(synth.Config{Seed: 7, Users: 40, Days: 3, End: end, Total: 2400})
	var all bytes.Buffer
	if _, err := tn.WriteNDJSON(&all, end.Add(24*time.Hour)); err != nil {
		return nil, err
	}
	// Three inputs, each holding every third record, so that every load touches every day.
	parts := make([]bytes.Buffer, 3)
	sc := bufio.NewScanner(&all)
	sc.Buffer(nil, 1<<24)
	for i := 0; sc.Scan(); i++ {
		parts[i%3].Write(sc.Bytes())
		parts[i%3].WriteByte('\n')
	}
	h := &history{warehouse: filepath.Join(root, "wh")}
	rows := 0
	for i := range parts {
		file := filepath.Join(root, fmt.Sprintf("load%d.ndjson", i+1))
		rows += strings.Count(parts[i].String(), "\n")
		if err := os.WriteFile(file, parts[i].Bytes(), 0o600); err != nil {
			return nil, err
		}
		if err := load(ctx, h.warehouse, file, 150); err != nil {
			return nil, err
		}
		if err := h.snapshot(root, fmt.Sprintf("load%d", i+1), rows); err != nil {
			return nil, err
		}
		if i == 0 {
			continue
		}
		if err := compact(ctx, h.warehouse); err != nil {
			return nil, err
		}
		if err := h.snapshot(root, fmt.Sprintf("compact%d", i+1), rows); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// load runs `mcasload load` in process: commits of batch records, no compaction at close.
func load(ctx context.Context, dir, file string, batch int) error {
	w, err := warehouse.Open(ctx, warehouse.Options{Dir: dir, Source: "file", Command: "test load", CompactOver: -1, Logger: quiet})
	if err != nil {
		return err
	}
	sum, err := loader.Load(ctx, w, []loader.Input{{Name: file}},
		loader.LoadOptions{Pipeline: loader.Options{BatchRows: batch, Workers: 1, Source: "file"}}, nil)
	if err == nil {
		err = w.FinishRun(ctx, warehouse.RunInfo{}, sum)
	}
	if cerr := w.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

func compact(ctx context.Context, dir string) error {
	w, err := warehouse.Open(ctx, warehouse.Options{Dir: dir, Command: "test compact", CompactOver: -1, Logger: quiet})
	if err != nil {
		return err
	}
	_, err = w.Compact(ctx, warehouse.CompactOptions{})
	if cerr := w.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

// snapshot copies the warehouse's parquet/ folder.
func (h *history) snapshot(root, name string, rows int) error {
	src := filepath.Join(h.warehouse, "parquet")
	dst := filepath.Join(root, name, "parquet")
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o700); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o600)
	})
	h.states = append(h.states, state{name: name, dir: dst, rows: rows})
	return err
}

// duck is an in-memory DuckDB.
func duck(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dayCounts reads the Parquet files under dir with DuckDB: rows and distinct ids per day.
func dayCounts(t testing.TB, db *sql.DB, dir string) map[string][2]int {
	t.Helper()
	days, err := readDays(context.Background(), db, dir)
	if err != nil {
		t.Fatal(err)
	}
	return days
}

func readDays(ctx context.Context, db *sql.DB, dir string) (map[string][2]int, error) {
	glob := filepath.Join(dir, "activities", "*", "*", "*.parquet")
	rows, err := db.QueryContext(ctx, `SELECT strftime(day, '%Y-%m-%d'), count(*), count(DISTINCT id)
		FROM read_parquet(?, hive_partitioning = true, hive_types = {'day': DATE, 'tenant': VARCHAR}) GROUP BY ALL`, glob)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", glob, err)
	}
	defer rows.Close()
	out := map[string][2]int{}
	for rows.Next() {
		var day string
		var n, ids int
		if err := rows.Scan(&day, &n, &ids); err != nil {
			return nil, err
		}
		out[day] = [2]int{n, ids}
	}
	return out, rows.Err()
}

func digest(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
