package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/testkit"
)

// caeLine builds a CloudAppEvents line with ReportId id, Timestamp ts and extra properties.
func caeLine(id, ts, extra string) string {
	props := `"ReportId":` + strconvQuote(id) + `,"Timestamp":` + strconvQuote(ts)
	if extra != "" {
		props += "," + extra
	}
	return `{"time":"2026-12-06T12:00:05.1234567Z","tenantId":"t-1","category":"AdvancedHunting-CloudAppEvents","properties":{` + props + `}}`
}

func strconvQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// convertCAE runs a fresh converter over lines; the batch is released at cleanup.
func convertCAE(t testing.TB, opts CloudAppEventsOptions, lines ...string) *Batch {
	t.Helper()
	raws := make([]json.RawMessage, len(lines))
	for i, l := range lines {
		raws[i] = json.RawMessage(l)
	}
	b, err := NewCloudAppEventsConverter(checkedMem(t), opts).Convert(raws)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	t.Cleanup(b.Record.Release)
	if got := int(b.Record.NumRows()) + len(b.Rejected); got != len(lines) {
		t.Fatalf("rows %d + rejected %d != %d lines", b.Record.NumRows(), len(b.Rejected), len(lines))
	}
	if !b.Record.Schema().Equal(CloudAppEvents) {
		t.Fatalf("schema = %v, want CloudAppEvents", b.Record.Schema())
	}
	return b
}

func micros(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixMicro()
}

// TestCloudAppEventsContract pins the column contract and the positions the converter uses.
func TestCloudAppEventsContract(t *testing.T) {
	for pos, name := range map[int]string{caeReportID: "report_id", caeTS: "ts", caeReceived: "received", caeDay: "day",
		caeTenant: "tenant", caeEntraTenant: "entra_tenant_id", caeRaw: "raw"} {
		if CloudAppEventsColumns[pos].Name != name {
			t.Errorf("column %d = %s, want %s", pos, CloudAppEventsColumns[pos].Name, name)
		}
	}
	seen := map[string]bool{}
	documented := 0
	for _, c := range caeSpec {
		if seen[c.col.Name] {
			t.Errorf("column %s twice", c.col.Name)
		}
		seen[c.col.Name] = true
		if c.key != "" {
			documented++
			if c.col.Source != "properties."+c.key {
				t.Errorf("%s: source %q, want properties.%s", c.col.Name, c.col.Source, c.key)
			}
		}
	}
	// Every column of the table doc (learn.microsoft.com/defender-xdr/advanced-hunting-cloudappevents-table).
	if documented != 36 {
		t.Errorf("%d documented columns, the table doc lists 36", documented)
	}
	for _, k := range CloudAppEventsKey {
		if !seen[k] {
			t.Errorf("key column %s is not a column", k)
		}
	}
	if v, ok := CloudAppEvents.Metadata().GetValue("mcasload.schema_version"); !ok || v != "1" {
		t.Errorf("schema version metadata %q", v)
	}
	for _, name := range []string{"report_id", "ts", "day", "raw"} {
		if f, _ := CloudAppEvents.FieldsByName(name); len(f) != 1 || f[0].Nullable {
			t.Errorf("%s must be NOT NULL", name)
		}
	}
}

// TestCloudAppEventsFixture reads a line shaped like a captured export (envelope extras, ISP,
// nulls, nested RawEventData) into every column.
func TestCloudAppEventsFixture(t *testing.T) {
	line := string(readFixture(t, "cloudappevents-exchange.json"))
	b := convertCAE(t, CloudAppEventsOptions{Tenant: "contoso"}, line)
	if len(b.Rejected) != 0 || b.TypeErrors != 0 {
		t.Fatalf("rejected %+v, type errors %v", b.Rejected, b.ColumnTypeErrors)
	}
	got := row(t, b.Record, 0)
	want := map[string]any{
		"report_id": "3b9d5e0c7a1f42d8b6c4e2a09f8d7c6b5a4e3d2c1b0a99887766554433221100_20893",
		"ts":        micros("2026-12-06T12:01:58.102Z"), "received": micros("2026-12-06T12:03:17.447123Z"),
		"day": "2026-12-06", "tenant": "contoso", "entra_tenant_id": "7c1e3b52-9f0a-4d61-8e2b-5a3c9d8e1f40",
		"action_type": "New-InboxRule", "application": "Microsoft Exchange Online", "application_id": int32(20893),
		"app_instance_id": int32(0), "account_object_id": "0f6d2c8a-31b4-4e5f-9a7c-2d81e6b4c3f1",
		"account_id": "0f6d2c8a-31b4-4e5f-9a7c-2d81e6b4c3f1", "account_display_name": "Dana Whitfield",
		"is_admin_operation": false, "device_type": "Desktop", "os_platform": "Windows 10", "ip_address": "203.0.113.77",
		"is_anonymous_proxy": false, "country_code": "NG", "city": "lagos", "isp": "example transit ltd",
		"activity_type": "Create", "object_name": "..", "object_type": "Mailbox rule", "object_id": "..",
		"account_type": "Regular", "is_external_user": false, "is_impersonated": false, "ip_tags": "[]",
		"ip_category": "Risky", "user_agent_tags": nil, "uncommon_for_user": `["ISP","CountryCode"]`,
		"last_seen_for_user": `{"ActionType":-1,"ISP":-1,"CountryCode":-1,"IPAddress":-1}`,
		"additional_fields":  `{"IsSatelliteProvider":false}`, "session_data": nil, "oauth_app_id": nil,
		"audit_source": "Defender for Cloud Apps app connector", "raw": line,
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s = %#v, want %#v", k, got[k], w)
		}
	}
	if !strings.HasPrefix(got["activity_objects"].(string), `[{"Type":"User","Role":"Actor"`) ||
		!strings.Contains(got["raw_event_data"].(string), `{"Name":"ForwardTo","Value":"dropbox4412@example.net"}`) {
		t.Errorf("dynamic columns: %q / %q", got["activity_objects"], got["raw_event_data"])
	}
	if len(got) != len(CloudAppEventsColumns) {
		t.Errorf("row has %d columns", len(got))
	}
}

