package queries

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/simulator/xdrstream"
)

// compareRow is one record of a comparison listed with CompareAll.
type compareRow struct {
	Status   string `json:"status"`
	Mapping  string `json:"mapping"`
	APIID    string `json:"api_id"`
	ReportID string `json:"report_id"`
}

func compareAll(t *testing.T, s *Session, req CompareRequest) (*Comparison, []compareRow) {
	t.Helper()
	req.Rows = CompareAll
	c, err := s.CompareSources(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Release)
	rdr, err := c.Reader()
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var rows []compareRow
	for _, row := range readRows(t, rdr) {
		b, _ := json.Marshal(row)
		var r compareRow
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, r)
	}
	return c, rows
}

// bothSourcesSession loads the generated tenant's activities and its stream, written with d,
// into one session, and returns the stream's truth.
func bothSourcesSession(t *testing.T, cfg synth.Config, d xdrstream.Differences) (*Session, xdrstream.Truth) {
	t.Helper()
	ten := synth.New(cfg)
	lines, truth, err := xdrstream.Lines(xdrstream.Config{Tenant: ten, Differences: d}, cfg.End.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	db := newActivitiesDB(t)
	loadRecords(t, db, tenantJSON(ten))
	loadStream(t, db, lines)
	s, err := Open(t.Context(), testConn(t, db), Lockdown{})
	if err != nil {
		t.Fatal(err)
	}
	return s, truth
}

// TestCompareSourcesFindsThePlantedDifferences: on a simulated tenant whose stream differs as
// real ones do and by the planted settings, the comparison reports exactly the differences the
// truth lists: the dropped activities only in the API, the extra events only in the stream, the
// re-id'd events paired by fingerprint with their own activity, everything else paired by id.
func TestCompareSourcesFindsThePlantedDifferences(t *testing.T) {
	cfg := synth.Config{Seed: 7, Users: 25, Days: 4, End: synthEnd, Total: 4000, Incidents: true}
	d := xdrstream.Differences{Drop: 11, ReID: 9, Extra: 6}
	s, truth := bothSourcesSession(t, cfg, d)
	req := CompareRequest{Since: synthEnd.Add(-10 * 24 * time.Hour), Until: synthEnd.Add(24 * time.Hour)}
	c, rows := compareAll(t, s, req)
	want := map[string]string{} // key → status/mapping
	for _, ch := range truth.Dropped {
		want["api "+ch.ActivityID] = "only_api"
	}
	for _, ch := range truth.Extra {
		want["stream "+ch.ReportID] = "only_stream"
	}
	for _, ch := range truth.ReIDs {
		want["pair "+ch.ActivityID+" "+ch.ReportID] = "fingerprint"
	}
	got := map[string]string{}
	byID := 0
	for _, r := range rows {
		switch {
		case r.Status == "only_api":
			got["api "+r.APIID] = r.Status
		case r.Status == "only_stream":
			got["stream "+r.ReportID] = r.Status
		case r.Mapping == "id_app" && r.ReportID == r.APIID+"_"+appOf(r.ReportID):
			byID++
		default:
			// fingerprint_no_ip counts as fingerprint: the stream leaves the IP out of some rows.
			got["pair "+r.APIID+" "+r.ReportID] = r.Mapping[:len("fingerprint")]
		}
	}
	if !maps.Equal(got, want) {
		t.Errorf("differences found:\n%v\nthe truth's:\n%v", sorted(got), sorted(want))
	}
	if total := byID + len(truth.ReIDs) + len(truth.Dropped); total != len(rows)-len(truth.Extra) || byID == 0 {
		t.Errorf("%d pairs by id, %d records in all", byID, len(rows))
	}
	if c.Agree() || c.OnlyAPI != d.Drop || c.OnlyStream != d.Extra || c.ByFingerprint != d.ReID || c.ByID != byID {
		t.Errorf("totals %+v", *c)
	}
	// The same with the default differences alone: the sources agree, every pair by id.
	s2, _ := bothSourcesSession(t, cfg, xdrstream.Differences{})
	c2, _ := compareAll(t, s2, req)
	if !c2.Agree() || c2.ByFingerprint != 0 || c2.ByID != byID+len(truth.ReIDs)+len(truth.Dropped) {
		t.Errorf("default differences only: totals %+v", *c2)
	}
}

func appOf(reportID string) string {
	for i := len(reportID) - 1; i >= 0; i-- {
		if reportID[i] == '_' {
			return reportID[i+1:]
		}
	}
	return ""
}

func sorted(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k+": "+v)
	}
	slices.Sort(out)
	return out
}

// TestCompareSourcesOnPublishedSamples pairs hand-written lines built from Microsoft's
// published shapes with the sample activity records (testdata/sources/README.md).
func TestCompareSourcesOnPublishedSamples(t *testing.T) {
	db := newActivitiesDB(t)
	loadRecords(t, db, readNDJSON(t, "testdata/sources/activities.ndjson"))
	var lines [][]byte
	for _, r := range readNDJSON(t, "testdata/sources/stream.ndjson") {
		lines = append(lines, r)
	}
	loadStream(t, db, lines)
	s, err := Open(t.Context(), testConn(t, db), Lockdown{})
	if err != nil {
		t.Fatal(err)
	}
	c, rows := compareAll(t, s, CompareRequest{Since: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)})
	got := map[string]string{}
	for _, r := range rows {
		got[r.APIID+"|"+r.ReportID] = r.Status + " " + r.Mapping
	}
	want := map[string]string{
		"d1b3c191a5563edfbce3f11cad83155cf31552f6f0b40184b423f38e0c39f536|d1b3c191a5563edfbce3f11cad83155cf31552f6f0b40184b423f38e0c39f536_20893": "both id_app",
		"97134000_15600_0b8c6a54-3f3e-4f7e-9a5a-5c0a1d3e7f21|8f14e45fceea167a5a36dedd4bea2543e1b8a1d4c3f8f6f2b6f0a7d1c2e3f4a5_15600":              "both fingerprint_no_ip",
		"5e0c6f3a9b1d2c4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6|":                                                                       "only_api ",
		"|3b9d5e0c7a1f42d8b6c4e2a09f8d7c6b5a4e3d2c1b0a99887766554433221100_20893":                                                                 "only_stream ",
	}
	if !maps.Equal(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if c.Agree() || c.ByID != 1 || c.ByFingerprint != 1 {
		t.Errorf("totals %+v", *c)
	}
	// The events view counts each of the four events once.
	var n int
	if err := s.conn.QueryRowContext(t.Context(), "SELECT count(*) FROM all_events").Scan(&n); err != nil || n != 4 {
		t.Errorf("all_events holds %d rows (%v), want 4", n, err)
	}
}

// readRows decodes a reader's rows through the NDJSON writer.
func readRows(t *testing.T, rdr array.RecordReader) []map[string]any {
	t.Helper()
	var b bytes.Buffer
	if _, err := output.Write(&b, rdr, output.Options{Format: output.NDJSON}); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	dec := json.NewDecoder(&b)
	for dec.More() {
		var row map[string]any
		if err := dec.Decode(&row); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, row)
	}
	return rows
}
