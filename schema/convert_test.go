package schema

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// checkedMem returns an allocator that fails the test if anything is left allocated at the end.
func checkedMem(t testing.TB) *memory.CheckedAllocator {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	return mem
}

// convert runs a fresh Converter over records; the record batch is released at cleanup.
func convert(t testing.TB, opts Options, records ...string) *Batch {
	t.Helper()
	mem := checkedMem(t)
	raws := make([]json.RawMessage, len(records))
	for i, r := range records {
		raws[i] = json.RawMessage(r)
	}
	b, err := NewConverter(mem, opts).Convert(raws)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	t.Cleanup(b.Record.Release)
	if got := int(b.Record.NumRows()) + len(b.Rejected); got != len(records) {
		t.Fatalf("rows %d + rejected %d != %d records", b.Record.NumRows(), len(b.Rejected), len(records))
	}
	if !b.Record.Schema().Equal(Activities) {
		t.Fatalf("schema = %v, want Activities", b.Record.Schema())
	}
	return b
}

// row returns row i of rec as column name → Go value (nil for NULL): string, int64 (ms) for
// timestamps, string YYYY-MM-DD for day, int32, float64, bool, []string.
func row(t testing.TB, rec arrow.RecordBatch, i int) map[string]any {
	t.Helper()
	out := map[string]any{}
	for c, f := range rec.Schema().Fields() {
		col := rec.Column(c)
		if col.IsNull(i) {
			out[f.Name] = nil
			continue
		}
		switch a := col.(type) {
		case *array.String:
			out[f.Name] = a.Value(i)
		case *array.Timestamp:
			out[f.Name] = int64(a.Value(i))
		case *array.Date32:
			out[f.Name] = a.Value(i).ToTime().Format("2006-01-02")
		case *array.Int32:
			out[f.Name] = a.Value(i)
		case *array.Float64:
			out[f.Name] = a.Value(i)
		case *array.Boolean:
			out[f.Name] = a.Value(i)
		case *array.List:
			start, end := a.ValueOffsets(i)
			names := []string{}
			vals := a.ListValues().(*array.String)
			for j := start; j < end; j++ {
				names = append(names, vals.Value(int(j)))
			}
			out[f.Name] = names
		default:
			t.Fatalf("column %s: unexpected array %T", f.Name, col)
		}
	}
	return out
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return bytes.TrimRight(b, "\n")
}

func TestColumnIndexes(t *testing.T) {
	want := map[int]string{colID: "id", colTS: "ts", colCreated: "created", colDay: "day", colAppID: "app_id",
		colAppName: "app_name", colUserName: "user_name", colEventType: "event_type", colEventTypeValue: "event_type_value",
		colAction: "action", colSuccess: "success", colDescription: "description", colIP: "ip", colCountry: "country",
		colCity: "city", colLatitude: "latitude", colLongitude: "longitude", colISP: "isp", colAnonymousProxy: "anonymous_proxy",
		colIPCategory: "ip_category", colUserAgent: "user_agent", colDeviceType: "device_type", colAdmin: "admin",
		colObjects: "objects", colRaw: "raw", colParameters: "parameters", colTenant: "tenant",
		colModifiedProperties: "modified_properties", colAWSRegion: "aws_region", colLogonType: "logon_type", colMailboxOwner: "mailbox_owner"}
	if len(Columns) != numCols || len(want) != numCols {
		t.Fatalf("len(Columns) = %d, numCols = %d, want %d", len(Columns), numCols, len(want))
	}
	for i, name := range want {
		if Columns[i].Name != name {
			t.Errorf("Columns[%d] = %s, want %s", i, Columns[i].Name, name)
		}
	}
}

// TestSchemaContract pins the column contract of docs/design.md: names, order, types, nullability.
func TestSchemaContract(t *testing.T) {
	want := "id:utf8!, ts:timestamp[ms, tz=UTC]!, created:timestamp[ms, tz=UTC], day:date32!, app_id:int32, " +
		"app_name:utf8, user_name:utf8, event_type:utf8, event_type_value:utf8, action:utf8, success:bool, " +
		"description:utf8, ip:utf8, country:utf8, city:utf8, latitude:float64, longitude:float64, isp:utf8, " +
		"anonymous_proxy:bool, ip_category:utf8, user_agent:utf8, device_type:utf8, admin:bool, " +
		"objects:list<item: utf8, nullable>, raw:utf8!, parameters:utf8, tenant:utf8!, modified_properties:utf8, " +
		"aws_region:utf8, logon_type:int32, mailbox_owner:utf8"
	var got []string
	for _, f := range Activities.Fields() {
		s := f.Name + ":" + f.Type.String()
		if !f.Nullable {
			s += "!"
		}
		got = append(got, s)
	}
	if g := strings.Join(got, ", "); g != want {
		t.Errorf("schema\n got %s\nwant %s", g, want)
	}
	if v, ok := Activities.Metadata().GetValue("mcasload.schema_version"); !ok || v != "4" || Version != 4 {
		t.Errorf("schema version metadata = %q, Version = %d", v, Version)
	}
}

