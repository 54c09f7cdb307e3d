// Package schema holds the one Arrow schema of an activity row, its data dictionary, and the
// conversion of raw API records (JSON) into Arrow record batches.
package schema

import (
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// Version is the version of the Activities schema. It is stored in the warehouse and in the
// Parquet key-value metadata; a change of column names or types bumps it. Version 2 added
// parameters (after raw, so a version 1 table gets it with ALTER TABLE … ADD COLUMN); version 3
// added tenant, last for the same reason; version 4 added modified_properties, aws_region,
// logon_type and mailbox_owner, last again: narrow copies of the parts of raw that
// investigations read, so they never decompress raw for rows spread over the whole warehouse.
const Version = 4

// TimestampType is the Arrow type of every time column: epoch milliseconds in UTC, exactly the
// precision the API returns.
var TimestampType = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}

// Column describes one column of the Activities schema for the data dictionary.
type Column struct {
	Name     string
	Type     arrow.DataType
	Nullable bool
	Source   string // where in the API record the value comes from
	Fallback string // what is used when Source is absent ("" when nothing is)
	Doc      string
}

// Columns is the column contract that investigations and exports use, in order.
var Columns = []Column{
	{"id", arrow.BinaryTypes.String, false, "_id", "", "activity ID, unique in the warehouse"},
	{"ts", TimestampType, false, "timestamp", "", "when the activity happened (UTC, ms)"},
	{"created", TimestampType, true, "created", "", "when the service stored the activity (UTC, ms); late arrivals have created far after ts"},
	{"day", arrow.FixedWidthTypes.Date32, false, "timestamp", "", "UTC calendar day of ts; the Parquet partition"},
	{"app_id", arrow.PrimitiveTypes.Int32, true, "appId", "saasId", "app (service) ID, e.g. 20893 Exchange Online"},
	{"app_name", arrow.BinaryTypes.String, true, "appName", "", "app display name"},
	{"user_name", arrow.BinaryTypes.String, true, "user.userName", "failedUserData.userName", "acting user (UPN); failed sign-ins carry only failedUserData"},
	{"event_type", arrow.BinaryTypes.String, true, "eventTypeName", "", "category, EVENT_CATEGORY_*"},
	{"event_type_value", arrow.BinaryTypes.String, true, "eventTypeValue", "", "specific event type, e.g. EVENT_AAD_LOGIN_FAILED"},
	{"action", arrow.BinaryTypes.String, true, "mainInfo.rawOperationName", "", "raw operation name, e.g. FileDownloaded, New-InboxRule"},
	{"success", arrow.FixedWidthTypes.Boolean, true, "mainInfo.activityResult.isSuccess", "", "whether the operation succeeded"},
	{"description", arrow.BinaryTypes.String, true, "description", "", "rendered description as shown in the portal"},
	{"ip", arrow.BinaryTypes.String, true, "device.clientIP", "", "client IP address"},
	{"country", arrow.BinaryTypes.String, true, "location.countryCode", "device.countryCode", "ISO 3166-1 alpha-2 country"},
	{"city", arrow.BinaryTypes.String, true, "location.city", "", "city (as sent; may be lower case)"},
	{"latitude", arrow.PrimitiveTypes.Float64, true, "location.latitude", "", "latitude of the IP's location"},
	{"longitude", arrow.PrimitiveTypes.Float64, true, "location.longitude", "", "longitude of the IP's location"},
	{"isp", arrow.BinaryTypes.String, true, "location.organizationSearchable", "", "ISP or organization owning the IP"},
	{"anonymous_proxy", arrow.FixedWidthTypes.Boolean, true, "location.anonymousProxy", "", "IP is a known anonymous proxy"},
	{"ip_category", arrow.BinaryTypes.String, true, "location.category", "", "name of the IP category: Corporate, Administrative, Risky, VPN, Cloud provider, Other"},
	{"user_agent", arrow.BinaryTypes.String, true, "device.userAgent", "", "raw user agent string"},
	{"device_type", arrow.BinaryTypes.String, true, "userAgent.deviceType", "", "DESKTOP, MOBILE, TABLET, OTHER"},
	{"admin", arrow.FixedWidthTypes.Boolean, true, "eventRouting.adminEvent", "", "administrative activity (when the record says)"},
	{"objects", arrow.ListOf(arrow.BinaryTypes.String), true, "mainInfo.eventObjects[].name", "", "names of the objects acted on"},
	{"raw", arrow.BinaryTypes.String, false, "(whole record)", "", "the record exactly as received, JSON text"},
	{"parameters", arrow.BinaryTypes.String, true, "rawDataJson.Parameters", "", `Exchange cmdlet parameters (inbox rules, mailbox forwarding, transport rules): the JSON array [{"Name":…,"Value":…},…] exactly as received; a narrow copy of that part of raw (since schema version 2)`},
	{"tenant", arrow.BinaryTypes.String, false, "(the run's tenant)", "", "tenant label (see docs/tenants.md): the portal tenant of the scan URL, or --tenant-label; a Parquet partition like day (since schema version 3)"},
	{"modified_properties", arrow.BinaryTypes.String, true, "rawDataJson.ModifiedProperties", "", `Entra ID audit changes (users, roles, apps, domains): the JSON array [{"Name":…,"NewValue":…,"OldValue":…},…] exactly as received; a narrow copy of that part of raw (since schema version 4)`},
	{"aws_region", arrow.BinaryTypes.String, true, "rawDataJson.awsRegion", "", "AWS region of a CloudTrail record, e.g. us-east-1; a narrow copy of that part of raw (since schema version 4)"},
	{"logon_type", arrow.PrimitiveTypes.Int32, true, "rawDataJson.LogonType", "", "Exchange mailbox audit logon type: 0 the mailbox owner, 1 an administrator, 2 a delegate; a narrow copy of that part of raw (since schema version 4)"},
	{"mailbox_owner", arrow.BinaryTypes.String, true, "rawDataJson.MailboxOwnerUPN", "", "Exchange mailbox audit: the UPN of the mailbox acted on, as received; a narrow copy of that part of raw (since schema version 4)"},
}

// Activities is the Arrow schema of an activity row.
var Activities = newSchema()

func newSchema() *arrow.Schema {
	fields := make([]arrow.Field, len(Columns))
	for i, c := range Columns {
		fields[i] = arrow.Field{Name: c.Name, Type: c.Type, Nullable: c.Nullable}
	}
	md := arrow.NewMetadata([]string{"mcasload.schema_version"}, []string{strconv.Itoa(Version)})
	return arrow.NewSchema(fields, &md)
}

// IPCategoryNames maps the API's numeric location.category to the stored name.
var IPCategoryNames = map[int]string{
	1: "Corporate",
	2: "Administrative",
	3: "Risky",
	4: "VPN",
	5: "Cloud provider",
	6: "Other",
}
