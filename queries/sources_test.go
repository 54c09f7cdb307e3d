package queries

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/simulator/xdrstream"
)

// createStream creates the cloud_app_events table in the warehouse's layout.
func createStream(t testing.TB, db *sql.DB) {
	t.Helper()
	var cols []string
	for _, c := range schema.CloudAppEventsColumns {
		cols = append(cols, c.Name+" "+schema.SQLType(c.Type))
	}
	if _, err := db.Exec("CREATE TABLE cloud_app_events (" + strings.Join(cols, ", ") + ")"); err != nil {
		t.Fatal(err)
	}
}

// loadStream converts export lines with the real converter and appends the rows, under the
// tenant label the activities of loadRecords carry (""). It creates the table on first use.
func loadStream(t testing.TB, db *sql.DB, lines [][]byte) {
	t.Helper()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'cloud_app_events'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		createStream(t, db)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	conv := schema.NewCloudAppEventsConverter(mem, schema.CloudAppEventsOptions{})
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for start := 0; start < len(lines); start += 20000 {
		chunk := make([]json.RawMessage, 0, 20000)
		for _, l := range lines[start:min(start+20000, len(lines))] {
			chunk = append(chunk, bytes.TrimSuffix(l, []byte("\n")))
		}
		b, err := conv.Convert(chunk)
		if err != nil {
			t.Fatal(err)
		}
		if len(b.Rejected) > 0 || b.TypeErrors > 0 {
			t.Fatalf("converter rejected %d lines (%d type errors), first: %+v", len(b.Rejected), b.TypeErrors, b.Rejected)
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
			// (A registered view outlives its stream: one left by an earlier load is dropped
			// first, and this one before its stream is released.)
			exec := dc.(driver.ExecerContext)
			if _, err := exec.ExecContext(ctx, "DROP VIEW IF EXISTS incoming", nil); err != nil {
				return err
			}
			release, err := a.RegisterView(rdr, "incoming")
			if err != nil {
				return err
			}
			defer release()
			// (A constant projected over the Arrow scan crashes DuckDB 1.5: the label is set after.)
			_, err = exec.ExecContext(ctx, "INSERT INTO cloud_app_events SELECT * FROM incoming", nil)
			if _, derr := exec.ExecContext(ctx, "DROP VIEW IF EXISTS incoming", nil); err == nil {
				err = derr
			}
			if err == nil {
				_, err = exec.ExecContext(ctx, "UPDATE cloud_app_events SET tenant = '' WHERE tenant IS NULL", nil)
			}
			return err
		})
		b.Record.Release()
		if err != nil {
			t.Fatalf("load stream: %v", err)
		}
	}
}

// sourceSessions are sessions over one generated tenant from the activities API alone, from the
// stream alone and from both; reportIDs maps each activity's id to its ReportId in the stream.
type sourceSessions struct {
	api, stream, both *Session
	truth             synth.GroundTruth
	reportIDs         map[string]string
	activities        int
}

func newSourceSessions(t *testing.T, cfg synth.Config, d xdrstream.Differences) sourceSessions {
	t.Helper()
	ten := synth.New(cfg)
	recs := tenantJSON(ten)
	lines, _, err := xdrstream.Lines(xdrstream.Config{Tenant: ten, Differences: d}, cfg.End.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	out := sourceSessions{truth: ten.GroundTruth(), reportIDs: map[string]string{}, activities: len(recs)}
	for _, l := range lines {
		var e struct{ Properties struct{ ReportId string } }
		if err := json.Unmarshal(l, &e); err != nil {
			t.Fatal(err)
		}
		id, _, _ := strings.Cut(e.Properties.ReportId, "_")
		out.reportIDs[id] = e.Properties.ReportId
	}
	open := func(api bool, stream bool) *Session {
		db := newActivitiesDB(t)
		if api {
			loadRecords(t, db, recs)
		}
		if stream {
			loadStream(t, db, lines)
		}
		s, err := Open(t.Context(), testConn(t, db), Lockdown{})
		if err != nil {
			t.Fatal(err)
		}
		s.UsePortal(simPortal(t))
		return s
	}
	out.api, out.stream, out.both = open(true, false), open(false, true), open(true, true)
	return out
}

// inStream is inc with its activity ids as the stream's ReportIds.
func (ss sourceSessions) inStream(inc synth.Incident) synth.Incident {
	inc.IDs = slices.Clone(inc.IDs)
	for i, id := range inc.IDs {
		inc.IDs[i] = ss.reportIDs[id]
	}
	return inc
}

// TestInvestigationsOverEitherSource: every investigation finds its planted incident (and not
// its decoy) from each source it declares alone, and from both sources exactly once: its answer
// over both is its answer over the activities alone, row for row, because every stream row is
// an activity too (by id or by fingerprint) and counts once.
func TestInvestigationsOverEitherSource(t *testing.T) {
	ss := newSourceSessions(t, synth.Config{Seed: 1, Users: 60, Days: 37, End: synthEnd, Incidents: true}, xdrstream.Differences{})
	for _, s := range []*Session{ss.api, ss.both} {
		var n int
		if err := s.conn.QueryRowContext(t.Context(), "SELECT count(*) FROM all_events").Scan(&n); err != nil || n != ss.activities {
			t.Fatalf("all_events holds %d rows (%v), want the %d activities once each", n, err, ss.activities)
		}
	}
	byKind := map[string][2]*synth.Incident{}
	for i := range ss.truth.Incidents {
		inc := &ss.truth.Incidents[i]
		pair := byKind[inc.Kind]
		pair[btoi(inc.Decoy)] = inc
		byKind[inc.Kind] = pair
	}
	for _, inv := range All() {
		t.Run(inv.Name, func(t *testing.T) {
			pair := byKind[incidentKind(inv.Name)]
			if pair[0] == nil || pair[1] == nil {
				t.Fatalf("no incident and decoy of kind %s", incidentKind(inv.Name))
			}
			if slices.Contains(inv.Sources, "stream") {
				t.Run("stream", func(t *testing.T) {
					checkIncident(t, ss.stream, inv, ss.inStream(*pair[0]), ss.inStream(*pair[1]))
				})
			} else {
				res, meta := investigate(t, ss.stream, inv.Name, Request{Values: paramsFor(*pair[0]), Now: synthEnd})
				if len(res.rows) != 0 || !slices.ContainsFunc(meta.Notes, func(n string) bool { return strings.Contains(n, "stream does not carry") }) {
					t.Errorf("over the stream alone, %s (sources %v) returned %d rows, notes %q", inv.Name, inv.Sources, len(res.rows), meta.Notes)
				}
			}
			t.Run("both", func(t *testing.T) {
				one, _ := investigate(t, ss.api, inv.Name, Request{Values: paramsFor(*pair[0]), Now: synthEnd})
				two, _ := investigate(t, ss.both, inv.Name, Request{Values: paramsFor(*pair[0]), Now: synthEnd})
				if one.table != two.table {
					t.Errorf("over both sources the answer differs from the activities' alone:\n%s\nactivities alone:\n%s", two.table, one.table)
				}
			})
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