func TestConvertFixtures(t *testing.T) {
	tests := []struct {
		file string
		want map[string]any
	}{
		{"failed-login.json", map[string]any{
			"id": "d1b3c191a5563edfbce3f11cad83155cf31552f6f0b40184b423f38e0c39f536", "ts": int64(1626197184418),
			"created": int64(1626197422850), "day": "2021-07-13", "app_id": int32(20893),
			"app_name": "Microsoft Exchange Online", "user_name": "john@example.onmicrosoft.com",
			"event_type": "EVENT_CATEGORY_FAILED_LOGIN", "event_type_value": "EVENT_AAD_LOGIN_FAILED",
			"action": "OAuth2:Token", "success": false,
			"description": "Failed log on (Failure message: Error validating credentials due to invalid username or password.)",
			"ip":          "1.2.3.4", "country": "DE", "city": "frankfurt am main", "latitude": 50.1109, "longitude": 8.6821,
			"isp": "Amazon Web Services", "anonymous_proxy": false, "ip_category": "Cloud provider",
			"user_agent": ";;Python Requests 2.25;", "device_type": "OTHER", "admin": nil, "parameters": nil,
			"objects": []string{"Office 365 Exchange Online", "Request ID", "Pass-through authentication",
				"john@example.onmicrosoft.com", "John Example", "John Example"},
		}},
		{"onedrive-file-previewed.json", map[string]any{
			"id": "97134000_15600_0b8c6a54-3f3e-4f7e-9a5a-5c0a1d3e7f21", "ts": int64(1595250000000),
			"created": int64(1595250171456), "day": "2020-07-20", "app_id": int32(15600),
			"app_name": "Microsoft OneDrive for Business", "user_name": "ana@example.onmicrosoft.com",
			"event_type": "EVENT_CATEGORY_UNSPECIFIED", "event_type_value": "EVENT_O365_ONEDRIVE_GENERIC",
			"action": "FilePreviewed", "success": true, "description": "FilePreviewed", "ip": "203.0.113.17",
			"country": "GB", "city": "london", "latitude": 51.5074, "longitude": -0.1278, "isp": "Example Telecom",
			"anonymous_proxy": false, "ip_category": "Corporate",
			"user_agent":  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/84.0.4147.89 Safari/537.36",
			"device_type": "DESKTOP", "admin": nil, "objects": []string{"report.docx", "Ana Müller"}, "parameters": nil,
		}},
		// Numeric strings and integral floats, a null country with a device fallback, a null
		// userAgent object, null and nameless event objects, and a capitalised top-level Level key.
		{"exchange-admin.json", map[string]any{
			"id": "5e0c6f3a9b1d2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6", "ts": int64(1704067199999),
			"created": int64(1704067399999), "day": "2023-12-31", "app_id": int32(20893),
			"app_name": "Microsoft Exchange Online", "user_name": "admin@example.onmicrosoft.com",
			"event_type": "EVENT_CATEGORY_UNSPECIFIED", "event_type_value": "EVENT_O365_EXCHANGE_ADMIN",
			"action": "Set-Mailbox", "success": true, "description": "Set-Mailbox", "ip": "198.51.100.9",
			"country": "US", "city": "ashburn", "latitude": 39.0438, "longitude": -77.4874, "isp": "Example VPN",
			"anonymous_proxy": true, "ip_category": "VPN", "user_agent": nil, "device_type": nil, "admin": true,
			"objects":    []string{"bob@example.com", "ForwardingSmtpAddress"},
			"parameters": `[{"Name":"Identity","Value":"bob"},{"Name":"ForwardingSmtpAddress","Value":"smtp:evil@example.net"}]`,
			"logon_type": int32(1),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			raw := readFixture(t, tt.file)
			b := convert(t, Options{Tenant: "contoso"}, string(raw))
			if len(b.Rejected) != 0 || b.TypeErrors != 0 {
				t.Fatalf("rejected %v, type errors %d (%v)", b.Rejected, b.TypeErrors, b.ColumnTypeErrors)
			}
			got := row(t, b.Record, 0)
			if got["raw"] != string(raw) {
				t.Errorf("raw is not the record byte for byte")
			}
			delete(got, "raw")
			tt.want["tenant"] = "contoso" // every row carries the converter's tenant
			if !reflect.DeepEqual(got, tt.want) {
				for k := range got {
					if !reflect.DeepEqual(got[k], tt.want[k]) {
						t.Errorf("%s = %#v, want %#v", k, got[k], tt.want[k])
					}
				}
			}
		})
	}
}

// rec builds a minimal valid record with extra members appended.
func rec(id string, extra string) string {
	s := `{"_id":"` + id + `","timestamp":1700000000000`
	if extra != "" {
		s += "," + extra
	}
	return s + "}"
}

