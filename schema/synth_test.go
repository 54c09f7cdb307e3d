package schema

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/simulator/synth"
)

// synthRecords renders n generator records with incidents (mailbox rules, impersonation, failed
// sign-ins …), one json.RawMessage each.
func synthRecords(tb testing.TB, n int) (*synth.Tenant, []json.RawMessage, int) {
	tb.Helper()
	ten := synth.New(synth.Config{Seed: 7, Users: 60, Days: 5, Total: n, Incidents: true,
		End: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	recs := make([]json.RawMessage, ten.Len())
	total := 0
	for i := range recs {
		recs[i] = ten.AppendJSON(nil, i)
		total += len(recs[i])
	}
	return ten, recs, total
}

// TestConvertSynth converts generator records and checks every row against the generator's own
// view of the activity, so the converter and the simulator agree on the record conventions.
func TestConvertSynth(t *testing.T) {
	n := 4000
	if testing.Short() {
		n = 1000
	}
	ten, recs, _ := synthRecords(t, n)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	b, err := NewConverter(mem, Options{}).Convert(recs)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Record.Release()
	if len(b.Rejected) != 0 || b.TypeErrors != 0 || int(b.Record.NumRows()) != ten.Len() {
		t.Fatalf("rows %d of %d, rejected %d, type errors %v", b.Record.NumRows(), ten.Len(), len(b.Rejected), b.ColumnTypeErrors)
	}
	col := func(name string) int {
		for i, c := range Columns {
			if c.Name == name {
				return i
			}
		}
		t.Fatalf("no column %s", name)
		return -1
	}
	str := func(name string) *array.String { return b.Record.Column(col(name)).(*array.String) }
	id, user, event, ip, country, device, cat, raw := str("id"), str("user_name"), str("event_type"), str("ip"),
		str("country"), str("device_type"), str("ip_category"), str("raw")
	ts := b.Record.Column(col("ts")).(*array.Timestamp)
	created := b.Record.Column(col("created")).(*array.Timestamp)
	day := b.Record.Column(col("day")).(*array.Date32)
	app := b.Record.Column(col("app_id")).(*array.Int32)
	admin := b.Record.Column(col("admin")).(*array.Boolean)
	for i := range ten.Len() {
		a := ten.Activity(i)
		wantCat := ""
		if a.IPCategory != 0 {
			wantCat = IPCategoryNames[int(a.IPCategory)]
		}
		gotAdmin := !admin.IsNull(i) && admin.Value(i)
		switch {
		case id.Value(i) != a.ID, int64(ts.Value(i)) != a.Timestamp, int64(created.Value(i)) != a.Created,
			app.Value(i) != a.AppID, user.Value(i) != a.User, event.Value(i) != a.EventType, ip.Value(i) != a.IP,
			country.Value(i) != a.Country, device.Value(i) != a.DeviceType, cat.Value(i) != wantCat,
			gotAdmin != a.Admin, raw.Value(i) != string(recs[i]),
			day.Value(i).ToTime().Format(time.DateOnly) != time.UnixMilli(a.Timestamp).UTC().Format(time.DateOnly):
			t.Fatalf("row %d disagrees with the generator:\n%+v\nraw %s", i, *a, recs[i])
		}
	}
}

// BenchmarkConvertSynth converts 5000-record pages of generator records.
func BenchmarkConvertSynth(b *testing.B) {
	_, recs, total := synthRecords(b, 5000)
	recs = recs[:min(len(recs), 5000)]
	total = 0
	for _, r := range recs {
		total += len(r)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(b, 0)
	benchConvert(b, NewConverter(mem, Options{}), recs, total)
}