// TestCloudAppEventsValues: the look-alikes an export may write load, wrong types load as NULL and
// are counted, and times keep their instant whatever the offset.
func TestCloudAppEventsValues(t *testing.T) {
	tests := []struct {
		name, extra string
		col         string
		want        any
		typeErrors  int
	}{
		{"bool string", `"IsAdminOperation":"True"`, "is_admin_operation", true, 0},
		{"bool zero", `"IsImpersonated":0`, "is_impersonated", false, 0},
		{"bool one", `"IsExternalUser":1`, "is_external_user", true, 0},
		{"bool two", `"IsExternalUser":2`, "is_external_user", nil, 1},
		{"bool word", `"IsExternalUser":"yes"`, "is_external_user", nil, 1},
		{"int string", `"ApplicationId":"11161"`, "application_id", int32(11161), 0},
		{"int float", `"ApplicationId":11161.0`, "application_id", int32(11161), 0},
		{"int overflow", `"ApplicationId":4294967296`, "application_id", nil, 1},
		{"int object", `"ApplicationId":{}`, "application_id", nil, 1},
		{"string number", `"ActionType":42`, "action_type", nil, 1},
		{"dynamic as string", `"RawEventData":"{\"a\":1}"`, "raw_event_data", `{"a":1}`, 0},
		{"dynamic empty string", `"UncommonForUser":""`, "uncommon_for_user", "", 0},
		{"dynamic number", `"SessionData":17`, "session_data", "17", 0},
		{"dynamic null", `"AdditionalFields":null`, "additional_fields", nil, 0},
		{"dynamic spacing kept", `"IPTags":[ "a" , "b" ]`, "ip_tags", `[ "a" , "b" ]`, 0},
		{"Isp wins over ISP", `"ISP":"b","Isp":"a"`, "isp", "a", 0},
		{"ISP when Isp null", `"Isp":null,"ISP":"b"`, "isp", "b", 0},
		{"isp key case", `"isp":"c"`, "isp", nil, 0},
		{"escaped string", `"City":"M\u00fcnchen \"Mitte\""`, "city", `München "Mitte"`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := convertCAE(t, CloudAppEventsOptions{}, caeLine("r1", "2026-12-06T12:00:00Z", tt.extra))
			if len(b.Rejected) != 0 {
				t.Fatalf("rejected %+v", b.Rejected)
			}
			if got := row(t, b.Record, 0)[tt.col]; got != tt.want {
				t.Errorf("%s = %#v, want %#v", tt.col, got, tt.want)
			}
			if b.TypeErrors != tt.typeErrors || tt.typeErrors > 0 && b.ColumnTypeErrors[tt.col] != tt.typeErrors {
				t.Errorf("type errors %d %v, want %d on %s", b.TypeErrors, b.ColumnTypeErrors, tt.typeErrors, tt.col)
			}
		})
	}
	for _, tt := range []struct{ ts, want, day string }{
		{"2026-12-06T23:59:59.9999999Z", "2026-12-06T23:59:59.999999Z", "2026-12-06"},
		{"2026-12-07T00:00:00Z", "2026-12-07T00:00:00Z", "2026-12-07"},
		{"2026-12-07T01:30:00+02:00", "2026-12-06T23:30:00Z", "2026-12-06"},
		{"1969-12-31T23:59:59.5Z", "1969-12-31T23:59:59.5Z", "1969-12-31"},
		{"0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "0001-01-01"},
	} {
		b := convertCAE(t, CloudAppEventsOptions{}, caeLine("r", tt.ts, ""))
		if len(b.Rejected) != 0 {
			t.Fatalf("%s: rejected %+v", tt.ts, b.Rejected)
		}
		r := row(t, b.Record, 0)
		if r["ts"] != micros(tt.want) || r["day"] != tt.day || r["tenant"] != nil {
			t.Errorf("%s: ts %v day %v tenant %v, want %s %s", tt.ts, r["ts"], r["day"], r["tenant"], tt.want, tt.day)
		}
	}
	// The envelope's time is not the key: a bad one is a NULL and a counted type error.
	b := convertCAE(t, CloudAppEventsOptions{}, strings.Replace(caeLine("r", "2026-12-06T12:00:00Z", ""), `"2026-12-06T12:00:05.1234567Z"`, `1765022405`, 1))
	if r := row(t, b.Record, 0); r["received"] != nil || b.ColumnTypeErrors["received"] != 1 {
		t.Errorf("numeric envelope time: received %v, type errors %v", r["received"], b.ColumnTypeErrors)
	}
}