// TestConvertColumns covers each column's extraction, fallback and NULL cases.
func TestConvertColumns(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  map[string]any // only the listed columns are checked
	}{
		{"minimal record", "", map[string]any{"id": "a", "ts": int64(1700000000000), "day": "2023-11-14",
			"created": nil, "app_id": nil, "user_name": nil, "success": nil, "objects": nil, "admin": nil, "ip_category": nil}},
		{"created int", `"created":1700000000123`, map[string]any{"created": int64(1700000000123)}},
		{"created string", `"created":"1700000000123"`, map[string]any{"created": int64(1700000000123)}},
		{"created integral float", `"created":1700000000123.0`, map[string]any{"created": int64(1700000000123)}},
		{"created exponent", `"created":1.700000000123E12`, map[string]any{"created": int64(1700000000123)}},
		{"created null", `"created":null`, map[string]any{"created": nil}},
		{"app_id", `"appId":11161,"saasId":20893`, map[string]any{"app_id": int32(11161)}},
		{"app_id falls back to saasId", `"saasId":20893`, map[string]any{"app_id": int32(20893)}},
		{"app_id null falls back", `"appId":null,"saasId":"20893"`, map[string]any{"app_id": int32(20893)}},
		{"app_name", `"appName":"Office 365"`, map[string]any{"app_name": "Office 365"}},
		{"user_name from user", `"user":{"userName":"u@x","userTags":[]}`, map[string]any{"user_name": "u@x"}},
		{"user_name from failedUserData", `"user":{"userTags":["t"]},"failedUserData":{"userName":"f@x"}`, map[string]any{"user_name": "f@x"}},
		{"user_name prefers user", `"failedUserData":{"userName":"f@x"},"user":{"userName":"u@x"}`, map[string]any{"user_name": "u@x"}},
		{"user_name null user falls back", `"user":null,"failedUserData":{"userName":"f@x"}`, map[string]any{"user_name": "f@x"}},
		{"event types", `"eventTypeName":"EVENT_CATEGORY_LOGIN","eventTypeValue":"EVENT_AAD_LOGIN"`,
			map[string]any{"event_type": "EVENT_CATEGORY_LOGIN", "event_type_value": "EVENT_AAD_LOGIN"}},
		{"action and success", `"mainInfo":{"type":"basic","rawOperationName":"New-InboxRule","activityResult":{"isSuccess":true,"message":"ok"}}`,
			map[string]any{"action": "New-InboxRule", "success": true}},
		{"description", `"description":"said \"hi\"\n"`, map[string]any{"description": "said \"hi\"\n"}},
		{"device", `"device":{"clientIP":"10.0.0.1","userAgent":"UA/1","countryCode":"FR"}`,
			map[string]any{"ip": "10.0.0.1", "user_agent": "UA/1", "country": "FR"}},
		{"country prefers location", `"device":{"countryCode":"FR"},"location":{"countryCode":"DE"}`, map[string]any{"country": "DE"}},
		{"location", `"location":{"city":"paris","latitude":48.85,"longitude":2.35,"organizationSearchable":"ISP","anonymousProxy":true}`,
			map[string]any{"city": "paris", "latitude": 48.85, "longitude": 2.35, "isp": "ISP", "anonymous_proxy": true}},
		{"latitude as string", `"location":{"latitude":"-33.5","longitude":"1e1"}`, map[string]any{"latitude": -33.5, "longitude": 10.0}},
		{"category 1", `"location":{"category":1}`, map[string]any{"ip_category": "Corporate"}},
		{"category 2", `"location":{"category":2}`, map[string]any{"ip_category": "Administrative"}},
		{"category 3", `"location":{"category":3}`, map[string]any{"ip_category": "Risky"}},
		{"category 4 string", `"location":{"category":"4"}`, map[string]any{"ip_category": "VPN"}},
		{"category 5", `"location":{"category":5}`, map[string]any{"ip_category": "Cloud provider"}},
		{"category 6 float", `"location":{"category":6.0}`, map[string]any{"ip_category": "Other"}},
		{"category 0 is none", `"location":{"category":0}`, map[string]any{"ip_category": nil}},
		{"unknown category kept as text", `"location":{"category":42}`, map[string]any{"ip_category": "42"}},
		{"device_type", `"userAgent":{"deviceType":"MOBILE","os":"IOS"}`, map[string]any{"device_type": "MOBILE"}},
		{"admin true", `"eventRouting":{"adminEvent":true}`, map[string]any{"admin": true}},
		{"admin false", `"eventRouting":{"auditing":true,"adminEvent":false}`, map[string]any{"admin": false}},
		{"admin absent", `"eventRouting":{"auditing":true}`, map[string]any{"admin": nil}},
		{"objects", `"mainInfo":{"eventObjects":[{"name":"a","objType":1},{"id":"x"},null,{"name":"b","tags":[{"name":"nested"}]}]}`,
			map[string]any{"objects": []string{"a", "b"}}},
		{"objects empty", `"mainInfo":{"eventObjects":[]}`, map[string]any{"objects": []string{}}},
		{"objects null", `"mainInfo":{"eventObjects":null}`, map[string]any{"objects": nil}},
		{"timestamp string", `"timestamp":"1700000000001"`, map[string]any{"ts": int64(1700000000001)}},
		{"timestamp float", `"timestamp":1700000000002.000`, map[string]any{"ts": int64(1700000000002)}},
		{"repeated key last wins", `"appName":"first","appName":"second"`, map[string]any{"app_name": "second"}},
		{"escaped key", `"app\u004eame":"escaped"`, map[string]any{"app_name": "escaped"}},
		// parameters is the array's text byte for byte: whitespace, escapes and nesting kept.
		{"parameters", `"rawDataJson":{"Operation":"New-InboxRule","Parameters":[{"Name":"Name","Value":"."},{"Name":"DeleteMessage","Value":"True"}],"LogonType":0}`,
			map[string]any{"parameters": `[{"Name":"Name","Value":"."},{"Name":"DeleteMessage","Value":"True"}]`}},
		{"parameters escaped and nested", "\"rawDataJson\":{\"Parameters\" : [ {\"Name\":\"SubjectContainsWords\",\"Value\":\"\\\"invoice\\\"\\u00e9\\n]}\"},\n {\"Name\":\"X\",\"Value\":{\"a\":[1,{\"b\":null}]}} ] }",
			map[string]any{"parameters": "[ {\"Name\":\"SubjectContainsWords\",\"Value\":\"\\\"invoice\\\"\\u00e9\\n]}\"},\n {\"Name\":\"X\",\"Value\":{\"a\":[1,{\"b\":null}]}} ]"}},
		{"parameters empty array", `"rawDataJson":{"Parameters":[]}`, map[string]any{"parameters": `[]`}},
		{"parameters absent", `"rawDataJson":{"LogonType":1}`, map[string]any{"parameters": nil}},
		{"parameters null", `"rawDataJson":{"Parameters":null}`, map[string]any{"parameters": nil}},
		{"rawDataJson null", `"rawDataJson":null`, map[string]any{"parameters": nil}},
		{"parameters elsewhere not read", `"Parameters":[1],"mainInfo":{"Parameters":[2]},"rawDataJson":{"parameters":[3],"x":{"Parameters":[4]}}`,
			map[string]any{"parameters": nil}},
		{"parameters last wins", `"rawDataJson":{"Parameters":[1],"Parameters":[2]}`, map[string]any{"parameters": `[2]`}},
		// the other narrow copies of rawDataJson (schema version 4)
		{"modified properties", `"rawDataJson":{"Operation":"Update user.","ModifiedProperties":[{"Name":"StrongAuthenticationMethod","NewValue":"[{\"MethodType\":6}]","OldValue":"[]"}]}`,
			map[string]any{"modified_properties": `[{"Name":"StrongAuthenticationMethod","NewValue":"[{\"MethodType\":6}]","OldValue":"[]"}]`, "parameters": nil}},
		{"modified properties empty", `"rawDataJson":{"ModifiedProperties":[]}`, map[string]any{"modified_properties": `[]`}},
		{"modified properties null", `"rawDataJson":{"ModifiedProperties":null}`, map[string]any{"modified_properties": nil}},
		{"aws region", `"rawDataJson":{"eventName":"RunInstances","awsRegion":"ap-southeast-3"}`, map[string]any{"aws_region": "ap-southeast-3"}},
		{"aws region escaped", `"rawDataJson":{"awsRegion":"us-east-1"}`, map[string]any{"aws_region": "us-east-1"}},
		{"mailbox audit", `"rawDataJson":{"LogonType":2,"InternalLogonType":0,"MailboxOwnerUPN":"Bob@Contoso.com"}`,
			map[string]any{"logon_type": int32(2), "mailbox_owner": "Bob@Contoso.com"}},
		{"logon type as string", `"rawDataJson":{"LogonType":"1"}`, map[string]any{"logon_type": int32(1), "mailbox_owner": nil}},
		{"logon type owner", `"rawDataJson":{"LogonType":0}`, map[string]any{"logon_type": int32(0)}},
		{"narrow copies elsewhere not read", `"awsRegion":"x","LogonType":1,"mainInfo":{"MailboxOwnerUPN":"a@b"},"rawDataJson":{"x":{"ModifiedProperties":[1],"LogonType":2}}`,
			map[string]any{"aws_region": nil, "logon_type": nil, "mailbox_owner": nil, "modified_properties": nil}},
		{"repeated rawDataJson replaces the first", `"rawDataJson":{"LogonType":2,"awsRegion":"eu-west-1"},"rawDataJson":{"Parameters":[]}`,
			map[string]any{"logon_type": nil, "aws_region": nil, "parameters": `[]`}},
		{"before epoch", `"timestamp":-1`, map[string]any{"ts": int64(-1), "day": "1969-12-31"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rec("a", tt.extra)
			b := convert(t, Options{}, r)
			if len(b.Rejected) != 0 {
				t.Fatalf("rejected: %+v", b.Rejected)
			}
			if b.TypeErrors != 0 {
				t.Errorf("type errors %v", b.ColumnTypeErrors)
			}
			got := row(t, b.Record, 0)
			for k, w := range tt.want {
				if !reflect.DeepEqual(got[k], w) {
					t.Errorf("%s = %#v, want %#v", k, got[k], w)
				}
			}
			if got["raw"] != r {
				t.Errorf("raw = %q, want %q", got["raw"], r)
			}
		})
	}
}

