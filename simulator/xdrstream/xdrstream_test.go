package xdrstream_test

import (
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/testserver"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/simulator/xdrstream"
	"github.com/mcasload/mcasload/streaming"
)

var end = time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC)

var (
	tenantOnce sync.Once
	tenant     *synth.Tenant
)

// simTenant is a small tenant with every planted incident and some late arrivals.
func simTenant() *synth.Tenant {
	tenantOnce.Do(func() {
		tenant = synth.New(synth.Config{Seed: 23, Users: 30, Days: 5, End: end, Total: 3000, Incidents: true, LateArrivals: 0.05})
	})
	return tenant
}

// TestMap pins Microsoft's documented mapping from the activity record to CloudAppEvents.
func TestMap(t *testing.T) {
	tn := simTenant()
	var buf []byte
	impersonated := 0
	for i := range tn.Len() {
		e, b, err := xdrstream.Map(tn, i, buf)
		buf = b
		if err != nil {
			t.Fatal(err)
		}
		var a struct {
			ID        string `json:"_id"`
			AppID     int32  `json:"appId"`
			AppName   string `json:"appName"`
			Timestamp int64  `json:"timestamp"`
			Device    struct{ ClientIP, UserAgent string }
			Actor     struct{ ID, Name string } `json:"resolvedActor"`
			Main      struct {
				Op string `json:"rawOperationName"`
			} `json:"mainInfo"`
			Raw json.RawMessage `json:"rawDataJson"`
		}
		if err := json.Unmarshal(tn.AppendJSON(nil, i), &a); err != nil {
			t.Fatal(err)
		}
		p := e.Props
		switch {
		case p.ReportID != a.ID+"_"+itoa(a.AppID): // externalId → ReportId, with the app suffix a captured line has
			t.Fatalf("%d: ReportId %s for _id %s", i, p.ReportID, a.ID)
		case p.AccountObjectID != a.Actor.ID || p.AccountID != a.Actor.ID || p.AccountDisplayName != a.Actor.Name: // suser
			t.Fatalf("%d: account %s/%s/%s", i, p.AccountObjectID, p.AccountID, p.AccountDisplayName)
		case p.Application != a.AppName || p.ApplicationID != a.AppID: // destinationServiceName
			t.Fatalf("%d: application %s", i, p.Application)
		case deref(p.IPAddress) != a.Device.ClientIP || deref(p.UserAgent) != a.Device.UserAgent: // dvc, requestClientApplication
			t.Fatalf("%d: ip %v ua %v", i, p.IPAddress, p.UserAgent)
		case !p.Timestamp.Equal(time.UnixMilli(a.Timestamp)) || p.ActionType != a.Main.Op || string(p.RawEventData) != string(a.Raw):
			t.Fatalf("%d: timestamp/action/raw differ", i)
		case e.Time.Before(time.UnixMilli(tn.Activity(i).Created)):
			t.Fatalf("%d: received %v before the activity was stored", i, e.Time)
		}
		if p.IsImpersonated {
			impersonated++
		}
	}
	if impersonated == 0 {
		t.Error("no event is impersonated although the tenant plants mailbox impersonation")
	}
}

func itoa(n int32) string { b, _ := json.Marshal(n); return string(b) }

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// readBack reads the whole container as the loader will and converts every line.
func readBack(t *testing.T, s *streaming.Store) (rows map[string]map[string]any, lines int) {
	t.Helper()
	blobs, err := s.List(t.Context(), streaming.Window{})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	conv := schema.NewCloudAppEventsConverter(mem, schema.CloudAppEventsOptions{})
	rows = map[string]map[string]any{}
	var prev time.Time
	for _, b := range blobs {
		if b.Hour.Before(prev) {
			t.Errorf("blob %s listed after a later hour", b.Name)
		}
		prev = b.Hour
		tail, err := s.Resume(t.Context(), b, streaming.Cursor{}, streaming.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for {
			batch, err := tail.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			out, err := conv.ConvertChunk(batch.Chunk)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Rejected) > 0 || out.TypeErrors > 0 {
				t.Fatalf("%s: rejects %+v, type errors %v", b.Name, out.Rejected, out.ColumnTypeErrors)
			}
			rec := out.Record
			for r := range int(rec.NumRows()) {
				row := map[string]any{}
				for c, f := range rec.Schema().Fields() {
					switch col := rec.Column(c).(type) {
					case *array.String:
						if !col.IsNull(r) {
							row[f.Name] = col.Value(r)
						}
					case *array.Timestamp:
						row[f.Name] = int64(col.Value(r))
					}
				}
				id := row["report_id"].(string)
				if rows[id] != nil {
					t.Errorf("report %s read twice", id)
				}
				rows[id] = row
				lines++
			}
			rec.Release()
		}
	}
	return rows, lines
}

