// Package xdrstream renders the simulator's tenant as the Microsoft Defender XDR Streaming API
// would export it: one CloudAppEvents line per activity, appended hour by hour to append blobs
// under tenantId=…/y=…/m=…/d=…/h=…/m=00/PT1H.json in a storage container (Azurite in tests and
// the demo). The values follow Microsoft's documented mapping from the activity record
// (externalId → ReportId, suser → AccountObjectId/AccountId/AccountDisplayName,
// destinationServiceName → Application, dvc → IPAddress, requestClientApplication → UserAgent;
// learn.microsoft.com/defender-cloud-apps/migrate-to-supported-api-solutions) and the columns of
// the CloudAppEvents table; docs/streaming.md lists each column's source and its limits.
package xdrstream

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/simulator/synth"
)

// Event is one CloudAppEvents line before it is rendered: a Hook may change any field.
type Event struct {
	// Index is the activity's position in the tenant (synth.Tenant.Activity).
	Index int
	// ActivityID is the activity's _id in the activities API.
	ActivityID string
	// Time is the envelope's time: when Defender XDR received the event. It decides the blob.
	Time     time.Time
	TenantID string
	Props    Properties
}

// Properties are the CloudAppEvents columns, in the table doc's order, with the key spellings a
// captured export uses (ISP).
type Properties struct {
	Timestamp          time.Time       `json:"Timestamp"`
	ActionType         string          `json:"ActionType"`
	Application        string          `json:"Application"`
	ApplicationID      int32           `json:"ApplicationId"`
	AppInstanceID      int32           `json:"AppInstanceId"`
	AccountObjectID    string          `json:"AccountObjectId"`
	AccountID          string          `json:"AccountId"`
	AccountDisplayName string          `json:"AccountDisplayName"`
	IsAdminOperation   bool            `json:"IsAdminOperation"`
	DeviceType         *string         `json:"DeviceType"`
	OSPlatform         *string         `json:"OSPlatform"`
	IPAddress          *string         `json:"IPAddress"`
	IsAnonymousProxy   bool            `json:"IsAnonymousProxy"`
	CountryCode        string          `json:"CountryCode"`
	City               string          `json:"City"`
	ISP                string          `json:"ISP"`
	UserAgent          *string         `json:"UserAgent"`
	ActivityType       string          `json:"ActivityType"`
	ActivityObjects    []Object        `json:"ActivityObjects"`
	ObjectName         *string         `json:"ObjectName"`
	ObjectType         *string         `json:"ObjectType"`
	ObjectID           *string         `json:"ObjectId"`
	ReportID           string          `json:"ReportId"`
	AccountType        string          `json:"AccountType"`
	IsExternalUser     bool            `json:"IsExternalUser"`
	IsImpersonated     bool            `json:"IsImpersonated"`
	IPTags             []string        `json:"IPTags"`
	IPCategory         *string         `json:"IPCategory"`
	UserAgentTags      []string        `json:"UserAgentTags"`
	RawEventData       json.RawMessage `json:"RawEventData"`
	AdditionalFields   json.RawMessage `json:"AdditionalFields"`
	LastSeenForUser    json.RawMessage `json:"LastSeenForUser"`
	UncommonForUser    json.RawMessage `json:"UncommonForUser"`
	AuditSource        string          `json:"AuditSource"`
	SessionData        json.RawMessage `json:"SessionData"`
	OAuthAppID         *string         `json:"OAuthAppId"`
}

// Object is one entry of ActivityObjects, shaped as in a captured export.
type Object struct {
	Type                string `json:"Type"`
	Role                string `json:"Role"`
	Name                string `json:"Name"`
	ID                  string `json:"Id"`
	ApplicationID       int32  `json:"ApplicationId"`
	ApplicationInstance int32  `json:"ApplicationInstance"`
}