// TestQuirks: real-record oddities load normally.
func TestQuirks(t *testing.T) {
	tests := []struct {
		name  string
		extra string
		want  map[string]any
	}{
		{"unknown fields", `"brandNew":{"deep":[1,2,{"x":null}]},"x":1e400`, map[string]any{"app_name": nil}},
		{"Level and level", `"rawDataJson":{"Level":4,"level":"Info","EventName":"a","eventName":"b"}`, map[string]any{"id": "a"}},
		{"case-colliding contract keys", `"AppName":"wrong","appName":"right","appname":"wrong","User":{"userName":"no"},"user":{"UserName":"no","userName":"yes"}`,
			map[string]any{"app_name": "right", "user_name": "yes"}},
		{"missing objects", `"appName":"x"`, map[string]any{"ip": nil, "country": nil, "action": nil, "objects": nil}},
		{"null objects", `"device":null,"location":null,"mainInfo":null,"user":null,"failedUserData":null,"userAgent":null,"eventRouting":null`,
			map[string]any{"ip": nil, "country": nil, "action": nil, "objects": nil, "user_name": nil, "admin": nil}},
		{"null activityResult", `"mainInfo":{"activityResult":null,"rawOperationName":"op"}`, map[string]any{"success": nil, "action": "op"}},
		{"whitespace everywhere", "\n\t \"appName\" \r\n:\t\"ws\" ", map[string]any{"app_name": "ws"}},
		{"entityData index keys with null", `"entityData":{"0":{"id":{"id":"x"}},"1":null}`, map[string]any{"id": "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rec("a", tt.extra)
			b := convert(t, Options{}, r)
			if len(b.Rejected) != 0 || b.TypeErrors != 0 {
				t.Fatalf("rejected %+v, type errors %v", b.Rejected, b.ColumnTypeErrors)
			}
			got := row(t, b.Record, 0)
			for k, w := range tt.want {
				if !reflect.DeepEqual(got[k], w) {
					t.Errorf("%s = %#v, want %#v", k, got[k], w)
				}
			}
			if got["raw"] != r {
				t.Errorf("raw changed")
			}
		})
	}
}

