package reliability

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/objstore"
	"github.com/mcasload/mcasload/objstore/objstoretest"
	"github.com/mcasload/mcasload/remote"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
)

// publishPoints are the kills of the publish loop: every publish failpoint (mid-upload, around
// the manifest, before the deletes), and the warehouse's own points around a commit's files and
// the compaction at Close, after which the next publish must catch up. N for "@N" is drawn from
// 1..maxN; a run publishes at open, after each of its ten commits, and after its compaction.
var publishPoints = func() []killPoint {
	var out []killPoint
	for _, n := range failpoint.PublishNames {
		out = append(out, killPoint{name: n, maxN: 6})
	}
	return append(out,
		killPoint{name: "parquet-after-rename", maxN: 4},
		killPoint{name: "duckdb-after-commit", maxN: 4},
		killPoint{name: "compact-before-rename", maxN: 1},
		killPoint{name: "compact-after-rename", maxN: 1})
}()

// publishJob is one way of writing the warehouse with --publish: load from a file or scan the
// simulator. A round uses one of them from start to end (a warehouse keeps one source).
type publishJob struct {
	name string
	args func(dir, url string, storage []string) []string
	env  []string
}

// TestReliabilityCrashPublish: `load --publish` and `scan --publish` to real Azurite and
// versitygw, SIGKILLed at every publish failpoint (a file uploaded while others are in
// flight, before and after the manifest, before the deletes), around commits and in the
// middle of the compaction at Close, and at random instants; then rerun to the end. The
// remote dataset must then equal the local one exactly: the objects under the prefix are the
// local Parquet files (same paths, same bytes), the newest manifest and the pointer and nothing
// else (the grace period is 0, so superseded files must be gone); the manifest names exactly
// the local files with their sizes and digests; verify --remote --deep agrees; and the local
// warehouse holds every id exactly once.
func TestReliabilityCrashPublish(t *testing.T) {
	binary(t)
	tn := crashTenant()
	want := sinks.WantTenant(tn, time.Time{})
	file := splitNDJSON(t, tn, 1)[0] // every record, in one file
	sim := simulator.NewServer(simulator.Config{Tenant: tn, Token: crashToken, RateLimit: simulator.NoRateLimit})
	t.Cleanup(sim.Close)
	common := []string{"--batch-rows", "300", "--progress=false", "--threads", "2", "--compact-over", "1", "--publish-grace", "0"}
	jobs := []publishJob{
		{name: "load", args: func(dir, url string, storage []string) []string {
			return append(slices.Concat([]string{"load", "-w", dir, "--publish", url}, common, storage), file)
		}},
		{name: "scan", env: []string{"MCAS_TOKEN=" + crashToken}, args: func(dir, url string, storage []string) []string {
			return slices.Concat([]string{"scan", "--url", sim.URL, "-w", dir, "--publish", url, "--limit", "500", "--rate-limit", "60000"}, common, storage)
		}},
	}
	objstoretest.Each(t, func(t *testing.T, srv *objstoretest.Server) {
		row := record(t, "crash: publish to "+srv.Name, fmt.Sprintf("SIGKILL of load --publish and scan --publish at every publish failpoint (%s), around commits and mid-compaction, and at random instants; rerun; remote compared file by file with local",
			strings.Join(pointNames(publishPoints), ", ")))
		publishKillLoop(t, srv, jobs, want, row)
	})
}

