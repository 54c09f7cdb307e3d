package schema

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// addSeeds adds small records only: the multi-kilobyte fixtures stall the coverage-guided
// mutator (minutes per exec under instrumentation), and the unit tests cover them already.
func addSeeds(f *testing.F) {
	for _, s := range []string{
		rec("a", ""), rec("b", `"created":"17","appId":1.0,"location":{"category":"3","latitude":"1e3"}`),
		`{"_id":"x","timestamp":1,"_id":"y","timestamp":"2"}`, `{"_\u0069d":"e","timestamp":-5}`,
		`{"_id":"u","timestamp":1,"user":{"userName":"\ud83d\ude42\ud800"}}`, `{"_id":1}`, `[1,2]`, `{"a":`, "{\"_id\":\"\xff\"}",
		`{"_id":"m","timestamp":1,"mainInfo":{"eventObjects":[null,{"name":"a"},3,{"name":{}}]}}`,
		`{"_id":"p","timestamp":1,"rawDataJson":{"Parameters":[{"Name":"ForwardTo","Value":"a\"b"}],"Parameters":[ ]}}`,
		`{"_id":"q","timestamp":1,"rawDataJson":{"Param\u0065ters":[1]},"rawDataJson":{"Parameters":{}}}`,
		`{"_id":"r","timestamp":1,"rawDataJson":{"ModifiedProperties":[{"Name":"a"}],"awsRegion":"us-\u0065ast-1","LogonType":"2","MailboxOwnerUPN":"\ud800"}}`,
	} {
		f.Add([]byte(s))
	}
}

// FuzzConvert: Convert never panics; each record ends either as a row or as a reject; the reject
// code agrees with encoding/json about validity; a row's raw is the input and its id is what
// encoding/json reads as _id.
func FuzzConvert(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		records := []json.RawMessage{data}
		// Also treat the input as NDJSON, so several records share one batch.
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			records = append(records, line)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		b, err := NewConverter(mem, Options{MaxRecordBytes: 1 << 16}).Convert(records)
		if err != nil {
			t.Fatalf("Convert: %v", err)
		}
		if int(b.Record.NumRows())+len(b.Rejected) != len(records) {
			t.Fatalf("%d rows + %d rejected != %d records", b.Record.NumRows(), len(b.Rejected), len(records))
		}
		rejected := map[int]Rejected{}
		for _, r := range b.Rejected {
			rejected[r.Index] = r
			if !bytes.Equal(r.Raw, records[r.Index]) {
				t.Fatalf("reject raw differs from record %d", r.Index)
			}
		}
		ids := b.Record.Column(colID).(*array.String)
		raws := b.Record.Column(colRaw).(*array.String)
		days := b.Record.Column(colDay).(*array.Date32)
		params := b.Record.Column(colParameters).(*array.String)
		modified := b.Record.Column(colModifiedProperties).(*array.String)
		region := b.Record.Column(colAWSRegion).(*array.String)
		ts := b.Record.Column(colTS).(*array.Timestamp)
		row := 0
		for i, r := range records {
			valid := utf8.Valid(r) && json.Valid(r)
			var m map[string]json.RawMessage
			isObject := valid && json.Unmarshal(r, &m) == nil
			if rej, ok := rejected[i]; ok {
				code, _, _ := strings.Cut(rej.Reason, ":")
				switch code {
				case ReasonInvalidJSON:
					if utf8.Valid(r) && json.Valid(r) && !strings.Contains(rej.Reason, "nesting too deep") {
						t.Fatalf("record %d: %s, but encoding/json finds it valid", i, rej.Reason)
					}
				case ReasonInvalidUTF8:
					if utf8.Valid(r) {
						t.Fatalf("record %d: %s, but it is valid UTF-8", i, rej.Reason)
					}
				case ReasonNotObject:
					if !valid || isObject {
						t.Fatalf("record %d: %s, valid %v object %v", i, rej.Reason, valid, isObject)
					}
				case ReasonMissingID, ReasonBadID, ReasonMissingTimestamp, ReasonBadTimestamp, ReasonTooLarge:
				default:
					t.Fatalf("record %d: unknown reason %q", i, rej.Reason)
				}
				continue
			}
			if !isObject {
				t.Fatalf("record %d %q loaded, but encoding/json does not read it as an object", i, r)
			}
			if raws.Value(row) != string(r) {
				t.Fatalf("row %d raw differs", row)
			}
			var id string
			if err := json.Unmarshal(m["_id"], &id); err != nil || id != ids.Value(row) {
				t.Fatalf("row %d id %q, encoding/json reads %q (%v)", row, ids.Value(row), id, err)
			}
			var rawData map[string]json.RawMessage
			_ = json.Unmarshal(m["rawDataJson"], &rawData)
			wantParams := rawData["Parameters"]
			if len(wantParams) == 0 || wantParams[0] != '[' {
				wantParams = nil
			}
			if got := params.Value(row); params.IsNull(row) != (wantParams == nil) || got != string(wantParams) {
				t.Fatalf("row %d parameters %q (null %v), encoding/json reads %q", row, got, params.IsNull(row), wantParams)
			}
			wantModified := rawData["ModifiedProperties"]
			if len(wantModified) == 0 || wantModified[0] != '[' {
				wantModified = nil
			}
			if got := modified.Value(row); modified.IsNull(row) != (wantModified == nil) || got != string(wantModified) {
				t.Fatalf("row %d modified_properties %q (null %v), encoding/json reads %q", row, got, modified.IsNull(row), wantModified)
			}
			var wantRegion *string
			_ = json.Unmarshal(rawData["awsRegion"], &wantRegion)
			if region.IsNull(row) != (wantRegion == nil) || (wantRegion != nil && region.Value(row) != *wantRegion) {
				t.Fatalf("row %d aws_region %q (null %v), encoding/json reads %v", row, region.Value(row), region.IsNull(row), wantRegion)
			}
			if int64(days.Value(row)) != floorDiv(int64(ts.Value(row)), msPerDay) {
				t.Fatalf("row %d day %d for ts %d", row, days.Value(row), ts.Value(row))
			}
			row++
		}
		b.Record.Release()
		if n := mem.CurrentAlloc(); n != 0 {
			t.Fatalf("%d bytes of Arrow memory left allocated", n)
		}
	})
}