// TestCloudAppEventsRejects: each reason rejects only its line; its neighbours land in order.
func TestCloudAppEventsRejects(t *testing.T) {
	env := func(category, props string) string {
		return `{"time":"2026-12-06T12:00:05Z","tenantId":"t","category":` + category + `,"properties":` + props + `}`
	}
	tests := []struct{ name, line, reason, id string }{
		{"another table", env(`"AdvancedHunting-DeviceEvents"`, `{"ReportId":"x","Timestamp":"2026-12-06T12:00:00Z"}`), ReasonWrongCategory, "x"},
		{"no category", `{"properties":{"ReportId":"x","Timestamp":"2026-12-06T12:00:00Z"}}`, ReasonWrongCategory, "x"},
		{"numeric category", env(`7`, `{"ReportId":"x","Timestamp":"2026-12-06T12:00:00Z"}`), ReasonWrongCategory, "x"},
		{"no properties", `{"category":"AdvancedHunting-CloudAppEvents"}`, ReasonMissingReportID, ""},
		{"properties array", env(`"AdvancedHunting-CloudAppEvents"`, `[1]`), ReasonMissingReportID, ""},
		{"no ReportId", env(`"AdvancedHunting-CloudAppEvents"`, `{"Timestamp":"2026-12-06T12:00:00Z"}`), ReasonMissingReportID, ""},
		{"empty ReportId", env(`"AdvancedHunting-CloudAppEvents"`, `{"ReportId":"","Timestamp":"2026-12-06T12:00:00Z"}`), ReasonMissingReportID, ""},
		{"numeric ReportId", env(`"AdvancedHunting-CloudAppEvents"`, `{"ReportId":12,"Timestamp":"2026-12-06T12:00:00Z"}`), ReasonBadReportID, ""},
		{"no Timestamp", env(`"AdvancedHunting-CloudAppEvents"`, `{"ReportId":"y"}`), ReasonMissingTimestamp, "y"},
		{"null Timestamp", env(`"AdvancedHunting-CloudAppEvents"`, `{"ReportId":"y","Timestamp":null}`), ReasonMissingTimestamp, "y"},
		{"epoch Timestamp", env(`"AdvancedHunting-CloudAppEvents"`, `{"ReportId":"y","Timestamp":1765022400000}`), ReasonBadTimestamp, "y"},
		{"words Timestamp", env(`"AdvancedHunting-CloudAppEvents"`, `{"ReportId":"y","Timestamp":"yesterday"}`), ReasonBadTimestamp, "y"},
		{"no zone", env(`"AdvancedHunting-CloudAppEvents"`, `{"ReportId":"y","Timestamp":"2026-12-06T12:00:00"}`), ReasonBadTimestamp, "y"},
		{"only envelope time", env(`"AdvancedHunting-CloudAppEvents"`, `{"ReportId":"y","time":"2026-12-06T12:00:00Z"}`), ReasonMissingTimestamp, "y"},
		{"truncated", caeLine("z", "2026-12-06T12:00:00Z", "")[:90], ReasonInvalidJSON, ""},
		{"trailing text", caeLine("z", "2026-12-06T12:00:00Z", "") + ` x`, ReasonInvalidJSON, "z"},
		{"invalid utf-8", caeLine("z", "2026-12-06T12:00:00Z", "\"City\":\"\xff\""), ReasonInvalidUTF8, ""},
		{"array", `[` + caeLine("z", "2026-12-06T12:00:00Z", "") + `]`, ReasonNotObject, ""},
		{"blank", ``, ReasonInvalidJSON, ""},
		{"too large", caeLine("z", "2026-12-06T12:00:00Z", `"RawEventData":"`+strings.Repeat("a", 600)+`"`), ReasonTooLarge, ""},
	}
	good1, good2 := caeLine("g1", "2026-12-06T12:00:00Z", ""), caeLine("g2", "2026-12-06T12:00:01Z", "")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := convertCAE(t, CloudAppEventsOptions{MaxRecordBytes: 500}, good1, tt.line, good2)
			if len(b.Rejected) != 1 || b.Record.NumRows() != 2 {
				t.Fatalf("rows %d, rejected %+v", b.Record.NumRows(), b.Rejected)
			}
			r := b.Rejected[0]
			if code, detail, _ := strings.Cut(r.Reason, ": "); code != tt.reason || detail == "" {
				t.Errorf("reason %q, want code %s with a detail", r.Reason, tt.reason)
			}
			if r.ID != tt.id || r.Index != 1 || string(r.Raw) != tt.line {
				t.Errorf("rejected {ID:%q Index:%d}, want ID %q index 1 and the raw line", r.ID, r.Index, tt.id)
			}
			if row(t, b.Record, 0)["report_id"] != "g1" || row(t, b.Record, 1)["report_id"] != "g2" {
				t.Errorf("neighbours did not land in order")
			}
		})
	}
	for _, r := range CloudAppEventsRejectReasons {
		if !strings.Contains(CloudAppEventsDocPage(), "`"+r.Code+"`") {
			t.Errorf("doc page lacks reject code %s", r.Code)
		}
	}
}

