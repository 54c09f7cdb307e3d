package schema

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
)

// The CloudAppEvents table: the rows of Microsoft Defender XDR's advanced hunting table
// CloudAppEvents as the Streaming API writes them to Azure Storage, one JSON line each:
//
//	{"time": "…", "tenantId": "…", "category": "AdvancedHunting-CloudAppEvents", "properties": {…}}
//
// (learn.microsoft.com/defender-xdr/streaming-api-storage, "The schema of the events in the
// Storage account"). The columns are the documented ones of the table
// (learn.microsoft.com/defender-xdr/advanced-hunting-cloudappevents-table) in snake_case, as the
// activities table names its columns, plus the envelope, the tenant label and the line as
// received. docs/streaming.md documents the table and the key.

// CloudAppEventsVersion is the version of the CloudAppEvents schema, stored like Version.
const CloudAppEventsVersion = 1

// CloudAppEventsCategory is the category of every line of the CloudAppEvents export.
const CloudAppEventsCategory = "AdvancedHunting-CloudAppEvents"

// CloudAppEventsKey is the dedupe key of the table: an event is its ReportId at its Timestamp
// (within one tenant label). The table doc calls ReportId "Unique identifier for the event";
// Microsoft's own look-ups of an original record always pair it with Timestamp (custom detection
// rules require both columns), and the device tables' ReportId is known to repeat across devices,
// so the pair is the safe key. A line exported twice (Azure Monitor's exports retry and may
// duplicate, learn.microsoft.com/azure/azure-monitor/logs/logs-data-export "Data completeness")
// has the same pair and is stored once.
var CloudAppEventsKey = []string{"report_id", "ts"}

// MicroTimestampType is the type of the CloudAppEvents time columns: Kusto datetimes have 100 ns
// ticks and the export writes seven fraction digits; microseconds are what DuckDB and Parquet hold
// (raw keeps the exact text).
var MicroTimestampType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}

// caeKind says how a CloudAppEvents column is read from its JSON value.
type caeKind uint8

const (
	caeString  caeKind = iota // a JSON string
	caeInt32                  // an integer (number, integral float or numeric string)
	caeBool                   // true/false (also "true"/"false" and 0/1)
	caeDynamic                // a Kusto dynamic: the JSON text of an object/array/number, a string's content
	caeTime                   // an ISO 8601 / RFC 3339 datetime string
	caeDerived                // not read from properties: day, tenant, received, entra_tenant_id, raw
)

// caeColumn is one column and the key of properties it is read from.
type caeColumn struct {
	col  Column
	key  string // the key in properties; "" for derived columns
	kind caeKind
}

// Short names for the column table below.
var (
	utf8T  = arrow.BinaryTypes.String
	int32T = arrow.PrimitiveTypes.Int32
	boolT  = arrow.FixedWidthTypes.Boolean
	dynDoc = " (dynamic: JSON text)"
)