// FuzzSplitPage: SplitPage never panics, and when it succeeds on a valid page its records are
// exactly the elements encoding/json sees.
func FuzzSplitPage(f *testing.F) {
	f.Add([]byte(`{"data":[{"_id":"a"},{"_id":"b"}],"hasNext":true}`))
	f.Add([]byte(`[{"_id":"a"}, 1, "x", [], null]`))
	f.Add([]byte(`{"data":[],"data":[{"_id":"b"}]}`))
	f.Add([]byte(`{"data":[`))
	f.Fuzz(func(t *testing.T, body []byte) {
		recs, err := SplitPage(body)
		if err != nil {
			return
		}
		if !json.Valid(body) {
			// SplitPage leaves the inside of each record to Convert: an invalid page it accepts
			// must owe its invalidity to a record, and the records must tile the data array.
			for _, r := range recs {
				if !utf8.Valid(r) || !json.Valid(r) {
					return
				}
			}
			t.Fatalf("SplitPage accepted invalid JSON %q with only valid records", body)
		}
		var want []json.RawMessage
		if bytes.HasPrefix(bytes.TrimLeft(body, " \t\r\n"), []byte("[")) {
			if err := json.Unmarshal(body, &want); err != nil {
				t.Fatal(err)
			}
		} else {
			var env struct{ Data []json.RawMessage }
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(body, &raw); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw["data"], &env.Data); err != nil {
				t.Fatalf("SplitPage found data, encoding/json: %v", err)
			}
			want = env.Data
		}
		if len(recs) != len(want) {
			t.Fatalf("%d records, encoding/json %d", len(recs), len(want))
		}
		for i := range recs {
			if !bytes.Equal(recs[i], want[i]) {
				t.Fatalf("record %d = %q, encoding/json %q", i, recs[i], want[i])
			}
		}
	})
}

// FuzzNDJSON: the reader never panics or loses a line: every non-blank line comes back once,
// whole or (when too long) as a reject holding its prefix, with its line number.
func FuzzNDJSON(f *testing.F) {
	f.Add([]byte("{\"_id\":\"a\"}\n\n{\"_id\":\"b\"}\r\n  \nxx"), 4, 16)
	f.Add([]byte("\r\n\r\n\n"), 1, 1)
	f.Fuzz(func(t *testing.T, data []byte, chunk, max int) {
		opts := NDJSONOptions{ChunkRecords: chunk % 10, ChunkBytes: chunk % 64, MaxRecordBytes: max % 128}
		r := NewNDJSONReader(bytes.NewReader(data), opts)
		if opts.MaxRecordBytes <= 0 {
			opts.MaxRecordBytes = DefaultMaxRecordBytes
		}
		lines := strings.Split(string(data), "\n")
		if len(lines) > 0 && lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		want := map[int]string{}
		for i, l := range lines {
			if i < strings.Count(string(data), "\n") {
				l = strings.TrimSuffix(l, "\r") // only a "\r\n" ending is a line ending
			}
			if strings.TrimSpace(l) != "" || len(l) > opts.MaxRecordBytes {
				want[i+1] = l
			}
		}
		seen := 0
		for {
			ch, err := r.Next()
			if err != nil {
				break
			}
			for j, rec := range ch.Records {
				if w, ok := want[ch.Lines[j]]; !ok || w != string(rec) {
					t.Fatalf("line %d = %q, want %q", ch.Lines[j], rec, w)
				}
				seen++
			}
			for _, rj := range ch.Rejected {
				w := want[rj.Line]
				if len(w) <= opts.MaxRecordBytes || string(rj.Raw) != w[:opts.MaxRecordBytes] {
					t.Fatalf("reject line %d raw %q, line %q", rj.Line, rj.Raw, w)
				}
				seen++
			}
		}
		if seen != len(want) {
			t.Fatalf("%d lines came back, want %d", seen, len(want))
		}
	})
}
