package queries

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/mcasload/mcasload/schema"
)

// newActivitiesDB opens an in-memory DuckDB with an empty activities table in the schema's
// layout, standing in for the warehouse reader.
func newActivitiesDB(t testing.TB) *sql.DB {
	t.Helper()
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	createActivities(t, db)
	return db
}

// createActivities creates the activities table in the warehouse's layout.
func createActivities(t testing.TB, db *sql.DB) {
	t.Helper()
	var cols []string
	for _, c := range schema.Columns {
		cols = append(cols, c.Name+" "+schema.SQLType(c.Type))
	}
	if _, err := db.Exec("SET TimeZone = 'UTC'; CREATE TABLE activities (" + strings.Join(cols, ", ") + ")"); err != nil {
		t.Fatal(err)
	}
}

// loadRecords converts records with the real schema converter and appends the rows to the
// activities table, so the tests cover the path the warehouse takes.
func loadRecords(t testing.TB, db *sql.DB, records []json.RawMessage) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	conv := schema.NewConverter(mem, schema.Options{})
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const chunk = 20000
	for start := 0; start < len(records); start += chunk {
		end := min(start+chunk, len(records))
		b, err := conv.Convert(records[start:end])
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Rejected) > 0 {
			t.Fatalf("converter rejected %d records, first: %s", len(b.Rejected), b.Rejected[0].Reason)
		}
		err = conn.Raw(func(dc any) error {
			a, err := duckdb.NewArrowFromConn(dc.(driver.Conn))
			if err != nil {
				return err
			}
			rdr, err := array.NewRecordReader(b.Record.Schema(), []arrow.RecordBatch{b.Record})
			if err != nil {
				return err
			}
			defer rdr.Release()
			release, err := a.RegisterView(rdr, "incoming")
			if err != nil {
				return err
			}
			defer release()
			_, err = dc.(driver.ExecerContext).ExecContext(ctx, "INSERT INTO activities SELECT * FROM incoming", nil)
			return err
		})
		b.Record.Release()
		if err != nil {
			t.Fatalf("load records: %v", err)
		}
	}
}

// act is a compact description of one activity record for hand-made fixtures; toJSON renders it
// the way the API (and the generator) does.
type act struct {
	ID        string
	At        time.Time
	App       int
	User      string
	EventType string // EVENT_CATEGORY_*, default EVENT_CATEGORY_UNSPECIFIED
	// EventTypeValue is the specific type (EVENT_O365_SHAREPOINT_DELETE, EVENT_BOX_DELETE, …).
	EventTypeValue string
	Action         string
	Failed         bool
	IP             string
	Country        string
	City           string
	Lat, Lon       float64
	ISP            string
	Category       int // 1–6; -1 leaves location.category out
	Anonymous      bool
	UA             string
	Admin          bool
	Objects        []string
	RawData        map[string]any // rawDataJson
	// RawJSON is rawDataJson as literal text, for key orders a map cannot keep; it wins over
	// RawData.
	RawJSON string
}

var appNames = map[int]string{11161: "Microsoft 365", 20893: "Microsoft Exchange Online", 15600: "Microsoft OneDrive for Business",
	20892: "Microsoft SharePoint Online", 28375: "Microsoft Teams", 12260: "Microsoft Azure", 11599: "Amazon Web Services",
	10489: "Box", 11770: "Google Workspace"}

func (a act) toJSON(seq int) json.RawMessage {
	if a.ID == "" {
		a.ID = fmt.Sprintf("%064x", seq+1)
	}
	if a.EventType == "" {
		a.EventType = "EVENT_CATEGORY_UNSPECIFIED"
	}
	if a.App == 0 {
		a.App = 11161
	}
	if a.Category == 0 {
		a.Category = 6
	}
	if a.UA == "" {
		a.UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edge/120.0"
	}
	ms := a.At.UnixMilli()
	r := map[string]any{
		"_id": a.ID, "timestamp": ms, "created": ms, "appId": a.App, "appName": appNames[a.App],
		"eventTypeName": a.EventType, "description": a.Action,
		"mainInfo": map[string]any{"rawOperationName": a.Action, "activityResult": map[string]any{"isSuccess": !a.Failed},
			"eventObjects": objectList(a.Objects)},
		"device": map[string]any{"clientIP": a.IP, "userAgent": a.UA},
		"location": map[string]any{"countryCode": a.Country, "city": a.City, "latitude": a.Lat, "longitude": a.Lon,
			"organizationSearchable": a.ISP, "anonymousProxy": a.Anonymous, "category": a.Category},
		"userAgent":    map[string]any{"deviceType": "DESKTOP"},
		"eventRouting": map[string]any{"adminEvent": a.Admin},
	}
	if a.EventType == "EVENT_CATEGORY_FAILED_LOGIN" {
		r["failedUserData"] = map[string]any{"userName": a.User}
	} else {
		r["user"] = map[string]any{"userName": a.User}
	}
	if a.EventTypeValue != "" {
		r["eventTypeValue"] = a.EventTypeValue
	}
	if a.Category < 0 {
		delete(r["location"].(map[string]any), "category")
	}
	if a.RawData != nil {
		r["rawDataJson"] = a.RawData
	}
	if a.RawJSON != "" {
		r["rawDataJson"] = json.RawMessage(a.RawJSON)
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return b
}

func objectList(names []string) []any {
	out := []any{}
	for _, n := range names {
		out = append(out, map[string]any{"name": n})
	}
	return out
}

func renderActs(acts []act) []json.RawMessage {
	out := make([]json.RawMessage, len(acts))
	for i, a := range acts {
		out[i] = a.toJSON(i)
	}
	return out
}