func publishKillLoop(t *testing.T, srv *objstoretest.Server, jobs []publishJob, want map[string]string, row *reportRow) {
	target := pick(4, 60)
	if n, err := strconv.Atoi(os.Getenv("MCASLOAD_RELIABILITY_KILLS")); err == nil && n > 0 {
		target = n
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MCASLOAD_RELIABILITY_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	rng := rand.New(rand.NewPCG(seed, 25))
	t.Logf("seed %d (MCASLOAD_RELIABILITY_SEED reproduces the kill sequence)", seed)
	runJob := func(job publishJob, dir, url string, extra ...string) testkit.Result {
		return run(t, append(append(slices.Clone(srv.Env), job.env...), extra...), job.args(dir, url, srv.Flags)...)
	}
	// An uninterrupted run measures how long a run takes, so random kills fall inside one.
	span := 300 * time.Millisecond
	{
		dir, prefix := filepath.Join(t.TempDir(), "uninterrupted"), "uninterrupted"
		res := runJob(jobs[0], dir, srv.URL(prefix))
		if res.Code != 0 {
			t.Fatalf("uninterrupted run: %s", res)
		}
		span = max(span, res.Elapsed)
		if !remoteEqualsLocal(t, srv, prefix, dir, want) {
			t.Fatal("the uninterrupted run's remote dataset differs from the local one")
		}
	}
	kills, random, rounds, exact := 0, 0, 0, 0
	reached := map[string]int{}
	var failed []int
	round := func(n int) error {
		job := jobs[n%len(jobs)]
		prefix := fmt.Sprintf("round%d", n)
		dir, url := filepath.Join(t.TempDir(), prefix), srv.URL(prefix)
		kp := publishPoints[(n*pick(3, 1))%len(publishPoints)]
		fp := fmt.Sprintf("%s@%d", kp.name, 1+rng.IntN(kp.maxN))
		marker := filepath.Join(t.TempDir(), "marker")
		res := runJob(job, dir, url, failpoint.EnvName+"="+fp, failpoint.EnvMarker+"="+marker)
		got, _ := os.ReadFile(marker)
		switch {
		case res.Killed && strings.TrimSpace(string(got)) == kp.name:
			kills++
			reached[kp.name]++
		case res.Killed:
			return fmt.Errorf("%s %s: killed elsewhere (marker %q): %s", job.name, fp, got, res)
		case res.Code != 0:
			return fmt.Errorf("%s with %s armed: %s", job.name, fp, res)
		}
		for range 1 + rng.IntN(2) {
			p := start(t, append(slices.Clone(srv.Env), job.env...), job.args(dir, url, srv.Flags)...)
			time.Sleep(time.Duration(rng.Int64N(int64(span))))
			if p.Running() {
				if r := p.Kill(t); r.Killed {
					kills++
					random++
				}
			} else if r := p.Wait(t); r.Code != 0 {
				return fmt.Errorf("a %s after kills failed: %s", job.name, r)
			}
		}
		if r := runJob(job, dir, url); r.Code != 0 {
			return fmt.Errorf("rerun of %s after killing at %s: %s", job.name, fp, r)
		}
		if !remoteEqualsLocal(t, srv, prefix, dir, want) {
			return fmt.Errorf("after killing %s at %s and rerunning, remote and local differ", job.name, fp)
		}
		return nil
	}
	rounds, exact, failed = killRounds(t, func() bool { return kills < target }, 3, round)
	checkReached(t, publishPoints, reached)
	t.Logf("%d kills (%d at random instants) over %d rounds (%d exact, failed %v); reached: %s", kills, random, rounds, exact, failed, formatCounts(reached))
	row.set(kills, "%d of %d rounds ended with the remote dataset equal to the local one (every object a local file with the same bytes, the newest manifest naming exactly the local files, nothing superseded left with a grace of 0; %d ids exactly once); %d kills at random instants; failpoints reached: %s",
		exact, rounds, len(want), random, formatCounts(reached))
}

// remoteEqualsLocal checks, and reports with t.Errorf, that the dataset under prefix equals the
// warehouse dir's: the local sinks are exact, the objects are the local Parquet files with the
// same bytes plus the newest manifest and the pointer, the manifest lists exactly the local
// files (path, size, sha256, rows), and verify --remote --deep agrees.
func remoteEqualsLocal(t *testing.T, srv *objstoretest.Server, prefix, dir string, want map[string]string) bool {
	t.Helper()
	ok := sinks.ExactlyOnce(t, dir, want)
	st := srv.Open(t, prefix)
	ctx := t.Context()
	local := map[string]string{} // dataset path → sha256
	root := filepath.Join(dir, remote.DatasetDir)
	for _, rel := range parquetFiles(t, dir) {
		b, err := os.ReadFile(rel)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := filepath.Rel(root, rel)
		local[filepath.ToSlash(r)] = digestOf(b)
	}
	stored := map[string]string{}
	var manifests []string
	err := st.List(ctx, "", func(o objstore.Object) error {
		if strings.HasPrefix(o.Key, remote.ManifestDir+"/") {
			manifests = append(manifests, o.Key)
			return nil
		}
		d, err := objectDigest(ctx, st, o.Key)
		stored[o.Key] = d
		return err
	})
	if err != nil {
		t.Fatalf("list %s: %v", prefix, err)
	}
	if !maps.Equal(local, stored) {
		t.Errorf("%s: stored objects differ from the local files:\nlocal  %v\nremote %v", prefix, keysOf(local), keysOf(stored))
		ok = false
	}
	m, err := remote.Latest(ctx, st)
	if err != nil {
		t.Errorf("%s: newest manifest: %v", prefix, err)
		return false
	}
	named := map[string]string{}
	var rows int64
	for _, f := range m.Files {
		named[f.Path] = f.SHA256
		rows += f.Rows
	}
	wantManifests := []string{remote.PointerKey, remote.ManifestKey(m.Version)}
	if m.Portals != nil { // the tenants' portal hosts, named by the manifest
		wantManifests = append(wantManifests, m.Portals.Path)
	}
	slices.Sort(manifests)
	slices.Sort(wantManifests)
	if !maps.Equal(named, local) || rows != int64(len(want)) || !slices.Equal(manifests, wantManifests) {
		t.Errorf("%s: manifest v%d names %d files (%d rows), the warehouse has %d files (%d ids); manifest objects %v, want %v",
			prefix, m.Version, len(named), rows, len(local), len(want), manifests, wantManifests)
		ok = false
	}
	var ptr remote.Pointer
	if b, err := objectBytes(ctx, st, remote.PointerKey); err != nil || json.Unmarshal(b, &ptr) != nil || ptr.Version != m.Version {
		t.Errorf("%s: pointer %+v (%v), newest manifest v%d", prefix, ptr, err, m.Version)
		ok = false
	}
	if r := run(t, srv.Env, append([]string{"verify", "-w", dir, "--remote", srv.URL(prefix), "--deep"}, srv.Flags...)...); r.Code != 0 {
		t.Errorf("%s: verify --remote: %s", prefix, r)
		ok = false
	}
	return ok
}

func keysOf(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}

func digestOf(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func objectBytes(ctx context.Context, st objstore.Store, key string) ([]byte, error) {
	rd, err := st.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

func objectDigest(ctx context.Context, st objstore.Store, key string) (string, error) {
	b, err := objectBytes(ctx, st, key)
	return digestOf(b), err
}

// TestReliabilityPublishReader: while `load --publish` runs after run, each adding rows to
// every day and compacting the days at its end (so compactions are published), a reader
// follows the manifests with `sync` (remote.Sync) into a copy and reads it with DuckDB. Every
// state it sees must hold each id once (a compaction's merged file never next to its inputs),
// exactly the rows its manifest declares, and every id of the state before (nothing missed);
// the last equals the warehouse.
func TestReliabilityPublishReader(t *testing.T) {
	binary(t)
	tn := crashTenant()
	want := sinks.WantTenant(tn, time.Time{})
	parts := splitNDJSON(t, tn, pick(3, 6))
	// The short run follows one server (the kill loop above covers both); the long run both.
	each := objstoretest.Each
	if !long {
		each = func(t *testing.T, fn func(*testing.T, *objstoretest.Server)) {
			t.Run("versitygw", func(t *testing.T) {
				srv, _ := objstoretest.VersityGW(t)
				fn(t, srv)
			})
		}
	}
	each(t, func(t *testing.T, srv *objstoretest.Server) {
		row := record(t, "publish: a reader following manifests ("+srv.Name+")", "sync in a loop while load --publish runs add rows to every day and publish their compactions; each state read with DuckDB")
		dir, prefix := filepath.Join(t.TempDir(), "wh"), "team"
		st := srv.Open(t, prefix)
		copyDir := filepath.Join(t.TempDir(), "copy")
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		var obs readerStats
		var readErr error
		wg.Add(1)
		go func() {
			defer wg.Done()
			readErr = followManifests(ctx, st, copyDir, &obs)
		}()
		for i, part := range parts {
			args := append([]string{"load", "-w", dir, "--publish", srv.URL(prefix), "--batch-rows", "150", "--progress=false", "--threads", "2",
				"--compact-over", "1"}, srv.Flags...)
			if r := run(t, srv.Env, append(args, part)...); r.Code != 0 {
				t.Fatalf("load %d: %s", i+1, r)
			}
		}
		cancel()
		wg.Wait()
		if readErr != nil {
			t.Fatalf("reader: %v", readErr)
		}
		// One last read after the writer finished: the newest state is the warehouse's.
		final := readerStats{}
		if err := followOnce(t.Context(), st, copyDir, &final); err != nil {
			t.Fatal(err)
		}
		if final.lastIDs != len(want) {
			t.Errorf("the last published state holds %d ids, the warehouse %d", final.lastIDs, len(want))
		}
		sinks.ExactlyOnce(t, dir, want)
		if obs.states < 2 || obs.compactions == 0 || len(obs.problems) > 0 {
			t.Errorf("reader saw %d states, %d of them after a compaction: %v", obs.states, obs.compactions, obs.problems)
		}
		t.Logf("reader: %d reads, %d distinct versions (%d after a compaction), largest %d ids; problems %v", obs.reads, obs.states, obs.compactions, obs.lastIDs, obs.problems)
		row.set(obs.reads, "%d reads of %d published versions (%d after a compaction): never an id twice, never other rows than the manifest declares, never an id of an earlier version missing (%d problems)",
			obs.reads, obs.states, obs.compactions, len(obs.problems))
	})
}

// splitNDJSON writes the tenant's records into n files, record i into file i%n, so that every
// load adds rows to every day.
func splitNDJSON(t *testing.T, tn *synth.Tenant, n int) []string {
	t.Helper()
	var all strings.Builder
	if _, err := tn.WriteNDJSON(&all, time.Now().Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	bufs := make([]strings.Builder, n)
	for i, line := range strings.Split(strings.TrimSpace(all.String()), "\n") {
		bufs[i%n].WriteString(line + "\n")
	}
	var out []string
	for i := range bufs {
		p := filepath.Join(t.TempDir(), fmt.Sprintf("part%d.ndjson", i+1))
		if err := os.WriteFile(p, []byte(bufs[i].String()), 0o600); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// readerStats is what the manifest follower saw.
type readerStats struct {
	reads, states int
	lastVersion   int64
	lastIDs       int
	lastFiles     int
	compactions   int
	prev          map[string]bool
	problems      []string
}

// followManifests syncs and reads the copy until ctx ends.
func followManifests(ctx context.Context, st objstore.Store, copyDir string, obs *readerStats) error {
	for ctx.Err() == nil {
		err := followOnce(ctx, st, copyDir, obs)
		time.Sleep(20 * time.Millisecond) // leave the writer most of the shared CPU
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && strings.Contains(err.Error(), remote.ErrNoManifest.Error()):
			time.Sleep(50 * time.Millisecond) // nothing published yet
		case err != nil:
			return err
		}
	}
	return nil
}

// followOnce syncs the newest manifest into copyDir and checks what the copy holds.
func followOnce(ctx context.Context, st objstore.Store, copyDir string, obs *readerStats) error {
	res, err := remote.Sync(ctx, st, copyDir, remote.SyncOptions{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	ids := map[string]bool{}
	n := 0
	if res.Files > 0 { // the first version, published when the empty warehouse opened, has none
		all, err := copyIDs(ctx, copyDir)
		if err != nil {
			return fmt.Errorf("read the copy of v%d: %w", res.Version, err)
		}
		for _, id := range all {
			n++
			if ids[id] {
				obs.problems = append(obs.problems, fmt.Sprintf("v%d: id %s twice", res.Version, id))
			}
			ids[id] = true
		}
	}
	obs.reads++
	if int64(n) != res.Rows {
		obs.problems = append(obs.problems, fmt.Sprintf("v%d: %d rows read, the manifest declares %d", res.Version, n, res.Rows))
	}
	if res.Version < obs.lastVersion {
		obs.problems = append(obs.problems, fmt.Sprintf("v%d read after v%d", res.Version, obs.lastVersion))
	}
	missing := 0
	for id := range obs.prev {
		if !ids[id] {
			missing++
		}
	}
	if missing > 0 {
		obs.problems = append(obs.problems, fmt.Sprintf("v%d: %d ids of v%d missing", res.Version, missing, obs.lastVersion))
	}
	if res.Version != obs.lastVersion {
		obs.states++
		if res.Files < obs.lastFiles {
			obs.compactions++ // fewer files, as many rows or more: a compaction was published
		}
	}
	obs.lastVersion, obs.lastIDs, obs.lastFiles, obs.prev = res.Version, len(ids), res.Files, ids
	return nil
}

// copyIDs reads every id of a synced copy's activities with DuckDB, repeats included.
func copyIDs(ctx context.Context, copyDir string) ([]string, error) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	glob := filepath.Join(copyDir, remote.DatasetDir, "activities", "*", "*", "*.parquet")
	rows, err := db.QueryContext(ctx, fmt.Sprintf(`SELECT id FROM read_parquet('%s')`, glob))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}
