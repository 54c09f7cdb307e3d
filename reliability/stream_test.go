package reliability

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	azstreaming "github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/appendblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testserver"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/simulator/xdrstream"
	"github.com/mcasload/mcasload/streaming"
)

// streamLocation is where the stream under test lives: append blobs in a real Azurite, or files
// in a local folder (what azcopy leaves, read with --folder), written by the simulator's writer.
type streamLocation struct {
	name   string
	args   []string                                  // the stream command's location flags
	writer xdrstream.Config                          // Container or Folder set
	lines  func(t *testing.T) []string               // every line of every blob, sorted
	bytes  func(t *testing.T, name string) []byte    // one blob's content
	put    func(t *testing.T, name string, b []byte) // a blob replaced by a new one holding b
}

func azuriteLocation(t *testing.T) streamLocation {
	az := testserver.StartAzurite(t)
	cc, err := streaming.ContainerClient(streaming.Config{Credential: streaming.Credential{ConnectionString: mcas.NewSecret(az.ConnectionString())}})
	if err != nil {
		t.Fatal(err)
	}
	return streamLocation{name: "azurite", args: []string{"--account-url", az.BlobEndpoint}, writer: xdrstream.Config{Container: cc},
		lines: func(t *testing.T) []string { return blobLines(t, cc) },
		bytes: func(t *testing.T, name string) []byte { return blobBytes(t, cc, name) },
		put: func(t *testing.T, name string, content []byte) {
			if _, err := cc.NewBlobClient(name).Delete(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			ab := cc.NewAppendBlobClient(name)
			if _, err := ab.Create(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			if _, err := ab.AppendBlock(t.Context(), azstreaming.NopCloser(bytes.NewReader(content)), &appendblob.AppendBlockOptions{}); err != nil {
				t.Fatal(err)
			}
		}}
}

func folderLocation(t *testing.T) streamLocation {
	dir := t.TempDir()
	root := filepath.Join(dir, streaming.DefaultContainer)
	read := func(t *testing.T, name string) []byte {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return streamLocation{name: "folder", args: []string{"--folder", dir}, writer: xdrstream.Config{Folder: root},
		lines: func(t *testing.T) []string {
			var out []string
			err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() {
					rel, _ := filepath.Rel(root, path)
					out = append(out, splitLines(read(t, filepath.ToSlash(rel)))...)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(out)
			return out
		},
		bytes: read,
		put: func(t *testing.T, name string, content []byte) { // as azcopy refreshes a copy: a new file renamed over it
			path := filepath.Join(root, filepath.FromSlash(name))
			tmp := filepath.Join(filepath.Dir(path), ".azDownload-reliability-"+filepath.Base(path))
			if err := os.WriteFile(tmp, content, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
		}}
}

// TestStreamKillReliability: `mcasload stream` over append blobs that keep growing (the
// simulator's stream writer appends hour after hour while the binary reads), in a real Azurite
// and in a local folder, killed with SIGKILL at random instants and rerun: in the end DuckDB and
// Parquet hold every line of every blob exactly once, and no run ever stored a line twice (no
// duplicates: the cursors, not the key, kept it exact). Then a blob replaced by a shorter one and
// a blob rewritten are reported (exit 1, the blob named, nothing of them read) until --reread says
// to read them again.
func TestStreamKillReliability(t *testing.T) {
	binary(t)
	for name, loc := range map[string]func(*testing.T) streamLocation{"azurite": azuriteLocation, "folder": folderLocation} {
		t.Run(name, func(t *testing.T) { testStreamKills(t, loc(t)) })
	}
}

func testStreamKills(t *testing.T, loc streamLocation) {
	kills := pick(5, 40)
	if n, err := strconv.Atoi(os.Getenv("MCASLOAD_RELIABILITY_KILLS")); err == nil && n > 0 {
		kills = n
	}
	row := record(t, "stream "+loc.name, "SIGKILL of `mcasload stream` at random instants while the "+loc.name+" blobs it reads keep growing; every line once in DuckDB and Parquet; replaced and rewritten blobs reported")
	end := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	days := pick(3, 6)
	tn := synth.New(synth.Config{Seed: 23, Users: 40, Days: days, End: end, Total: pick(4000, 15000), Incidents: true})
	wcfg := loc.writer
	wcfg.Tenant = tn
	sw, err := xdrstream.New(wcfg)
	if err != nil {
		t.Fatal(err)
	}
	from := end.Add(-time.Duration(days) * 24 * time.Hour)
	if _, err := sw.WriteThrough(t.Context(), from.Add(6*time.Hour)); err != nil {
		t.Fatal(err)
	}
	// The stream grows while the binary reads: two simulated hours every 40 ms.
	ctx, stop := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	var writeErr error
	go func() {
		defer wg.Done()
		for at := from.Add(8 * time.Hour); ctx.Err() == nil; at = at.Add(2 * time.Hour) {
			if at.After(end.Add(time.Hour)) {
				return
			}
			if _, err := sw.WriteThrough(ctx, at); err != nil && ctx.Err() == nil {
				writeErr = err
				return
			}
			time.Sleep(40 * time.Millisecond)
		}
	}()
	defer func() { stop(); wg.Wait() }()

	dir := filepath.Join(t.TempDir(), "wh")
	keepOnFailure(t, dir)
	args := append([]string{"stream", "--warehouse", dir, "--batch-rows", "300", "--progress=false", "--log-level", "debug"}, loc.args...)
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MCASLOAD_RELIABILITY_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (MCASLOAD_RELIABILITY_SEED reproduces the kill instants)", seed)
	rng := rand.New(rand.NewPCG(seed, 23))
	killed, torn := 0, 0
	var history []string // each run's end and last log line, logged if the test fails
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the runs before the failure:\n%s", strings.Join(history, "\n"))
		}
	})
	for i := 0; killed < kills && i < 4*kills; i++ {
		p := start(t, nil, args...)
		time.Sleep(time.Duration(100+rng.IntN(900)) * time.Millisecond)
		var res testkit.Result
		if p.Running() {
			res = p.Kill(t)
		} else {
			res = p.Wait(t)
		}
		history = append(history, fmt.Sprintf("run %d: exit %d killed=%v after %s; last log line: %s", i+1, res.Code, res.Killed, res.Elapsed.Round(time.Millisecond), lastLogLine(res.Stderr)))
		if res.Killed {
			killed++
			continue
		}
		if repairTorn(t, res, dir) {
			torn++
			continue
		}
		if res.Code != 0 {
			t.Fatalf("a run that was not killed failed: %s", res)
		}
	}
	wg.Wait() // the writer reaches the end of the tenant
	if writeErr != nil {
		t.Fatalf("stream writer: %v", writeErr)
	}
	res := run(t, nil, args...)
	if repairTorn(t, res, dir) {
		torn++
		res = run(t, nil, args...)
	}
	if res.Code != 0 {
		t.Fatalf("the final run: %s", res)
	}
	want := loc.lines(t)
	if len(want) != sw.Truth().Events || len(want) < 1000 {
		t.Fatalf("%d lines in the blobs, the writer wrote %d", len(want), sw.Truth().Events)
	}
	// A file rebuilt after a torn block resumes from the cursors of the last Close: what came
	// after is read again (the key drops it), so duplicates are only counted then.
	reread := int64(0)
	if torn > 0 {
		reread = int64(len(want))
	}
	checkStreamSinks(t, dir, want, reread)
	checkTorn(t, torn)
	row.set(killed, "%d kills; %d lines, each once in both sinks, no duplicate ever committed; %d torn DuckDB blocks rebuilt from Parquet", killed, len(want), torn)

	// A replaced blob (deleted, created again shorter) and a rewritten one (same length, another
	// last line) are reported and left alone.
	blobs := sw.Truth().Blobs
	replaced, rewritten := blobs[0].Name, blobs[1].Name
	body := loc.bytes(t, rewritten)
	for name, content := range map[string][]byte{
		replaced:  []byte("{\"category\":\"AdvancedHunting-CloudAppEvents\",\"properties\":{}}\n"),
		rewritten: append(bytes.Clone(body[:len(body)-2]), 'X', '\n'),
	} {
		loc.put(t, name, content)
	}
	res = run(t, nil, append(args, "--since", from.Format(time.RFC3339))...)
	if res.Code != 1 || !strings.Contains(res.Stderr, replaced) || !strings.Contains(res.Stderr, rewritten) || !strings.Contains(res.Stderr, "--reread") {
		t.Fatalf("replaced and rewritten blobs: want exit 1 naming both with the --reread hint: %s", res)
	}
	checkStreamSinks(t, dir, want, 0) // nothing of them was read
	res = run(t, nil, append(args, "--since", from.Format(time.RFC3339), "--reread", replaced, "--reread", rewritten)...)
	if res.Code != 3 { // the replaced blob's line has no ReportId: rejected, kept aside
		t.Fatalf("--reread: want exit 3 (one line rejected): %s", res)
	}
}

// lastLogLine is the last non-blank line of a run's log.
func lastLogLine(s string) string {
	lines := splitLines([]byte(s))
	if len(lines) == 0 {
		return "(none)"
	}
	return lines[len(lines)-1]
}

// blobLines is every line of every blob of the container, without its ending.
func blobLines(t *testing.T, cc *container.Client) []string {
	t.Helper()
	var out []string
	pager := cc.NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range page.Segment.BlobItems {
			out = append(out, splitLines(blobBytes(t, cc, *b.Name))...)
		}
	}
	slices.Sort(out)
	return out
}

// splitLines is a blob's lines without their endings, blank ones left out.
func splitLines(b []byte) []string {
	var out []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if l = strings.TrimSuffix(l, "\r"); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func blobBytes(t *testing.T, cc *container.Client, name string) []byte {
	t.Helper()
	resp, err := cc.NewBlobClient(name).DownloadStream(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkStreamSinks checks that cloud_app_events in DuckDB and in Parquet each hold exactly want
// (raw, sorted), and that the commits counted at most reread duplicates (lines read again, which
// the key dropped): 0 unless a run had to resume from older cursors.
func checkStreamSinks(t *testing.T, dir string, want []string, reread int64) {
	t.Helper()
	db := openDuck(t)
	defer db.Close()
	if _, err := db.Exec(`ATTACH '` + filepath.Join(dir, "mcasload.duckdb") + `' AS wh (READ_ONLY)`); err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]string{
		"duckdb":  `SELECT raw FROM wh.cloud_app_events ORDER BY raw`,
		"parquet": `SELECT raw FROM read_parquet('` + filepath.Join(dir, "parquet", "cloud_app_events", "tenant=*", "day=*", "*.parquet") + `') ORDER BY raw`,
	} {
		got := queryColumn(t, db, q)
		if !slices.Equal(got, want) {
			t.Errorf("%s holds %d rows, the blobs %d lines (first difference: %s)", name, len(got), len(want), firstDifference(got, want))
		}
	}
	var dups int64
	if err := db.QueryRow(`SELECT coalesce(sum(duplicates), 0) FROM wh.commits`).Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups > reread {
		t.Errorf("%d lines were committed twice (and dropped by the key), at most %d expected: a cursor let a line be read again", dups, reread)
	}
}

func queryColumn(t *testing.T, db *sql.DB, q string) []string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func firstDifference(got, want []string) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("row %d: %.80s vs %.80s", i, got[i], want[i])
		}
	}
	return fmt.Sprintf("lengths %d and %d", len(got), len(want))
}