// TestTypeErrors: a wrong-typed field is NULL, counted against its column, and raw stays intact.
func TestTypeErrors(t *testing.T) {
	tests := []struct {
		name   string
		extra  string
		column string
		count  int
		want   map[string]any
	}{
		{"created object", `"created":{"ms":1}`, "created", 1, map[string]any{"created": nil}},
		{"created fractional", `"created":1700000000000.5`, "created", 1, map[string]any{"created": nil}},
		{"created words", `"created":"yesterday"`, "created", 1, map[string]any{"created": nil}},
		{"appId bool", `"appId":true`, "app_id", 1, map[string]any{"app_id": nil}},
		{"appId too big, saasId used", `"appId":99999999999,"saasId":7`, "app_id", 1, map[string]any{"app_id": int32(7)}},
		{"appName number", `"appName":12`, "app_name", 1, map[string]any{"app_name": nil}},
		{"user string", `"user":"bob","failedUserData":{"userName":"f@x"}`, "user_name", 1, map[string]any{"user_name": "f@x"}},
		{"userName array", `"user":{"userName":["a"]}`, "user_name", 1, map[string]any{"user_name": nil}},
		{"isSuccess string", `"mainInfo":{"activityResult":{"isSuccess":"yes"}}`, "success", 1, map[string]any{"success": nil}},
		{"latitude word", `"location":{"latitude":"north","longitude":2}`, "latitude", 1, map[string]any{"latitude": nil, "longitude": 2.0}},
		{"latitude NaN text", `"location":{"latitude":"NaN"}`, "latitude", 1, map[string]any{"latitude": nil}},
		{"anonymousProxy int", `"location":{"anonymousProxy":1}`, "anonymous_proxy", 1, map[string]any{"anonymous_proxy": nil}},
		{"category word", `"location":{"category":"VPN"}`, "ip_category", 1, map[string]any{"ip_category": nil}},
		{"adminEvent string", `"eventRouting":{"adminEvent":"true"}`, "admin", 1, map[string]any{"admin": nil}},
		{"eventObjects object", `"mainInfo":{"eventObjects":{"0":{"name":"a"}}}`, "objects", 1, map[string]any{"objects": nil}},
		{"eventObjects name number", `"mainInfo":{"eventObjects":[{"name":1},{"name":"b"}]}`, "objects", 1, map[string]any{"objects": []string{"b"}}},
		{"eventObjects element string", `"mainInfo":{"eventObjects":["a",{"name":"b"}]}`, "objects", 1, map[string]any{"objects": []string{"b"}}},
		{"mainInfo array", `"mainInfo":[1]`, "action", 1, map[string]any{"action": nil, "success": nil, "objects": nil}},
		{"deviceType object", `"userAgent":{"deviceType":{}}`, "device_type", 1, map[string]any{"device_type": nil}},
		{"parameters object", `"rawDataJson":{"Parameters":{"Name":"ForwardTo","Value":"x@y"}}`, "parameters", 1, map[string]any{"parameters": nil}},
		{"parameters string", `"rawDataJson":{"Parameters":"[{\"Name\":\"a\"}]"}`, "parameters", 1, map[string]any{"parameters": nil}},
		{"rawDataJson array", `"rawDataJson":[{"Parameters":[]}]`, "parameters", 1, map[string]any{"parameters": nil}},
		{"modified properties object", `"rawDataJson":{"ModifiedProperties":{"Name":"x"}}`, "modified_properties", 1, map[string]any{"modified_properties": nil}},
		{"aws region number", `"rawDataJson":{"awsRegion":1}`, "aws_region", 1, map[string]any{"aws_region": nil}},
		{"logon type word", `"rawDataJson":{"LogonType":"Delegate"}`, "logon_type", 1, map[string]any{"logon_type": nil}},
		{"logon type fractional", `"rawDataJson":{"LogonType":1.5}`, "logon_type", 1, map[string]any{"logon_type": nil}},
		{"logon type too big", `"rawDataJson":{"LogonType":4294967296}`, "logon_type", 1, map[string]any{"logon_type": nil}},
		{"mailbox owner object", `"rawDataJson":{"MailboxOwnerUPN":{"upn":"a@b"}}`, "mailbox_owner", 1, map[string]any{"mailbox_owner": nil}},
		{"rawDataJson string", `"rawDataJson":"{}"`, "logon_type", 1, map[string]any{"logon_type": nil, "aws_region": nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rec("a", tt.extra)
			b := convert(t, Options{}, r)
			if len(b.Rejected) != 0 {
				t.Fatalf("rejected %+v", b.Rejected)
			}
			if b.ColumnTypeErrors[tt.column] != tt.count {
				t.Errorf("type errors %v, want %s: %d", b.ColumnTypeErrors, tt.column, tt.count)
			}
			sum := 0
			for _, n := range b.ColumnTypeErrors {
				sum += n
			}
			if sum != b.TypeErrors || b.TypeErrors == 0 {
				t.Errorf("TypeErrors %d, per column %v", b.TypeErrors, b.ColumnTypeErrors)
			}
			got := row(t, b.Record, 0)
			for k, w := range tt.want {
				if !reflect.DeepEqual(got[k], w) {
					t.Errorf("%s = %#v, want %#v", k, got[k], w)
				}
			}
			if got["raw"] != r {
				t.Errorf("raw changed")
			}
		})
	}
}