// activity is what the mapping reads of an activities API record.
type activity struct {
	ID          string `json:"_id"`
	AADTenantID string `json:"aadTenantId"`
	AppID       int32  `json:"appId"`
	AppName     string `json:"appName"`
	Timestamp   int64  `json:"timestamp"`
	Created     int64  `json:"created"`
	EventType   string `json:"eventTypeName"`
	Device      struct {
		ClientIP  string `json:"clientIP"`
		UserAgent string `json:"userAgent"`
	} `json:"device"`
	EventRouting struct {
		AdminEvent bool `json:"adminEvent"`
	} `json:"eventRouting"`
	Location struct {
		AnonymousProxy bool     `json:"anonymousProxy"`
		Category       int      `json:"category"`
		City           string   `json:"city"`
		CountryCode    string   `json:"countryCode"`
		IPTags         []string `json:"ipTags"`
		ISP            string   `json:"organizationSearchable"`
	} `json:"location"`
	MainInfo struct {
		EventObjects []struct {
			ID      string `json:"id"`
			Name    string `json:"name"`
			ObjType int    `json:"objType"`
			Role    int    `json:"role"`
		} `json:"eventObjects"`
		RawOperationName string `json:"rawOperationName"`
	} `json:"mainInfo"`
	RawDataJSON   json.RawMessage `json:"rawDataJson"`
	ResolvedActor struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"resolvedActor"`
	UserAgent struct {
		DeviceType      string `json:"deviceType"`
		NativeBrowser   bool   `json:"nativeBrowser"`
		OperatingSystem struct {
			Name string `json:"name"`
		} `json:"operatingSystem"`
	} `json:"userAgent"`
}

// Map turns activity i of the tenant into its CloudAppEvents event. The record is read back from
// its JSON, so the mapping sees exactly what the activities API serves.
func Map(t *synth.Tenant, i int, buf []byte) (Event, []byte, error) {
	buf = t.AppendJSON(buf[:0], i)
	var a activity
	if err := json.Unmarshal(buf, &a); err != nil {
		return Event{}, buf, fmt.Errorf("map activity %d: %w", i, err)
	}
	e := Event{Index: i, ActivityID: a.ID, Time: Received(t.Activity(i)), TenantID: a.AADTenantID}
	p := &e.Props
	p.Timestamp = time.UnixMilli(a.Timestamp).UTC()
	p.ReportID = a.ID + "_" + strconv.Itoa(int(a.AppID))
	p.ActionType, p.ActivityType = a.MainInfo.RawOperationName, activityType(a.EventType)
	p.Application, p.ApplicationID = a.AppName, a.AppID
	p.AccountObjectID, p.AccountID, p.AccountDisplayName = a.ResolvedActor.ID, a.ResolvedActor.ID, a.ResolvedActor.Name
	p.IsAdminOperation = a.EventRouting.AdminEvent
	p.AccountType = "Regular"
	if p.IsAdminOperation {
		p.AccountType = "Admin"
	}
	p.DeviceType, p.OSPlatform = nonEmpty(deviceType(a.UserAgent.DeviceType)), nonEmpty(a.UserAgent.OperatingSystem.Name)
	p.IPAddress, p.UserAgent = nonEmpty(a.Device.ClientIP), nonEmpty(a.Device.UserAgent)
	p.IsAnonymousProxy, p.CountryCode, p.City, p.ISP = a.Location.AnonymousProxy, a.Location.CountryCode, a.Location.City, a.Location.ISP
	p.IPTags = append([]string{}, a.Location.IPTags...)
	if name, ok := schema.IPCategoryNames[a.Location.Category]; ok {
		p.IPCategory = &name
	}
	if a.UserAgent.NativeBrowser {
		p.UserAgentTags = []string{"Native client"}
	}
	for _, o := range a.MainInfo.EventObjects {
		obj := Object{Type: objectType(o.ObjType), Role: objectRole(o.Role), Name: o.Name, ID: o.ID, ApplicationID: a.AppID}
		p.ActivityObjects = append(p.ActivityObjects, obj)
		if o.Role == roleTarget && p.ObjectName == nil {
			p.ObjectName, p.ObjectType, p.ObjectID = &obj.Name, &obj.Type, &obj.ID
		}
	}
	p.IsImpersonated = impersonated(a.RawDataJSON)
	p.RawEventData = append(json.RawMessage(nil), a.RawDataJSON...)
	p.AdditionalFields = json.RawMessage(`{"IsSatelliteProvider":false}`)
	p.UncommonForUser, p.LastSeenForUser = json.RawMessage(`[]`), json.RawMessage(`{}`)
	p.SessionData = json.RawMessage(`null`)
	p.AuditSource = "Defender for Cloud Apps app connector"
	return e, buf, nil
}

// Received is when the simulated Defender XDR receives activity a: 30 s to 3 min after the
// service stored it (created), fixed by its id. Late arrivals arrive late here too.
func Received(a *synth.Activity) time.Time {
	lag, _ := strconv.ParseUint(a.ID[:min(6, len(a.ID))], 16, 32)
	return time.UnixMilli(a.Created + 30_000 + int64(lag%150_000)).UTC()
}

// AppendLine renders e as one line of the export, "\n" included.
func (e *Event) AppendLine(dst []byte) ([]byte, error) {
	env := struct {
		Time          string      `json:"time"`
		TenantID      string      `json:"tenantId"`
		OperationName string      `json:"operationName"`
		Category      string      `json:"category"`
		Properties    *Properties `json:"properties"`
	}{e.Time.UTC().Format("2006-01-02T15:04:05.0000000Z"), e.TenantID, "Publish", schema.CloudAppEventsCategory, &e.Props}
	b, err := json.Marshal(env)
	if err != nil {
		return dst, fmt.Errorf("render event %s: %w", e.Props.ReportID, err)
	}
	return append(append(dst, b...), '\n'), nil
}

// MarshalJSON writes Timestamp with milliseconds, as a captured export does.
func (p Properties) MarshalJSON() ([]byte, error) {
	type plain Properties
	return json.Marshal(struct {
		Timestamp string `json:"Timestamp"`
		plain
	}{p.Timestamp.UTC().Format("2006-01-02T15:04:05.000Z"), plain(p)})
}

// activityType is the ActivityType of an activity category (the migration page maps
// EVENT_CATEGORY_* to ActivityType/ActionType; the values are those of the portal's activity
// types).
func activityType(category string) string {
	switch category {
	case "EVENT_CATEGORY_LOGIN", "EVENT_CATEGORY_SSO_LOGIN":
		return "Login"
	case "EVENT_CATEGORY_FAILED_LOGIN":
		return "Failed login"
	case "EVENT_CATEGORY_LOGOUT":
		return "Logout"
	case "EVENT_CATEGORY_DOWNLOAD_FILE":
		return "Download"
	case "EVENT_CATEGORY_UPLOAD_FILE":
		return "Upload"
	case "EVENT_CATEGORY_SHARE_FILE":
		return "Share"
	case "EVENT_CATEGORY_DELETE_OBJECT", "EVENT_CATEGORY_DELETE_USER":
		return "Delete"
	case "EVENT_CATEGORY_CREATE_USER":
		return "Create"
	case "EVENT_CATEGORY_SEND_MAIL":
		return "Send"
	case "EVENT_CATEGORY_MAILBOX_SETTINGS", "EVENT_CATEGORY_CHANGE_ADMIN_SETTINGS":
		return "Edit"
	case "EVENT_CATEGORY_VIEW_REPORT":
		return "View"
	}
	return "Basic"
}

func deviceType(t string) string {
	if t == "" || t == "OTHER" {
		return ""
	}
	return t[:1] + strings.ToLower(t[1:])
}

// The activities API's object roles; 4 is the object acted on.
const roleTarget = 4

func objectRole(r int) string {
	switch r {
	case 1:
		return "Destination"
	case 2:
		return "Actor"
	case 3:
		return "Related"
	case roleTarget:
		return "Target object"
	case 5:
		return "Actor"
	}
	return "Other"
}

func objectType(t int) string {
	switch t {
	case 1:
		return "File"
	case 2:
		return "User"
	case 6:
		return "Application"
	case 7:
		return "Request"
	case 21:
		return "Account"
	}
	return "Other"
}

// impersonated is true for an Exchange mailbox access by an admin or a delegate on another's
// mailbox (rawDataJson.LogonType 1 or 2 with MailboxOwnerUPN not the acting UserId).
func impersonated(raw json.RawMessage) bool {
	var r struct {
		LogonType int    `json:"LogonType"`
		Owner     string `json:"MailboxOwnerUPN"`
		UserID    string `json:"UserId"`
	}
	if json.Unmarshal(raw, &r) != nil {
		return false
	}
	return (r.LogonType == 1 || r.LogonType == 2) && r.Owner != "" && !strings.EqualFold(r.Owner, r.UserID)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