func TestStreamAgainstAzurite(t *testing.T) {
	az := testserver.StartAzurite(t)
	tn := simTenant()
	open := func(name string) (*container.Client, *streaming.Store) {
		cfg := streaming.Config{Container: name, Credential: streaming.Credential{ConnectionString: mcas.NewSecret(az.ConnectionString())}}
		cc, err := streaming.ContainerClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		s, err := streaming.Open(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return cc, s
	}
	// Both kinds of location: append blobs in Azurite, and files in a local folder that grow the
	// same way (what `mcasload sim --stream-to DIR` writes and `mcasload stream --folder` reads).
	for _, kind := range []string{"azurite", "folder"} {
		t.Run("read back "+kind, func(t *testing.T) {
			cc, s := open("readback")
			target := func(cfg xdrstream.Config) xdrstream.Config { cfg.Container = cc; return cfg }
			if kind == "folder" {
				dir := t.TempDir()
				target = func(cfg xdrstream.Config) xdrstream.Config {
					cfg.Folder = filepath.Join(dir, streaming.DefaultContainer)
					return cfg
				}
				var err error
				if s, err = streaming.OpenFolder(dir, ""); err != nil {
					t.Fatal(err)
				}
			}
			testReadBack(t, tn, target, s)
		})
	}
	t.Run("hook", func(t *testing.T) {
		cc, s := open("hooked")
		n := 0
		w, err := xdrstream.New(xdrstream.Config{Tenant: tn, Container: cc, Hook: func(e *xdrstream.Event) (bool, string) {
			n++
			switch {
			case n%97 == 0:
				return false, "dropped for the test"
			case n%89 == 0:
				e.Props.IPAddress = nil
				return true, "no IP address"
			}
			return true, ""
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.WriteThrough(t.Context(), end.Add(48*time.Hour)); err != nil {
			t.Fatal(err)
		}
		rows, lines := readBack(t, s)
		truth := w.Truth()
		if len(truth.Dropped) == 0 || len(truth.Altered) == 0 || lines != truth.Events || lines+len(truth.Dropped) != tn.Len() {
			t.Fatalf("lines %d, truth %d events, %d dropped, %d altered, tenant %d", lines, truth.Events, len(truth.Dropped), len(truth.Altered), tn.Len())
		}
		for _, d := range truth.Dropped {
			if rows[d.ReportID] != nil {
				t.Errorf("dropped %s is in the stream", d.ReportID)
			}
		}
		for _, a := range truth.Altered {
			if r := rows[a.ReportID]; r == nil || r["ip_address"] != nil || !strings.HasPrefix(a.ReportID, a.ActivityID+"_") {
				t.Errorf("altered %s: row %v", a.ReportID, r)
			}
		}
	})
}

// testReadBack: a writer passing hour by hour writes every event received by then once, planted
// incidents included; a restarted writer continues without doubling a line, and one that renders
// other lines is refused.
func testReadBack(t *testing.T, tn *synth.Tenant, target func(xdrstream.Config) xdrstream.Config, s *streaming.Store) {
	w, err := xdrstream.New(target(xdrstream.Config{Tenant: tn, MaxAppendBytes: 256 << 10}))
	if err != nil {
		t.Fatal(err)
	}
	// The clock passes hour by hour over the last day, after a first write of everything older.
	through := end.Add(-24 * time.Hour)
	for ; !through.After(end.Add(2 * time.Hour)); through = through.Add(time.Hour) {
		if _, err := w.WriteThrough(t.Context(), through); err != nil {
			t.Fatal(err)
		}
	}
	through = through.Add(-time.Hour)
	rows, lines := readBack(t, s)
	truth := w.Truth()
	// What was appended is what Lines renders without storage, line for line.
	rendered, _, err := xdrstream.Lines(xdrstream.Config{Tenant: tn}, through)
	if err != nil {
		t.Fatal(err)
	}
	want := len(rendered)
	for _, line := range rendered {
		var l struct{ Properties struct{ ReportId string } }
		if err := json.Unmarshal(line, &l); err != nil {
			t.Fatal(err)
		}
		if row := rows[l.Properties.ReportId]; row == nil || row["raw"] != strings.TrimSuffix(string(line), "\n") {
			t.Fatalf("%s: row %v", l.Properties.ReportId, row)
		}
	}
	if lines != want || truth.Events != want || !truth.Through.Equal(through) {
		t.Errorf("read %d lines, truth %d through %v; want %d through %v", lines, truth.Events, truth.Through, want, through)
	}
	for _, inc := range tn.GroundTruth().Incidents {
		for _, id := range inc.IDs {
			found := false
			for rid := range rows {
				found = found || strings.HasPrefix(rid, id+"_")
			}
			if !found {
				t.Errorf("planted %s record %s is not in the stream", inc.Kind, id)
			}
		}
	}
	// A new writer (a restarted simulator) continues the same blobs without doubling a line.
	w2, _ := xdrstream.New(target(xdrstream.Config{Tenant: tn}))
	if n, err := w2.WriteThrough(t.Context(), through); err != nil || n != 0 {
		t.Errorf("restarted writer appended %d lines (%v), want 0", n, err)
	}
	if w2.Truth().Events != want {
		t.Errorf("restarted writer's truth counts %d events, want %d", w2.Truth().Events, want)
	}
	// Lines rendered otherwise (another hook, another version) do not fit these blobs:
	// refused, not appended.
	w3, _ := xdrstream.New(target(xdrstream.Config{Tenant: tn, Hook: func(e *xdrstream.Event) (bool, string) {
		e.Props.ActionType += "!"
		return true, ""
	}}))
	if _, err := w3.WriteThrough(t.Context(), through); err == nil || !strings.Contains(err.Error(), "not a whole number") {
		t.Errorf("a writer with other lines: %v, want a refusal", err)
	}
}