// TestRejects: each reason rejects only its record; the records around it land.
func TestRejects(t *testing.T) {
	// id is the _id a reject carries: read when it came before the fault, so an operator can
	// find the record; "" when there is none.
	tests := []struct {
		name   string
		record string
		reason string
		id     string
	}{
		{"no _id", `{"timestamp":1700000000000}`, ReasonMissingID, ""},
		{"null _id", `{"_id":null,"timestamp":1700000000000}`, ReasonMissingID, ""},
		{"empty _id", `{"_id":"","timestamp":1700000000000}`, ReasonMissingID, ""},
		{"numeric _id", `{"_id":12,"timestamp":1700000000000}`, ReasonBadID, ""},
		{"uid is not _id", `{"uid":"u","timestamp":1700000000000}`, ReasonMissingID, ""},
		{"no timestamp", `{"_id":"x1","created":1700000000000}`, ReasonMissingTimestamp, "x1"},
		{"null timestamp", `{"_id":"x2","timestamp":null}`, ReasonMissingTimestamp, "x2"},
		{"timestamp words", `{"_id":"x3","timestamp":"2023-11-14T22:13:20Z"}`, ReasonBadTimestamp, "x3"},
		{"timestamp fraction", `{"_id":"x4","timestamp":1700000000000.25}`, ReasonBadTimestamp, "x4"},
		{"timestamp bool", `{"_id":"x5","timestamp":true}`, ReasonBadTimestamp, "x5"},
		{"timestamp year 10000", `{"_id":"x6","timestamp":253402300800000}`, ReasonBadTimestamp, "x6"},
		{"timestamp overflow", `{"_id":"x7","timestamp":99999999999999999999}`, ReasonBadTimestamp, "x7"},
		{"timestamp object", `{"_id":"x8","timestamp":{"$date":1}}`, ReasonBadTimestamp, "x8"},
		{"truncated", `{"_id":"t","timestamp":17000`, ReasonInvalidJSON, "t"},
		{"trailing comma", `{"_id":"t","timestamp":1,}`, ReasonInvalidJSON, "t"},
		{"trailing text", `{"_id":"t","timestamp":1} x`, ReasonInvalidJSON, "t"},
		{"two records", `{"_id":"t","timestamp":1}{"_id":"u","timestamp":1}`, ReasonInvalidJSON, "t"},
		{"single quotes", `{'_id':"t"}`, ReasonInvalidJSON, ""},
		{"bad escape", `{"_id":"t\q","timestamp":1}`, ReasonInvalidJSON, ""},
		{"raw control char", "{\"_id\":\"t\x01\",\"timestamp\":1}", ReasonInvalidJSON, ""},
		{"leading zero", `{"_id":"t","timestamp":01}`, ReasonInvalidJSON, "t"},
		{"bad literal", `{"_id":"t","timestamp":1,"x":nul}`, ReasonInvalidJSON, "t"},
		{"empty", ``, ReasonInvalidJSON, ""},
		{"too deep", strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1), ReasonInvalidJSON, ""},
		{"too deep inside", `{"_id":"d","timestamp":1,"x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`, ReasonInvalidJSON, "d"},
		{"invalid utf-8", "{\"_id\":\"u\",\"timestamp\":1,\"x\":\"\xff\"}", ReasonInvalidUTF8, ""},
		{"overlong utf-8", "{\"_id\":\"u\",\"timestamp\":1,\"x\":\"\xc0\xaf\"}", ReasonInvalidUTF8, ""},
		{"array", `[{"_id":"a","timestamp":1}]`, ReasonNotObject, ""},
		{"string", `"hello"`, ReasonNotObject, ""},
		{"null", `null`, ReasonNotObject, ""},
	}
	good1, good2 := rec("good1", ""), rec("good2", `"appName":"x"`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := convert(t, Options{}, good1, tt.record, good2)
			if len(b.Rejected) != 1 || b.Record.NumRows() != 2 {
				t.Fatalf("rows %d, rejected %+v", b.Record.NumRows(), b.Rejected)
			}
			r := b.Rejected[0]
			if code, _, _ := strings.Cut(r.Reason, ":"); code != tt.reason {
				t.Errorf("reason %q, want code %s", r.Reason, tt.reason)
			}
			if !strings.Contains(r.Reason, ": ") {
				t.Errorf("reason %q has no detail", r.Reason)
			}
			if r.ID != tt.id || r.Index != 1 || string(r.Raw) != tt.record {
				t.Errorf("rejected = {ID:%q Index:%d Raw:%.80q}, want ID %q index 1 and the raw record", r.ID, r.Index, r.Raw, tt.id)
			}
			if row(t, b.Record, 0)["id"] != "good1" || row(t, b.Record, 1)["id"] != "good2" {
				t.Errorf("neighbours did not land in order")
			}
		})
	}
}

