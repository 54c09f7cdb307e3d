package remote_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/objstore/objstoretest"
	"github.com/mcasload/mcasload/remote"
	"github.com/mcasload/mcasload/simulator/synth"
)

// BenchmarkPushSync times a first push of a warehouse (every file uploaded), a push with
// nothing new (listing and manifest only), and a first sync (every file downloaded and
// checked), against Azurite and versitygw on loopback. The warehouse holds
// MCASLOAD_BENCH_ROWS simulator activities (default 50,000), loaded in commits of 5,000 and
// then compacted per day, as a scan leaves it. Figures: MB/s of Parquet moved.
//
//	go test -tags duckdb_arrow -run '^$' -bench PushSync -benchtime 1x ./remote/
func BenchmarkPushSync(b *testing.B) {
	rows := 50_000
	if v, err := strconv.Atoi(os.Getenv("MCASLOAD_BENCH_ROWS")); err == nil && v > 0 {
		rows = v
	}
	dir := benchWarehouse(b, rows)
	files := testkit.Files(b, dir)
	var size int64
	for _, f := range files {
		info, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			b.Fatal(err)
		}
		size += info.Size()
	}
	b.Logf("%d rows in %d files, %.1f MB", rows, len(files), float64(size)/1e6)
	for _, start := range []func(testing.TB) *objstoretest.Server{
		func(t testing.TB) *objstoretest.Server { s, _ := objstoretest.Azurite(t); return s },
		func(t testing.TB) *objstoretest.Server { s, _ := objstoretest.VersityGW(t); return s },
	} {
		srv := start(b)
		b.Run(srv.Name, func(b *testing.B) {
			for i := range b.N {
				st := srv.Open(b, fmt.Sprintf("bench/%d", i))
				ledger := remote.FileLedger{Path: filepath.Join(b.TempDir(), remote.StateFile)}
				t0 := time.Now()
				if _, err := remote.Publish(context.Background(), st, dir, ledger, remote.Options{Logger: quiet}); err != nil {
					b.Fatal(err)
				}
				push := time.Since(t0)
				t0 = time.Now()
				if _, err := remote.Publish(context.Background(), st, dir, ledger, remote.Options{Logger: quiet}); err != nil {
					b.Fatal(err)
				}
				again := time.Since(t0)
				t0 = time.Now()
				if _, err := remote.Sync(context.Background(), st, filepath.Join(b.TempDir(), "copy"), remote.SyncOptions{Logger: quiet}); err != nil {
					b.Fatal(err)
				}
				pull := time.Since(t0)
				b.ReportMetric(float64(size)/1e6/push.Seconds(), "push-MB/s")
				b.ReportMetric(again.Seconds()*1000, "nothing-new-ms")
				b.ReportMetric(float64(size)/1e6/pull.Seconds(), "sync-MB/s")
				b.Logf("%s: push %s (%.1f MB/s), push with nothing new %s, sync %s (%.1f MB/s)", srv.Name,
					push.Round(time.Millisecond), float64(size)/1e6/push.Seconds(), again.Round(time.Millisecond),
					pull.Round(time.Millisecond), float64(size)/1e6/pull.Seconds())
			}
		})
	}
}

// benchWarehouse loads rows simulator activities in commits of 5,000 and compacts them; it
// returns the warehouse's parquet/ folder.
func benchWarehouse(b *testing.B, rows int) string {
	b.Helper()
	root := b.TempDir()
	end := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tn := synth.New(synth.Config{Seed: 3, Users: 500, Days: 30, End: end, Total: rows})
	var buf bytes.Buffer
	if _, err := tn.WriteNDJSON(&buf, end.Add(24*time.Hour)); err != nil {
		b.Fatal(err)
	}
	file := filepath.Join(root, "in.ndjson")
	if err := os.WriteFile(file, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	wh := filepath.Join(root, "wh")
	if err := load(context.Background(), wh, file, 5000); err != nil {
		b.Fatal(err)
	}
	if err := compact(context.Background(), wh); err != nil {
		b.Fatal(err)
	}
	return filepath.Join(wh, remote.DatasetDir)
}
