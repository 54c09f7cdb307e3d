package loader

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver, to read both sinks back

	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// testEnd pins the generated data in time so tests do not depend on the day they run.
var testEnd = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// testTenant is a small tenant with every quirk the generator knows, a tie burst and late
// arrivals, over a few days.
func testTenant(t testing.TB, seed int64, total int) *synth.Tenant {
	t.Helper()
	return synth.New(synth.Config{
		Seed: seed, Users: 40, Days: 4, End: testEnd, Total: total,
		LateArrivals: 0.05, LargeFields: 0.002, CaseCollisions: 0.05, ExtraFields: 0.1,
		TieBursts: []synth.TieBurst{{At: testEnd.Add(-30 * time.Hour), Size: 120}},
	})
}

// expected computes, from the generator's output alone, what a load of the records visible at
// visibleAt must store: id → raw record.
func expected(tn *synth.Tenant, visibleAt time.Time) map[string]string {
	want := map[string]string{}
	for i := range tn.Len() {
		a := tn.Activity(i)
		if a.Created <= visibleAt.UnixMilli() {
			want[a.ID] = string(tn.AppendJSON(nil, i))
		}
	}
	return want
}

// writeNDJSON writes the records visible at visibleAt to a file and returns its path.
func writeNDJSON(t testing.TB, tn *synth.Tenant, visibleAt time.Time) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "activities.ndjson")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	if _, err := tn.WriteNDJSON(bw, visibleAt); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadInto runs one load the way `mcasload load` does: open, load, record the run, close.
func loadInto(t testing.TB, dir string, inputs []Input, opts LoadOptions, wopts ...func(*warehouse.Options)) *Summary {
	t.Helper()
	ctx := context.Background()
	o := warehouse.Options{Dir: dir, MemoryLimit: "500MB", Threads: 2, Source: "file", Command: "loader test"}
	for _, f := range wopts {
		f(&o)
	}
	w, err := warehouse.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Load(ctx, w, inputs, opts, nil)
	if err != nil {
		w.Close(ctx)
		t.Fatalf("load: %v", err)
	}
	if err := w.FinishRun(ctx, warehouse.RunInfo{}, sum); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return sum
}

// storedRow is one row as a sink holds it.
type storedRow struct {
	raw  string
	day  string // the row's day column
	file string // Parquet: the file holding it
}

