package schema

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// FuzzConvertCloudAppEvents: Convert never panics; each line ends as a row or a reject; the
// reject code agrees with encoding/json about validity; a row's raw is the line and its
// report_id, ts and day are what encoding/json and time.Parse read.
func FuzzConvertCloudAppEvents(f *testing.F) {
	for _, s := range []string{
		caeLine("a", "2026-12-06T12:00:00.1234567Z", `"ISP":"x","IsAdminOperation":"true","ApplicationId":"7"`),
		caeLine("b", "2026-12-06T12:00:00+01:00", `"RawEventData":{"k":[1,2]},"UncommonForUser":""`),
		`{"category":"AdvancedHunting-CloudAppEvents","properties":{"ReportId":"x","Timestamp":"1969-12-31T23:59:59.999Z"},"properties":null}`,
		`{"category":"advancedhunting-cloudappevents","properties":{"Report\u0049d":"e","Timestamp":"2026-01-01T00:00:00Z"}}`,
		`{"category":7}`, `[1]`, `{"a":`, "{\"x\":\"\xff\"}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := []json.RawMessage{data}
		for line := range bytes.SplitSeq(data, []byte("\n")) {
			lines = append(lines, line)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		b, err := NewCloudAppEventsConverter(mem, CloudAppEventsOptions{MaxRecordBytes: 1 << 16}).Convert(lines)
		if err != nil {
			t.Fatalf("Convert: %v", err)
		}
		if int(b.Record.NumRows())+len(b.Rejected) != len(lines) {
			t.Fatalf("%d rows + %d rejected != %d lines", b.Record.NumRows(), len(b.Rejected), len(lines))
		}
		rejected := map[int]Rejected{}
		for _, r := range b.Rejected {
			rejected[r.Index] = r
		}
		ids := b.Record.Column(caeReportID).(*array.String)
		ts := b.Record.Column(caeTS).(*array.Timestamp)
		days := b.Record.Column(caeDay).(*array.Date32)
		raws := b.Record.Column(caeRaw).(*array.String)
		row := 0
		for i, l := range lines {
			valid := utf8.Valid(l) && json.Valid(l)
			var env struct {
				Category   *string
				Properties map[string]json.RawMessage
			}
			isObject := valid && json.Unmarshal(l, &env) == nil
			if rej, ok := rejected[i]; ok {
				code, _, _ := strings.Cut(rej.Reason, ":")
				if code == ReasonInvalidJSON && valid && !strings.Contains(rej.Reason, "nesting too deep") {
					t.Fatalf("line %d: %s, but encoding/json finds it valid", i, rej.Reason)
				}
				if !bytes.Equal(rej.Raw, l) {
					t.Fatalf("line %d: reject raw differs", i)
				}
				continue
			}
			if !isObject || env.Category == nil || !strings.EqualFold(*env.Category, CloudAppEventsCategory) {
				t.Fatalf("line %d %q loaded without a CloudAppEvents category", i, l)
			}
			var id, tsText string
			if json.Unmarshal(env.Properties["ReportId"], &id) != nil || id != ids.Value(row) {
				t.Fatalf("row %d report_id %q, encoding/json reads %q", row, ids.Value(row), id)
			}
			_ = json.Unmarshal(env.Properties["Timestamp"], &tsText)
			want, err := time.Parse(time.RFC3339Nano, tsText)
			if err != nil || want.UnixMicro() != int64(ts.Value(row)) {
				t.Fatalf("row %d ts %d, time.Parse(%q) = %v, %v", row, ts.Value(row), tsText, want, err)
			}
			if int64(days.Value(row)) != floorDiv(int64(ts.Value(row)), microsPerDay) || raws.Value(row) != string(l) {
				t.Fatalf("row %d day %d / raw differ", row, days.Value(row))
			}
			row++
		}
		b.Record.Release()
		if n := mem.CurrentAlloc(); n != 0 {
			t.Fatalf("%d bytes of Arrow memory left allocated", n)
		}
	})
}
