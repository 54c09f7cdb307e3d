package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// benchPage returns n records cycling through the fixtures, compacted as the API sends them,
// each with its own _id and timestamp so no two rows are alike.
func benchPage(tb testing.TB, n int) ([]json.RawMessage, int) {
	tb.Helper()
	var fixtures [][]byte
	for _, name := range []string{"failed-login.json", "onedrive-file-previewed.json", "exchange-admin.json"} {
		var buf bytes.Buffer
		if err := json.Compact(&buf, readFixture(tb, name)); err != nil {
			tb.Fatal(err)
		}
		fixtures = append(fixtures, buf.Bytes())
	}
	recs := make([]json.RawMessage, n)
	total := 0
	for i := range recs {
		f := fixtures[i%len(fixtures)]
		var m map[string]json.RawMessage
		if err := json.Unmarshal(f, &m); err != nil {
			tb.Fatal(err)
		}
		m["_id"] = json.RawMessage(strconv.Quote(fmt.Sprintf("%064x", i)))
		m["timestamp"] = json.RawMessage(strconv.Itoa(1700000000000 + i*997))
		b, err := json.Marshal(m)
		if err != nil {
			tb.Fatal(err)
		}
		recs[i] = b
		total += len(b)
	}
	return recs, total
}

// BenchmarkConvert converts 5000-record pages (the API's page size) of realistic records and
// reports records/s and MB/s.
func BenchmarkConvert(b *testing.B) {
	recs, total := benchPage(b, 5000)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	c := NewConverter(mem, Options{})
	benchConvert(b, c, recs, total)
}

// benchConvert runs c over recs in a benchmark loop and reports records/s (wall clock) and
// records per CPU-second (all of the process's threads, GC included).
func benchConvert(b *testing.B, c *Converter, recs []json.RawMessage, total int) {
	b.SetBytes(int64(total))
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		batch, err := c.Convert(recs)
		if err != nil || len(batch.Rejected) != 0 {
			b.Fatalf("convert: %v, %d rejected", err, len(batch.Rejected))
		}
		batch.Record.Release()
	}
	reportRates(b, len(recs)*b.N, processCPU()-cpu0)
	b.ReportMetric(float64(total)/float64(len(recs)), "B/record")
}

// reportRates reports n records as records/s (wall clock) and records/cpu-s (CPU time of the
// whole process, GC included), the figure that holds up on a busy machine.
func reportRates(b *testing.B, n int, cpu time.Duration) {
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
	if cpu > 0 {
		b.ReportMetric(float64(n)/cpu.Seconds(), "records/cpu-s")
	}
}

// BenchmarkSplitPage splits a saved 5000-record API page.
func BenchmarkSplitPage(b *testing.B) {
	recs, _ := benchPage(b, 5000)
	page, err := json.Marshal(map[string]any{"data": recs, "hasNext": true, "total": 5000})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(page)))
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		got, err := SplitPage(page)
		if err != nil || len(got) != len(recs) {
			b.Fatalf("split: %v, %d records", err, len(got))
		}
	}
	reportRates(b, len(recs)*b.N, processCPU()-cpu0)
}

// BenchmarkNDJSONReader splits an NDJSON stream of realistic records into 5000-record chunks.
func BenchmarkNDJSONReader(b *testing.B) {
	recs, _ := benchPage(b, 5000)
	var in bytes.Buffer
	for _, r := range recs {
		in.Write(r)
		in.WriteByte('\n')
	}
	b.SetBytes(int64(in.Len()))
	b.ReportAllocs()
	cpu0 := processCPU()
	for b.Loop() {
		r := NewNDJSONReader(bytes.NewReader(in.Bytes()), NDJSONOptions{})
		n := 0
		for {
			ch, err := r.Next()
			if err != nil {
				break
			}
			n += len(ch.Records)
		}
		if n != len(recs) {
			b.Fatalf("%d records, want %d", n, len(recs))
		}
	}
	reportRates(b, len(recs)*b.N, processCPU()-cpu0)
}
