package queries

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/output"
)

// travelFixture is a small hand-made tenant for impossible-travel: one impossible hop (New York
// to London in 50 minutes, the second sign-in through an anonymous proxy), one feasible trip, one
// hop between two corporate addresses, and a failed sign-in that must be ignored.
func travelFixture() []act {
	t0 := time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)
	ny := act{EventType: "EVENT_CATEGORY_LOGIN", Action: "UserLoggedIn", Country: "US", City: "New York", Lat: 40.71, Lon: -74.01, ISP: "Verizon"}
	lon := act{EventType: "EVENT_CATEGORY_LOGIN", Action: "UserLoggedIn", Country: "GB", City: "London", Lat: 51.51, Lon: -0.13, ISP: "BT"}
	fra := act{EventType: "EVENT_CATEGORY_LOGIN", Action: "UserLoggedIn", Country: "DE", City: "Frankfurt", Lat: 50.11, Lon: 8.68, ISP: "Telekom"}
	with := func(a act, user, ip string, at time.Time, f func(*act)) act {
		a.User, a.IP, a.At = user, ip, at
		if f != nil {
			f(&a)
		}
		return a
	}
	return []act{
		with(ny, "alice@contoso.com", "198.51.100.20", t0, nil),
		with(lon, "alice@contoso.com", "203.0.113.66", t0.Add(50*time.Minute), func(a *act) { a.Anonymous, a.Category = true, 3 }),
		// failed sign-in from far away: ignored
		with(fra, "alice@contoso.com", "203.0.113.99", t0.Add(55*time.Minute), func(a *act) { a.EventType, a.Failed = "EVENT_CATEGORY_FAILED_LOGIN", true }),
		// bob flies: 9 hours for New York → London
		with(ny, "bob@contoso.com", "198.51.100.21", t0, nil),
		with(lon, "bob@contoso.com", "198.51.100.22", t0.Add(9*time.Hour), nil),
		// carol hops between two corporate offices: dropped
		with(lon, "carol@contoso.com", "10.1.0.5", t0, func(a *act) { a.Category = 1 }),
		with(ny, "carol@contoso.com", "10.2.0.5", t0.Add(30*time.Minute), func(a *act) { a.Category = 1 }),
		// dave signs in from Frankfurt and London 20 minutes apart: 640 km at 1900 km/h
		with(fra, "dave@contoso.com", "198.51.100.30", t0.Add(2*time.Hour), nil),
		with(lon, "dave@contoso.com", "198.51.100.31", t0.Add(2*time.Hour+20*time.Minute), nil),
	}
}

func TestGoldenEveryFormat(t *testing.T) {
	db := newActivitiesDB(t)
	loadRecords(t, db, renderActs(travelFixture()))
	s, err := Open(t.Context(), testConn(t, db), Lockdown{})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Lookup("impossible-travel")
	if err != nil {
		t.Fatal(err)
	}
	portal, err := NewPortal(ClassicPortal, "https://contoso.eu2.portal.cloudappsecurity.com/api/v1/activities/")
	if err != nil {
		t.Fatal(err)
	}
	s.UsePortal(portal)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	res, err := s.Investigate(t.Context(), inv, Request{Values: map[string]string{"since": "2026-03-08", "until": "2026-03-09"}, Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Release()
	rdr, err := res.Reader()
	if err != nil {
		t.Fatal(err)
	}
	var recs []arrow.RecordBatch
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	sc := rdr.Schema()
	rdr.Release()
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	for _, f := range output.Formats {
		t.Run(string(f), func(t *testing.T) {
			r, err := array.NewRecordReader(sc, recs)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Release()
			var buf bytes.Buffer
			n, err := output.Write(&buf, r, output.Options{Format: f, Width: 100, Meta: &res.Meta})
			if err != nil {
				t.Fatal(err)
			}
			if n != 2 {
				t.Errorf("%d rows, want 2 (alice and dave)", n)
			}
			got := buf.Bytes()
			if f == output.Parquet {
				got = parquetContent(t, got, mem)
			}
			testkit.Golden(t, filepath.Join("testdata", "impossible-travel."+string(f)), got)
		})
	}
}

// parquetContent is a Parquet file's schema and rows as CSV: the bytes carry library versions,
// the content is what must not change.
func parquetContent(t *testing.T, data []byte, mem memory.Allocator) []byte {
	t.Helper()
	var buf bytes.Buffer
	testkit.ReadParquet(t, data, mem, func(_ *file.Reader, rr array.RecordReader) {
		buf.WriteString("# " + rr.Schema().String() + "\n")
		if _, err := output.Write(&buf, rr, output.Options{Format: output.CSV}); err != nil {
			t.Fatal(err)
		}
	})
	return buf.Bytes()
}