func TestRejectedRawIsACopy(t *testing.T) {
	buf := []byte(`{"_id":"x"}`)
	mem := checkedMem(t)
	b, err := NewConverter(mem, Options{}).Convert([]json.RawMessage{buf})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Record.Release()
	buf[2] = 'X'
	if string(b.Rejected[0].Raw) != `{"_id":"x"}` {
		t.Errorf("Rejected.Raw shares the caller's buffer: %q", b.Rejected[0].Raw)
	}
}

func TestTooLarge(t *testing.T) {
	small := rec("s", "")
	big := rec("b", `"description":"`+strings.Repeat("x", 100)+`"`)
	b := convert(t, Options{MaxRecordBytes: 100}, small, big)
	if b.Record.NumRows() != 1 || len(b.Rejected) != 1 {
		t.Fatalf("rows %d, rejected %d", b.Record.NumRows(), len(b.Rejected))
	}
	if !strings.HasPrefix(b.Rejected[0].Reason, ReasonTooLarge+": ") || string(b.Rejected[0].Raw) != big {
		t.Errorf("rejected %q", b.Rejected[0].Reason)
	}
}

// TestHugeField: a 10 MB field loads under the default limit and raw keeps all of it.
func TestHugeField(t *testing.T) {
	huge := strings.Repeat("0123456789", 1<<20)
	r := rec("huge", `"rawDataJson":{"Blob":"`+huge+`"},"description":"`+huge[:1<<20]+`"`)
	b := convert(t, Options{}, r, rec("next", ""))
	if len(b.Rejected) != 0 || b.Record.NumRows() != 2 {
		t.Fatalf("rows %d, rejected %d", b.Record.NumRows(), len(b.Rejected))
	}
	got := row(t, b.Record, 0)
	if got["raw"] != r || got["description"] != huge[:1<<20] {
		t.Errorf("huge record not kept whole")
	}
}