// caeSpec lists the columns in order. The properties keys are Microsoft's column names.
var caeSpec = []caeColumn{
	{Column{"report_id", utf8T, false, "properties.ReportId", "", "unique identifier for the event; the dedupe key with ts"}, "ReportId", caeString},
	{Column{"ts", MicroTimestampType, false, "properties.Timestamp", "", "date and time when the event was recorded (UTC, µs)"}, "Timestamp", caeTime},
	{Column{"received", MicroTimestampType, true, "time", "", "when Microsoft Defender XDR received the event (the line's envelope time, UTC, µs)"}, "", caeDerived},
	{Column{"day", arrow.FixedWidthTypes.Date32, false, "properties.Timestamp", "", "UTC calendar day of ts; the Parquet partition"}, "", caeDerived},
	{Column{"tenant", utf8T, true, "(tenant label)", "", "the warehouse's tenant label of the source (reserved; set by the loader)"}, "", caeDerived},
	{Column{"entra_tenant_id", utf8T, true, "tenantId", "", "the Microsoft Entra tenant ID the envelope names"}, "", caeDerived},
	{Column{"action_type", utf8T, true, "properties.ActionType", "", "type of activity that triggered the event"}, "ActionType", caeString},
	{Column{"application", utf8T, true, "properties.Application", "", "application that performed the recorded action"}, "Application", caeString},
	{Column{"application_id", int32T, true, "properties.ApplicationId", "", "unique identifier for the application"}, "ApplicationId", caeInt32},
	{Column{"app_instance_id", int32T, true, "properties.AppInstanceId", "", "unique identifier for the instance of an application"}, "AppInstanceId", caeInt32},
	{Column{"account_object_id", utf8T, true, "properties.AccountObjectId", "", "unique identifier for the account in Microsoft Entra ID"}, "AccountObjectId", caeString},
	{Column{"account_id", utf8T, true, "properties.AccountId", "", "an identifier for the account as found by Defender for Cloud Apps (Entra ID, UPN or other)"}, "AccountId", caeString},
	{Column{"account_display_name", utf8T, true, "properties.AccountDisplayName", "", "name displayed in the address book entry for the account user"}, "AccountDisplayName", caeString},
	{Column{"is_admin_operation", boolT, true, "properties.IsAdminOperation", "", "whether the activity was performed by an administrator"}, "IsAdminOperation", caeBool},
	{Column{"device_type", utf8T, true, "properties.DeviceType", "", "type of device based on purpose and functionality"}, "DeviceType", caeString},
	{Column{"os_platform", utf8T, true, "properties.OSPlatform", "", "platform of the operating system running on the device"}, "OSPlatform", caeString},
	{Column{"ip_address", utf8T, true, "properties.IPAddress", "", "IP address assigned to the device during communication"}, "IPAddress", caeString},
	{Column{"is_anonymous_proxy", boolT, true, "properties.IsAnonymousProxy", "", "whether the IP address belongs to a known anonymous proxy"}, "IsAnonymousProxy", caeBool},
	{Column{"country_code", utf8T, true, "properties.CountryCode", "", "two-letter code of the country where the client IP address is geolocated"}, "CountryCode", caeString},
	{Column{"city", utf8T, true, "properties.City", "", "city where the client IP address is geolocated"}, "City", caeString},
	{Column{"isp", utf8T, true, "properties.Isp", "properties.ISP", "internet service provider associated with the IP address (the table doc spells the key Isp, captured exports ISP)"}, "Isp", caeString},
	{Column{"user_agent", utf8T, true, "properties.UserAgent", "", "user agent information from the web browser or other client application"}, "UserAgent", caeString},
	{Column{"activity_type", utf8T, true, "properties.ActivityType", "", "type of activity that triggered the event"}, "ActivityType", caeString},
	{Column{"activity_objects", utf8T, true, "properties.ActivityObjects", "", "list of objects, such as files or folders, involved in the activity" + dynDoc}, "ActivityObjects", caeDynamic},
	{Column{"object_name", utf8T, true, "properties.ObjectName", "", "name of the object that the recorded action was applied to"}, "ObjectName", caeString},
	{Column{"object_type", utf8T, true, "properties.ObjectType", "", "type of object, such as a file or a folder, that the recorded action was applied to"}, "ObjectType", caeString},
	{Column{"object_id", utf8T, true, "properties.ObjectId", "", "unique identifier of the object that the recorded action was applied to"}, "ObjectId", caeString},
	{Column{"account_type", utf8T, true, "properties.AccountType", "", "type of user account: Regular, System, Admin, Application"}, "AccountType", caeString},
	{Column{"is_external_user", boolT, true, "properties.IsExternalUser", "", "whether a user inside the network doesn't belong to the organization's domain"}, "IsExternalUser", caeBool},
	{Column{"is_impersonated", boolT, true, "properties.IsImpersonated", "", "whether the activity was performed by one user for another (impersonated) user"}, "IsImpersonated", caeBool},
	{Column{"ip_tags", utf8T, true, "properties.IPTags", "", "customer-defined information applied to specific IP addresses and ranges" + dynDoc}, "IPTags", caeDynamic},
	{Column{"ip_category", utf8T, true, "properties.IPCategory", "", "additional information about the IP address"}, "IPCategory", caeString},
	{Column{"user_agent_tags", utf8T, true, "properties.UserAgentTags", "", "Defender for Cloud Apps tags of the user agent: Native client, Outdated browser, …" + dynDoc}, "UserAgentTags", caeDynamic},
	{Column{"raw_event_data", utf8T, true, "properties.RawEventData", "", "raw event information from the source application or service" + dynDoc}, "RawEventData", caeDynamic},
	{Column{"additional_fields", utf8T, true, "properties.AdditionalFields", "", "additional information about the entity or event" + dynDoc}, "AdditionalFields", caeDynamic},
	{Column{"last_seen_for_user", utf8T, true, "properties.LastSeenForUser", "", "days since each attribute was last seen for the user (negative: first time)" + dynDoc}, "LastSeenForUser", caeDynamic},
	{Column{"uncommon_for_user", utf8T, true, "properties.UncommonForUser", "", `attributes of the event uncommon for the user; "" when the event was not enriched` + dynDoc}, "UncommonForUser", caeDynamic},
	{Column{"audit_source", utf8T, true, "properties.AuditSource", "", "audit data source: access control, session control or app connector"}, "AuditSource", caeString},
	{Column{"session_data", utf8T, true, "properties.SessionData", "", "the Defender for Cloud Apps session ID for access or session control" + dynDoc}, "SessionData", caeDynamic},
	{Column{"oauth_app_id", utf8T, true, "properties.OAuthAppId", "", "the application's OAuth 2.0 identifier in Microsoft Entra"}, "OAuthAppId", caeString},
	{Column{"raw", utf8T, false, "(whole line)", "", "the line exactly as received, without its line ending"}, "", caeDerived},
}