// readSinks reads every row of both sinks of the warehouse in dir, failing on a duplicate id.
func readSinks(t testing.TB, dir string) (duck, pq map[string]storedRow) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	read := func(q string) map[string]storedRow {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		defer rows.Close()
		out := map[string]storedRow{}
		for rows.Next() {
			var id string
			var r storedRow
			if err := rows.Scan(&id, &r.raw, &r.day, &r.file); err != nil {
				t.Fatal(err)
			}
			if _, dup := out[id]; dup {
				t.Fatalf("id %s stored twice (%s)", id, q)
			}
			out[id] = r
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if _, err := db.Exec(fmt.Sprintf("SET TimeZone='UTC'; ATTACH '%s' AS wh (READ_ONLY)", filepath.Join(dir, warehouse.DatabaseFile))); err != nil {
		t.Fatal(err)
	}
	duck = read(`SELECT id, raw, strftime(day, '%Y-%m-%d'), '' FROM wh.activities`)
	// Parquet files carry no day column: the folder (Hive layout) is the day.
	files, _ := filepath.Glob(filepath.Join(dir, warehouse.ParquetDir, "*", "*", "*.parquet"))
	pq = map[string]storedRow{}
	if len(files) > 0 {
		pq = read(fmt.Sprintf(`SELECT id, raw, regexp_extract(filename, 'day=([0-9-]+)', 1), filename FROM read_parquet('%s', filename=true, hive_partitioning=false)`,
			filepath.Join(dir, warehouse.ParquetDir, "*", "*", "*.parquet")))
	}
	return duck, pq
}

// checkSinks asserts that both sinks hold exactly want (id → raw), each row in its UTC day and
// each Parquet row in its day's folder.
func checkSinks(t testing.TB, dir string, tn *synth.Tenant, want map[string]string) {
	t.Helper()
	days := map[string]string{}
	for i := range tn.Len() {
		a := tn.Activity(i)
		days[a.ID] = time.UnixMilli(a.Timestamp).UTC().Format("2006-01-02")
	}
	duck, pq := readSinks(t, dir)
	for name, got := range map[string]map[string]storedRow{"duckdb": duck, "parquet": pq} {
		if len(got) != len(want) {
			t.Errorf("%s holds %d rows, want %d", name, len(got), len(want))
		}
		bad := 0
		for id, raw := range want {
			r, ok := got[id]
			switch {
			case !ok:
				t.Errorf("%s lacks id %s", name, id)
			case r.raw != raw:
				t.Errorf("%s: raw of %s differs from the source record:\n got %.200s\nwant %.200s", name, id, r.raw, raw)
			case r.day != days[id]:
				t.Errorf("%s: id %s has day %s, want the UTC day of its timestamp %s", name, id, r.day, days[id])
			case name == "parquet" && filepath.Base(filepath.Dir(r.file)) != "day="+days[id]:
				t.Errorf("parquet: id %s (day %s) sits in %s", id, days[id], r.file)
			default:
				continue
			}
			if bad++; bad > 5 {
				t.Fatalf("%s: too many differences", name)
			}
		}
	}
}

func TestLoadNDJSONBothSinksExact(t *testing.T) {
	tn := testTenant(t, 1, 3000)
	// Records created after visibleAt (late arrivals) are not in the first file.
	visibleAt := testEnd.Add(-3 * time.Hour)
	first := expected(tn, visibleAt)
	all := expected(tn, testEnd)
	if len(first) == len(all) || len(first) < 2000 {
		t.Fatalf("test data: %d records visible at first, %d in all; want some late arrivals", len(first), len(all))
	}
	// The data must hold the quirks whose raw has to survive: huge fields, failed sign-ins with
	// only failedUserData, index-keyed entityData, non-ASCII text.
	quirks := map[string]func(string) bool{
		"a field over 100 KB": func(r string) bool { return len(r) > 100_000 },
		"failedUserData only": func(r string) bool {
			return strings.Contains(r, `"failedUserData"`) && !strings.Contains(r, `"user":{"userName"`)
		},
		"index-keyed entityData": func(r string) bool { return strings.Contains(r, `"entityData":{"0"`) },
		"non-ASCII text":         func(r string) bool { return strings.ContainsFunc(r, func(c rune) bool { return c > 127 }) },
	}
	for name, has := range quirks {
		found := false
		for _, r := range first {
			if has(r) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("test data has no record with %s", name)
		}
	}
	dir := t.TempDir()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	opts := LoadOptions{ChunkRows: 400, Pipeline: Options{BatchRows: 1000, Allocator: mem}}

	f1 := writeNDJSON(t, tn, visibleAt)
	sum := loadInto(t, dir, []Input{{Name: f1}}, opts)
	if sum.New != int64(len(first)) || sum.Duplicates != 0 || sum.Rejected != 0 || sum.Records != int64(len(first)) {
		t.Errorf("first load: %+v; want %d new", sum, len(first))
	}
	if sum.Files != 1 || sum.Commits < 3 || len(sum.Days) < 4 {
		t.Errorf("first load: files %d commits %d days %v", sum.Files, sum.Commits, sum.Days)
	}
	checkSinks(t, dir, tn, first)

	t.Run("same file again adds nothing", func(t *testing.T) {
		sum := loadInto(t, dir, []Input{{Name: f1}}, opts)
		if sum.New != 0 || sum.Duplicates != int64(len(first)) || sum.Conflicts != 0 {
			t.Errorf("reload: new %d duplicates %d conflicts %d; want 0, %d, 0", sum.New, sum.Duplicates, sum.Conflicts, len(first))
		}
		checkSinks(t, dir, tn, first)
	})
	t.Run("overlapping later file adds only the late arrivals", func(t *testing.T) {
		f2 := writeNDJSON(t, tn, testEnd)
		sum := loadInto(t, dir, []Input{{Name: f2}}, opts)
		if sum.New != int64(len(all)-len(first)) || sum.Duplicates != int64(len(first)) {
			t.Errorf("overlap: new %d duplicates %d; want %d, %d", sum.New, sum.Duplicates, len(all)-len(first), len(first))
		}
		checkSinks(t, dir, tn, all)
	})
	mem.AssertSize(t, 0)
}

// pagesOf renders the records visible at visibleAt as saved API pages of n records. The records
// are copied byte for byte (as the API's bytes would be), so raw must come back identical.
func pagesOf(tn *synth.Tenant, visibleAt time.Time, n int, pretty bool) []byte {
	var out bytes.Buffer
	var page [][]byte
	flush := func(hasNext bool) {
		if pretty {
			fmt.Fprintf(&out, "{\n  \"hasNext\": %v,\n  \"total\": {\"value\": %d},\n  \"data\": [\n    %s\n  ]\n}\n", hasNext, tn.Len(), bytes.Join(page, []byte(",\n    ")))
		} else {
			fmt.Fprintf(&out, `{"data":[%s],"hasNext":%v,"total":%d}`+"\n", bytes.Join(page, []byte(",")), hasNext, tn.Len())
		}
		page = nil
	}
	for i := range tn.Len() {
		if tn.Activity(i).Created > visibleAt.UnixMilli() {
			continue
		}
		page = append(page, tn.AppendJSON(nil, i))
		if len(page) == n {
			flush(true)
		}
	}
	flush(false)
	return out.Bytes()
}

func gz(b []byte) []byte {
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	zw.Write(b)
	zw.Close()
	return out.Bytes()
}

func TestLoadFormats(t *testing.T) {
	tn := testTenant(t, 2, 800)
	want := expected(tn, testEnd)
	var nd bytes.Buffer
	if _, err := tn.WriteNDJSON(&nd, testEnd); err != nil {
		t.Fatal(err)
	}
	compact := pagesOf(tn, testEnd, 150, false)
	pretty := pagesOf(tn, testEnd, 300, true)
	tests := []struct {
		name  string
		input func(t *testing.T) Input
	}{
		{"ndjson gzip file", func(t *testing.T) Input { return fileInput(t, "a.ndjson.gz", gz(nd.Bytes())) }},
		{"ndjson stdin", func(t *testing.T) Input { return Input{Name: "-", Reader: bytes.NewReader(nd.Bytes())} }},
		{"pages one per line", func(t *testing.T) Input { return fileInput(t, "pages.json", compact) }},
		{"pretty pages on stdin, gzip", func(t *testing.T) Input {
			return Input{Name: "-", Reader: bytes.NewReader(gz(pretty))}
		}},
		{"pretty-printed objects (jq .)", func(t *testing.T) Input { return fileInput(t, "jq.json", joinRecords(t, tn, "", "\n", "", "  ")) }},
		{"objects on one line", func(t *testing.T) Input { return fileInput(t, "cat.json", joinRecords(t, tn, "", "", "", "")) }},
		{"a JSON array", func(t *testing.T) Input { return fileInput(t, "array.json", joinRecords(t, tn, "[", ",", "]", "")) }},
		{"a pretty JSON array on stdin, gzip", func(t *testing.T) Input {
			return Input{Name: "-", Reader: bytes.NewReader(gz(joinRecords(t, tn, "[\n  ", ",\n  ", "\n]\n", "  ")))}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			sum := loadInto(t, dir, []Input{tt.input(t)}, LoadOptions{Pipeline: Options{BatchRows: 300}})
			if sum.New != int64(len(want)) || sum.Rejected != 0 {
				t.Errorf("new %d rejected %d; want %d, 0", sum.New, sum.Rejected, len(want))
			}
			checkSinks(t, dir, tn, want)
		})
	}
}

// joinRecords writes tn's visible records between open and close, separated by sep, each
// indented by indent (none: compact).
func joinRecords(t *testing.T, tn *synth.Tenant, open, sep, close, indent string) []byte {
	t.Helper()
	out := bytes.NewBufferString(open)
	n := 0
	for i := range tn.Len() {
		if tn.Activity(i).Created > testEnd.UnixMilli() {
			continue
		}
		if n > 0 {
			out.WriteString(sep)
		}
		n++
		rec := tn.AppendJSON(nil, i)
		if indent != "" {
			var b bytes.Buffer
			if err := json.Indent(&b, rec, "", indent); err != nil {
				t.Fatal(err)
			}
			rec = b.Bytes()
		}
		out.Write(rec)
	}
	out.WriteString(close)
	return out.Bytes()
}

func fileInput(t *testing.T, name string, data []byte) Input {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return Input{Name: p}
}

func TestLoadRejects(t *testing.T) {
	tn := testTenant(t, 3, 300)
	want := expected(tn, testEnd)
	var in bytes.Buffer
	if _, err := tn.WriteNDJSON(&in, testEnd); err != nil {
		t.Fatal(err)
	}
	bad := []string{
		`{"timestamp":1767225600000,"note":"no id"}`,
		`{"_id":"bad-ts","timestamp":"not a time"}`,
		`{"_id":"trunc","timestamp":17672`,
		"{\"_id\":\"utf8\",\"timestamp\":1767225600000,\"x\":\"\xff\xfe\"}",
		`{"_id":"` + strings.Repeat("x", 1200<<10) + `","timestamp":1767225600000}`,
	}
	in.WriteString(strings.Join(bad, "\n") + "\n")
	dir := t.TempDir()
	sum := loadInto(t, dir, []Input{{Name: "-", Reader: &in}}, LoadOptions{MaxRecordBytes: 1 << 20})
	if sum.New != int64(len(want)) || sum.Rejected != int64(len(bad)) {
		t.Fatalf("new %d rejected %d; want %d, %d", sum.New, sum.Rejected, len(want), len(bad))
	}
	wantReasons := map[string]int64{schema.ReasonMissingID: 1, schema.ReasonBadTimestamp: 1, schema.ReasonInvalidJSON: 1, schema.ReasonInvalidUTF8: 1, schema.ReasonTooLarge: 1}
	if fmt.Sprint(sum.RejectedByReason) != fmt.Sprint(wantReasons) {
		t.Errorf("rejects by reason %v, want %v", sum.RejectedByReason, wantReasons)
	}
	checkSinks(t, dir, tn, want)

	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("ATTACH '%s' AS wh (READ_ONLY)", filepath.Join(dir, warehouse.DatabaseFile))); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`SELECT split_part(reason, ':', 1), raw_bytes FROM wh.rejected_activities ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var reason string
		var raw []byte
		if err := rows.Scan(&reason, &raw); err != nil {
			t.Fatal(err)
		}
		got = append(got, reason)
		if reason != schema.ReasonTooLarge && !slices.Contains(bad, string(raw)) {
			t.Errorf("rejected %s: raw %q is not the input line", reason, raw)
		}
	}
	rows.Close()
	if len(got) != len(bad) {
		t.Errorf("rejected_activities holds %v, want %d rows", got, len(bad))
	}
	files, _ := filepath.Glob(filepath.Join(dir, warehouse.RejectedDir, "*"))
	if len(files) != 1 {
		t.Fatalf("rejected/ holds %v, want one file for the run", files)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != len(bad) {
		t.Errorf("%s has %d lines, want %d", files[0], n, len(bad))
	}
}

func TestLoadStopsOnCancelAndCommitsWhatWasRead(t *testing.T) {
	tn := testTenant(t, 4, 500)
	var nd bytes.Buffer
	if _, err := tn.WriteNDJSON(&nd, testEnd); err != nil {
		t.Fatal(err)
	}
	// A pipe whose writer sends part of the data and then goes quiet, like a stalled producer.
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	lines := bytes.SplitAfter(nd.Bytes(), []byte("\n"))
	const sent = 250
	go pw.Write(bytes.Join(lines[:sent], nil))

	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	w, err := warehouse.Open(ctx, warehouse.Options{Dir: dir, Source: "file"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(context.Background())
	p := make(chan *Pipeline, 1)
	done := make(chan struct{})
	var sum *Summary
	var lerr error
	go func() {
		defer close(done)
		sum, lerr = Load(ctx, w, []Input{{Name: "-", Reader: pr}}, LoadOptions{ChunkRows: 50}, func(pp *Pipeline) { p <- pp })
	}()
	pp := <-p
	deadline := time.Now().Add(10 * time.Second)
	for pp.Snapshot().Records < sent-50 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Load did not return after cancel while its input was blocked")
	}
	if lerr == nil || !sum.Stopped {
		t.Fatalf("err %v stopped %v; want the cancellation reported", lerr, sum.Stopped)
	}
	// Every chunk handed to the pipeline is committed; only the unfinished chunk is left to rerun.
	if sum.New != sum.Records || sum.New < sent-50 {
		t.Errorf("after cancel: %d read, %d committed; want all of ≥ %d read chunks committed", sum.Records, sum.New, sent-50)
	}
}

func TestDetectFormat(t *testing.T) {
	tests := []struct {
		in   string
		want Format
	}{
		{`{"_id":"a","timestamp":1}` + "\n" + `{"_id":"b"}`, FormatNDJSON},
		{`{"data":[{"_id":"a"}],"hasNext":false}`, FormatPages},
		{"  \n{\n  \"data\": [\n", FormatPages},
		{`{"hasNext":true,"total":{"x":[1,{"y":2}]},"data":[]}`, FormatPages},
		{`[{"_id":"a"}]`, FormatArray},
		{"{\n  \"_id\": \"a\"\n}\n{\n", FormatJSON},
		{`{"_id":"a","timestamp":1}{"_id":"b"}`, FormatJSON},
		{`{"_id":"a"}  ` + "\n", FormatNDJSON},
		{"not json\n{\"_id\":\"a\"}\n", FormatNDJSON},
		{`{"_id":"a","data":[1]}`, FormatNDJSON},
		{`{"data":"not an array"}`, FormatNDJSON},
		{"\ufeff" + `{"data":[]}`, FormatPages},
		{``, FormatNDJSON},
		{`garbage`, FormatNDJSON},
		{`{"hasNext":true,"big":"` + strings.Repeat("x", 5000) + `","data":[{}]}`, FormatPages},
		{`{"big":"` + strings.Repeat("x", 70<<10) + `","data":[{}]}`, FormatNDJSON}, // beyond the window
		{`{"data":[` + strings.Repeat(" ", 3000), FormatPages},
		{`{"_id":"x","timestamp":1}` + "\n", FormatNDJSON},
		{`{"a":1}` + "\n" + `{"data":[]}`, FormatNDJSON},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%.40s", tt.in), func(t *testing.T) {
			if got := DetectFormat(bufio.NewReaderSize(strings.NewReader(tt.in), 1<<20)); got != tt.want {
				t.Errorf("DetectFormat(%.60q…) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzLoadInput feeds arbitrary bytes through format detection, splitting and conversion: it
// must never panic, never leak Arrow memory, and account for every NDJSON line as a row or a
// reject.
func FuzzLoadInput(f *testing.F) {
	f.Add([]byte(`{"_id":"a","timestamp":1767225600000}` + "\n" + `{"_id":"b"}` + "\n\n"))
	f.Add([]byte(`{"data":[{"_id":"a","timestamp":1767225600000},{"bad":1}],"hasNext":false}`))
	f.Add([]byte("[1,2,{\"_id\":\"x\",\"timestamp\":\"1767225600000\"}]"))
	f.Add([]byte("\x1f\x8b\x08garbage"))
	f.Add([]byte("{\"_id\":\"\xff\",\"timestamp\":1}\r\n{"))
	f.Add([]byte("\xef\xbb\xbf\n{\"_id\":\"a\",\"timestamp\":1}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		m := newMemCommitter()
		sum, err := Load(t.Context(), m, []Input{{Name: "-", Reader: bytes.NewReader(data)}}, LoadOptions{ChunkRows: 3, MaxRecordBytes: 256, Pipeline: Options{Allocator: mem, BatchRows: 5}}, nil)
		mem.AssertSize(t, 0)
		if err != nil {
			return // an unreadable page file is refused as a whole, with an error
		}
		if sum.New+sum.Duplicates+sum.Rejected != sum.Records {
			t.Fatalf("records %d != new %d + duplicates %d + rejected %d", sum.Records, sum.New, sum.Duplicates, sum.Rejected)
		}
		if DetectFormat(bufio.NewReaderSize(bytes.NewReader(data), 1<<20)) == FormatNDJSON && !bytes.HasPrefix(data, []byte{0x1f, 0x8b}) {
			lines := 0
			for _, l := range bytes.Split(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")), []byte("\n")) {
				if len(bytes.TrimSpace(l)) > 0 {
					lines++
				}
			}
			if int64(lines) != sum.Records {
				t.Fatalf("%d non-blank lines but %d records read", lines, sum.Records)
			}
		}
	})
}

func TestLoadSavedPageFixture(t *testing.T) {
	const fixture = "testdata/page-quirks.json"
	body, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	elems, err := schema.SplitPage(body)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	sum := loadInto(t, dir, []Input{{Name: fixture}}, LoadOptions{Pipeline: Options{Allocator: mem}})
	mem.AssertSize(t, 0)
	if sum.New != 3 || sum.Rejected != 2 || sum.Records != 5 || sum.TypeErrors < 4 {
		t.Errorf("summary %+v; want 3 new, 2 rejected of 5, ≥ 4 type errors (wrong-typed fields become NULL)", sum)
	}
	if sum.RejectedByReason[schema.ReasonMissingID] != 1 || sum.RejectedByReason[schema.ReasonBadTimestamp] != 1 {
		t.Errorf("rejects by reason %v", sum.RejectedByReason)
	}
	duck, pq := readSinks(t, dir)
	for _, sink := range []map[string]storedRow{duck, pq} {
		if len(sink) != 3 {
			t.Fatalf("sink holds %d rows, want 3", len(sink))
		}
		// raw is the element's bytes exactly as they sit in the saved page.
		for _, e := range elems[:3] {
			found := false
			for _, r := range sink {
				found = found || r.raw == string(e)
			}
			if !found {
				t.Errorf("no stored row has raw %.80s…", e)
			}
		}
	}
}

func TestLoadNeverMovesAWatermark(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	w, err := warehouse.Open(ctx, warehouse.Options{Dir: dir, Source: "file"})
	if err != nil {
		t.Fatal(err)
	}
	const key, mark = "watermark https://tenant.example {}", `{"created":1767225600000}`
	if _, err := w.Commit(ctx, warehouse.Commit{State: map[string]string{key: mark}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	tn := testTenant(t, 5, 200)
	loadInto(t, dir, []Input{{Name: writeNDJSON(t, tn, testEnd)}}, LoadOptions{})
	w, err = warehouse.Open(ctx, warehouse.Options{Dir: dir, Source: "file"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	got, ok, err := w.State(ctx, key)
	if err != nil || !ok || got != mark {
		t.Errorf("after a load the watermark is %q (%v, %v), want %q unchanged", got, ok, err, mark)
	}
}