// TestCloudAppEventsChunk: rejects of a chunk carry their line numbers, merged with the lines the
// reader refused, and the converter's scratch state does not leak from one line to the next.
func TestCloudAppEventsChunk(t *testing.T) {
	ch := &Chunk{
		Records:  []json.RawMessage{json.RawMessage(caeLine("a", "2026-12-06T12:00:00Z", `"City":"x","ISP":"i"`)), json.RawMessage(`{}`), json.RawMessage(caeLine("b", "2026-12-06T12:00:00Z", ""))},
		Lines:    []int{3, 5, 9},
		Rejected: []Rejected{{Reason: ReasonTooLarge + ": huge", Index: -1, Line: 7}},
	}
	b, err := NewCloudAppEventsConverter(checkedMem(t), CloudAppEventsOptions{}).ConvertChunk(ch)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Record.Release()
	if len(b.Rejected) != 2 || b.Rejected[0].Line != 5 || b.Rejected[1].Line != 7 {
		t.Fatalf("rejects %+v, want lines 5 and 7", b.Rejected)
	}
	if r := row(t, b.Record, 1); r["report_id"] != "b" || r["city"] != nil || r["isp"] != nil {
		t.Errorf("second row %v inherited the first's values", r)
	}
}

// TestCloudAppEventsDocPage keeps docs/cloud-app-events.md generated from the columns and rejects.
func TestCloudAppEventsDocPage(t *testing.T) {
	page := CloudAppEventsDocPage()
	for _, c := range CloudAppEventsColumns {
		if !strings.Contains(page, "| `"+c.Name+"` |") {
			t.Errorf("doc page lacks column %s", c.Name)
		}
	}
	testkit.Golden(t, filepath.Join("..", "docs", "cloud-app-events.md"), []byte(page))
	var buf bytes.Buffer
	if err := CloudAppEventsTable.WriteDictionary(&buf, FormatJSON); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Version int
		Columns []DictionaryEntry
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil || doc.Version != CloudAppEventsVersion || len(doc.Columns) != len(CloudAppEventsColumns) {
		t.Fatalf("json dictionary: %v, %+v", err, doc)
	}
	if doc.Columns[1].Type != "TIMESTAMPTZ" || doc.Columns[8].Type != "INTEGER" {
		t.Errorf("types: %+v %+v", doc.Columns[1], doc.Columns[8])
	}
}

// BenchmarkConvertCloudAppEvents measures the converter over 5000 lines shaped like a captured
// export (MB/s of lines in).
func BenchmarkConvertCloudAppEvents(b *testing.B) {
	fixture := string(readFixture(b, "cloudappevents-exchange.json"))
	lines := make([]json.RawMessage, 5000)
	size := 0
	for i := range lines {
		lines[i] = json.RawMessage(strings.Replace(fixture, `"ReportId":"3b9d5e0c`, fmt.Sprintf(`"ReportId":"%08x`, i), 1))
		size += len(lines[i])
	}
	conv := NewCloudAppEventsConverter(memory.NewGoAllocator(), CloudAppEventsOptions{})
	b.SetBytes(int64(size))
	for b.Loop() {
		out, err := conv.Convert(lines)
		if err != nil || len(out.Rejected) > 0 {
			b.Fatal(err, out.Rejected)
		}
		out.Record.Release()
	}
}