// Positions of the derived columns in caeSpec; TestCloudAppEventsColumns keeps them in step.
const (
	caeReportID = iota
	caeTS
	caeReceived
	caeDay
	caeTenant
	caeEntraTenant
)

// caeRaw is the position of raw, the last column.
var caeRaw = len(caeSpec) - 1

// CloudAppEventsColumns is the column contract of the cloud_app_events table, in order.
var CloudAppEventsColumns = func() []Column {
	out := make([]Column, len(caeSpec))
	for i, c := range caeSpec {
		out[i] = c.col
	}
	return out
}()

// CloudAppEvents is the Arrow schema of a cloud_app_events row.
var CloudAppEvents = func() *arrow.Schema {
	fields := make([]arrow.Field, len(caeSpec))
	for i, c := range caeSpec {
		fields[i] = arrow.Field{Name: c.col.Name, Type: c.col.Type, Nullable: c.col.Nullable}
	}
	md := arrow.NewMetadata([]string{"mcasload.schema_version"}, []string{strconv.Itoa(CloudAppEventsVersion)})
	return arrow.NewSchema(fields, &md)
}()

// caeAliases are other spellings of a documented key seen in real exports, read as the column's
// fallback: the table doc names the column Isp, a captured CloudAppEvents line (a public
// collector's test fixture, rknightion/graph2otel, 2026-07-18) carries ISP. Keys otherwise match
// with their exact case.
var caeAliases = []struct{ alias, key string }{{"ISP", "Isp"}}

// caeKeyIndex maps a properties key to its slot: the column's position in caeSpec, or for an
// alias len(caeSpec)+i, whose value is used when the column's own key gave none.
var caeKeyIndex = func() map[string]int {
	m := make(map[string]int, len(caeSpec)+len(caeAliases))
	for i, c := range caeSpec {
		if c.key != "" {
			m[c.key] = i
		}
	}
	for i, a := range caeAliases {
		m[a.alias] = len(caeSpec) + i
	}
	return m
}()

// caeSlotColumn is the column a slot fills.
func caeSlotColumn(slot int) int {
	if slot < len(caeSpec) {
		return slot
	}
	return caeKeyIndex[caeAliases[slot-len(caeSpec)].key]
}

// caeFallback is, per column, its alias slot or -1.
var caeFallback = func() []int {
	out := make([]int, len(caeSpec))
	for i := range out {
		out[i] = -1
	}
	for i, a := range caeAliases {
		out[caeKeyIndex[a.key]] = len(caeSpec) + i
	}
	return out
}()

// Reject codes of the CloudAppEvents converter beyond the shared ones.
const (
	ReasonWrongCategory   = "wrong_category"
	ReasonMissingReportID = "missing_report_id"
	ReasonBadReportID     = "bad_report_id"
)

