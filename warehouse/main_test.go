package warehouse

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/failpoint"
)

// childEnv selects a helper role when the test binary is re-executed as a child process:
// crash tests need a writer that really dies by SIGKILL, and lock tests need a second process
// (DuckDB's file locks do not exclude within one process).
const childEnv = "WAREHOUSE_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		if err := runChild(role, os.Getenv("WAREHOUSE_TEST_DIR")); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// loadBatches is the fixed input of the "load" child: overlapping batches over four days.
func loadBatches() [][]row {
	a := rows("a", 200, day0, 20*time.Minute)
	b := append(append([]row{}, a[100:]...), rows("b", 100, day0.Add(12*time.Hour), 30*time.Minute)...)
	c := rows("c", 150, day0.Add(24*time.Hour), 13*time.Minute)
	return [][]row{a, b, c}
}

func loadExpected() contents {
	var all []row
	for _, b := range loadBatches() {
		all = append(all, b...)
	}
	return expected(all)
}

func runChild(role, dir string) error {
	ctx := context.Background()
	mem := memory.NewGoAllocator()
	sinks := Sinks(os.Getenv("WAREHOUSE_TEST_SINKS"))
	opts := Options{Dir: dir, Sinks: sinks, MemoryLimit: "300MB", Threads: 1, Logger: testLogger(nil), LockWait: 10 * time.Second, Source: "simulator", Tenant: testTenant}
	if strings.HasPrefix(os.Getenv(failpoint.EnvName), "merge-") {
		// Commits that let go of the file each leave a row group (as commits past the hold's
		// cache do), which Close merges; held commits would share one and leave nothing to merge.
		opts.HoldIdle = -1
	}
	switch role {
	case "load":
		w, err := Open(ctx, opts)
		if err != nil {
			return err
		}
		for _, b := range loadBatches() {
			rec := batch(mem, b)
			_, err := w.Commit(ctx, Commit{Records: recs(rec), State: map[string]string{"watermark": b[len(b)-1].id}})
			rec.Release()
			if err != nil {
				return err
			}
		}
		if _, err := w.Compact(ctx, CompactOptions{MinFiles: 2}); err != nil {
			return err
		}
		return w.Close(ctx)
	case "writer-loop":
		// 20 commits of 50 rows, each within one day, so each commit is one Parquet file.
		n, _ := strconv.Atoi(os.Getenv("WAREHOUSE_TEST_COMMITS"))
		w, err := Open(ctx, opts)
		if err != nil {
			return err
		}
		for i := range n {
			rec := batch(mem, rows(fmt.Sprintf("w%03d", i), 50, day0.Add(time.Duration(i)*24*time.Hour), time.Minute))
			_, err := w.Commit(ctx, Commit{Records: recs(rec)})
			rec.Release()
			if err != nil {
				return err
			}
		}
		return w.Close(ctx)
	case "prune": // everything before pruneHorizon
		w, err := Open(ctx, opts)
		if err != nil {
			return err
		}
		if _, err := w.Prune(ctx, pruneHorizon, nil); err != nil {
			return err
		}
		return w.Close(ctx)
	case "optimize":
		return runOptimizeChild(ctx, opts)
	case "firsts":
		return runFirstsChild(ctx, opts)
	case "open-close": // what any writer does first: migrate and reconcile
		w, err := Open(ctx, opts)
		if err != nil {
			return err
		}
		return w.Close(ctx)
	case "hold-writer":
		opts.Command = "mcasload load held.ndjson"
		w, err := Open(ctx, opts)
		if err != nil {
			return err
		}
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadString('\n')
		return w.Close(ctx)
	case "hold-reader":
		r, err := OpenReader(ctx, ReaderOptions{Dir: dir, Logger: testLogger(nil)})
		if err != nil {
			return err
		}
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
		return r.Close()
	}
	return fmt.Errorf("unknown role %q", role)
}