// TestDayBoundaries: day is the UTC date of ts, whatever the local zone.
func TestDayBoundaries(t *testing.T) {
	old := time.Local
	time.Local = time.FixedZone("UTC+14", 14*3600)
	defer func() { time.Local = old }()
	ms := func(s string) int64 {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm.UnixMilli()
	}
	tests := []struct{ at, day string }{
		{"2024-02-29T23:59:59.999Z", "2024-02-29"},
		{"2024-03-01T00:00:00.000Z", "2024-03-01"},
		{"2023-12-31T23:59:59.999Z", "2023-12-31"},
		{"2024-01-01T00:00:00.000Z", "2024-01-01"},
		{"1969-12-31T23:59:59.999Z", "1969-12-31"},
		{"1970-01-01T00:00:00.000Z", "1970-01-01"},
	}
	var recs []string
	for i, tt := range tests {
		recs = append(recs, rec(string(rune('a'+i)), `"timestamp":`+jsonInt(ms(tt.at))))
	}
	b := convert(t, Options{}, recs...)
	for i, tt := range tests {
		got := row(t, b.Record, i)
		if got["day"] != tt.day || got["ts"] != ms(tt.at) {
			t.Errorf("%s: day %v ts %v, want %s", tt.at, got["day"], got["ts"], tt.day)
		}
	}
	ts := b.Record.Column(colTS).(*array.Timestamp)
	if unit := ts.DataType().(*arrow.TimestampType); unit.TimeZone != "UTC" || unit.Unit != arrow.Millisecond {
		t.Errorf("ts type %v", unit)
	}
}

func jsonInt(v int64) string { b, _ := json.Marshal(v); return string(b) }

func TestUnicode(t *testing.T) {
	tests := []struct {
		name, value, want string
	}{
		{"umlaut", `"Jürgen Müller"`, "Jürgen Müller"},
		{"cjk", `"山田太郎@example.jp"`, "山田太郎@example.jp"},
		{"emoji", `"🙂 ok"`, "🙂 ok"},
		{"escaped bmp", `"J\u00fcrgen"`, "Jürgen"},
		{"escaped pair", `"\ud83d\ude42"`, "🙂"},
		{"lone surrogate", `"a\ud800b"`, "a\uFFFDb"},
		{"escaped slash and tab", `"a\/b\tc"`, "a/b\tc"},
		{"nul escape", `"a\u0000b"`, "a\x00b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rec("u", `"user":{"userName":`+tt.value+`}`)
			b := convert(t, Options{}, r)
			if len(b.Rejected) != 0 {
				t.Fatalf("rejected %+v", b.Rejected)
			}
			got := row(t, b.Record, 0)
			if got["user_name"] != tt.want {
				t.Errorf("user_name = %q, want %q", got["user_name"], tt.want)
			}
			var std struct {
				User struct {
					UserName string `json:"userName"`
				} `json:"user"`
			}
			if err := json.Unmarshal([]byte(r), &std); err != nil || std.User.UserName != tt.want {
				t.Errorf("encoding/json reads %q (%v); the converter disagrees", std.User.UserName, err)
			}
			if got["raw"] != r {
				t.Errorf("raw changed")
			}
		})
	}
}

// TestConverterReuse: one Converter over many batches keeps no state between records or batches.
func TestConverterReuse(t *testing.T) {
	mem := checkedMem(t)
	c := NewConverter(mem, Options{})
	full := readFixture(t, "onedrive-file-previewed.json")
	for i := range 3 {
		b, err := c.Convert([]json.RawMessage{full, json.RawMessage(rec("bare", "")), json.RawMessage(`{"bad"`)})
		if err != nil {
			t.Fatal(err)
		}
		got := row(t, b.Record, 1)
		if got["user_name"] != nil || got["objects"] != nil || got["admin"] != nil || got["country"] != nil {
			t.Errorf("batch %d: values leaked from the previous record: %v", i, got)
		}
		if len(b.Rejected) != 1 || b.Rejected[0].ID != "" {
			t.Errorf("batch %d: rejected %+v", i, b.Rejected)
		}
		b.Record.Release()
	}
	b, err := c.Convert(nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.Record.NumRows() != 0 || b.Record.NumCols() != numCols {
		t.Errorf("empty convert: %d rows %d cols", b.Record.NumRows(), b.Record.NumCols())
	}
	b.Record.Release()
}

// TestReserveBounded: buffers sized from a batch of huge records do not make the next batch of
// small records reserve gigabytes.
func TestReserveBounded(t *testing.T) {
	mem := checkedMem(t)
	c := NewConverter(mem, Options{})
	big := rec("big", `"description":"`+strings.Repeat("d", 50<<10)+`"`)
	var recs []json.RawMessage
	for range 120 {
		recs = append(recs, json.RawMessage(big))
	}
	b, err := c.Convert(recs)
	if err != nil {
		t.Fatal(err)
	}
	b.Record.Release()
	recs = recs[:0]
	for range 5000 {
		recs = append(recs, json.RawMessage(rec("small", `"description":"d"`)))
	}
	if b, err = c.Convert(recs); err != nil {
		t.Fatal(err)
	}
	defer b.Record.Release()
	if n := mem.CurrentAlloc(); n > 16<<20 {
		t.Errorf("a batch of 5000 small records holds %d MiB", n>>20)
	}
	if got := row(t, b.Record, 4999)["description"]; got != "d" {
		t.Errorf("description = %v", got)
	}
}