// CloudAppEventsRejectReasons lists every reject code of the CloudAppEvents converter, in the
// order the checks run.
var CloudAppEventsRejectReasons = []RejectReason{
	{ReasonTooLarge, "the line is larger than the size limit (16 MiB by default); raw keeps its first bytes"},
	{ReasonInvalidUTF8, "the line is not valid UTF-8"},
	{ReasonInvalidJSON, "the line is not one valid JSON value (syntax error, truncation, trailing text, nesting deeper than 10000)"},
	{ReasonNotObject, "the line is valid JSON but not an object"},
	{ReasonWrongCategory, "`category` is absent or is not `AdvancedHunting-CloudAppEvents` (another table's line in this container)"},
	{ReasonMissingReportID, "`properties` is absent or not an object, or `properties.ReportId` is absent, null or empty"},
	{ReasonBadReportID, "`properties.ReportId` is not a string"},
	{ReasonMissingTimestamp, "`properties.Timestamp` is absent or null"},
	{ReasonBadTimestamp, "`properties.Timestamp` is not an RFC 3339 date and time (e.g. 2026-12-06T12:00:01.1234567Z) between years 0001 and 9999"},
}

// CloudAppEventsTable describes the table for the data dictionary.
var CloudAppEventsTable = Table{Name: "cloud_app_events", Version: CloudAppEventsVersion,
	Columns: CloudAppEventsColumns, Rejects: CloudAppEventsRejectReasons}

// CloudAppEventsDocPage renders docs/cloud-app-events.md: the table's data dictionary, how values
// are read, the key and the rejects. A golden test keeps the checked-in page equal to it.
func CloudAppEventsDocPage() string {
	var b strings.Builder
	fmt.Fprintf(&b, `# The cloud_app_events schema (version %d)

<!-- Generated from schema.CloudAppEventsColumns and schema.CloudAppEventsRejectReasons by the schema
     package's tests: go test ./schema -run TestCloudAppEventsDocPage -update -->

Every line of the Defender XDR Streaming API's CloudAppEvents export (see [streaming.md](streaming.md))
becomes one row with these columns in this order. The documented columns of the advanced hunting
table keep Microsoft's meaning under snake_case names; `+"`source`"+` names the key of the line.

`, CloudAppEventsVersion)
	writeMarkdownTable(&b, CloudAppEventsTable.Dictionary())
	b.WriteString(`
## How values are read

- The envelope is ` + "`{time, tenantId, category, properties}`" + `; other envelope keys (` + "`operationName`, `_TimeReceivedBySvc`, `Tenant`" + `)
  stay in ` + "`raw`" + `. Keys match with their exact case, except the documented aliases (` + "`ISP` for `Isp`" + `); a repeated
  key: the last wins.
- ` + "`ts` and `received`" + ` are RFC 3339 date-times (any fraction, any offset) stored as UTC microseconds,
  floored; the export writes up to seven fraction digits (Kusto's 100 ns ticks), ` + "`raw`" + ` keeps them.
- Booleans accept ` + "`true`/`false`" + `, the strings ` + "`\"true\"`/`\"false\"`" + ` in any case, and ` + "`0`/`1`" + `; integers accept
  numbers, integral floats and numeric strings.
- Dynamic columns (` + "`activity_objects`, `raw_event_data`, `additional_fields`" + ` …) hold the value's JSON text byte
  for byte; a value written as a string holds the string's content (so JSON inside a string becomes
  JSON text, and ` + "`UncommonForUser: \"\"`" + ` an empty string); JSON null is NULL. Query them with DuckDB's
  JSON functions, e.g. ` + "`json_extract_string(raw_event_data, '$.Operation')`" + `.
- A typed field of the wrong type is stored as NULL, counted as a type error, and kept in ` + "`raw`" + `.
- ` + "`tenant`" + ` is the warehouse's label of the source, not a field of the line; ` + "`entra_tenant_id`" + ` is the
  envelope's ` + "`tenantId`" + `.

## The key

An event is ` + "`(" + strings.Join(CloudAppEventsKey, ", ") + ")`" + ` within one tenant label: a line read twice, or exported twice, is
stored once. Why both columns: [streaming.md](streaming.md#the-key).

## What is rejected

A line is rejected only when it cannot be a row; it is kept with its reason, and the rest of its blob
loads. The checks run in this order:

| code | when |
|---|---|
`)
	for _, r := range CloudAppEventsRejectReasons {
		fmt.Fprintf(&b, "| `%s` | %s |\n", r.Code, mdCell(r.Doc))
	}
	return b.String()
}
