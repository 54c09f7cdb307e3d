package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/warehouse"
)

// statusFixture is a warehouse status with a bit of everything: a pending day, an interrupted
// run, rejects, a tenant with stream rows and one without.
func statusFixture() *warehouse.Status {
	t0 := time.Date(2026, 3, 10, 2, 0, 0, 0, time.UTC)
	return &warehouse.Status{
		Dir: "/data/wh", Sinks: warehouse.SinkBoth,
		DuckDBBytes: 48_300_000, Rows: 1_234_567,
		Tenants: []warehouse.TenantStatus{
			{Tenant: "contoso", Source: "https://contoso.eu2.portal.cloudappsecurity.com", Rows: 1_234_000, Days: 2, Rejected: 3,
				OldestDay: "2026-03-08", Horizon: "2025-02-01",
				CloudAppEvents: warehouse.DatasetStatus{Rows: 98_765, Days: 2, Newest: t0.Add(25 * time.Hour), ParquetRows: 98_700, Rejected: 1}},
			{Tenant: "fabrikam", Source: "https://fabrikam.us3.portal.cloudappsecurity.com", Rows: 567, Days: 1, OldestDay: "2026-03-10"},
		},
		Days: []warehouse.DayStatus{
			{Tenant: "contoso", Day: "2026-03-08", DuckDBRows: 600_000, ParquetRows: 600_000, ParquetFiles: 2, ParquetBytes: 31_000_000},
			{Tenant: "contoso", Day: "2026-03-09", DuckDBRows: 634_000, ParquetRows: 630_000, ParquetFiles: 5, ParquetBytes: 32_500_000, Pending: true},
			{Tenant: "fabrikam", Day: "2026-03-10", DuckDBRows: 567, ParquetRows: 567, ParquetFiles: 1, ParquetBytes: 41_000},
		},
		Runs: []warehouse.RunStatus{
			{ID: "r2", Tenant: "contoso", Command: "mcasload scan --url https://contoso.eu2.portal.cloudappsecurity.com --parallel 4 --since 7d", Started: t0.Add(24 * time.Hour),
				Inserted: 4567, Duplicates: 12, Summary: `{"command":"scan","new":4567}`},
			{ID: "r1", Tenant: "contoso", Command: "mcasload load export.ndjson.gz", Started: t0, Finished: t0.Add(90 * time.Second),
				Commits: 13, Inserted: 1_230_000, Duplicates: 0, Rejected: 3, Summary: `{"command":"load","new":1230000}`},
		},
		PendingDays: []string{"contoso/2026-03-09"},
		Rejects:     map[string]int64{"missing_id": 2, "bad_timestamp": 1},
	}
}

func TestStatusOutputGolden(t *testing.T) {
	for _, tt := range []struct {
		golden string
		write  func(*bytes.Buffer, *warehouse.Status) error
	}{
		{"status-table.golden", func(b *bytes.Buffer, st *warehouse.Status) error { writeStatusTable(b, st); return nil }},
		{"status-json.golden", func(b *bytes.Buffer, st *warehouse.Status) error { return writeStatusJSON(b, st) }},
	} {
		t.Run(tt.golden, func(t *testing.T) {
			var got bytes.Buffer
			if err := tt.write(&got, statusFixture()); err != nil {
				t.Fatal(err)
			}
			testkit.Golden(t, filepath.Join("testdata", tt.golden), got.Bytes())
		})
	}
	// The JSON form is what monitoring parses: the run summary must stay embedded JSON.
	var buf bytes.Buffer
	if err := writeStatusJSON(&buf, statusFixture()); err != nil {
		t.Fatal(err)
	}
	var env statusEnvelope
	if err := json.Unmarshal(buf.Bytes(), &env); err != nil {
		t.Fatal(err)
	}
	st := env.Meta.Status
	if env.Meta.Command != "status" || len(env.Rows) != len(statusFixture().Days) {
		t.Errorf("envelope: command %q, %d day rows", env.Meta.Command, len(env.Rows))
	}
	if st.Runs[0].Finished != nil || st.Runs[1].Finished == nil || string(st.Runs[1].Summary) == "" {
		t.Errorf("runs in JSON: %+v", st.Runs)
	}
}

// statusEnvelope is `status --format json` as monitoring reads it: the summary in meta.status,
// the days as rows.
type statusEnvelope struct {
	Meta struct {
		Command string     `json:"command"`
		Status  statusJSON `json:"status"`
	} `json:"meta"`
	Rows []dayJSON `json:"rows"`
}
