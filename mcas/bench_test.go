package mcas

import (
	"context"
	"testing"

	"github.com/mcasload/mcasload/internal/clock"
)

// BenchmarkScanTieGroup measures what a 5200-record tie group costs a scan of 6000 records: API
// requests (the budget that matters, 30 a minute) and client time against a loopback fake.
func BenchmarkScanTieGroup(b *testing.B) {
	records := genRecords(800, epoch.UnixMilli(), map[int64]int{400_500: 5200})
	clk := clock.NewVirtual(epoch, true)
	api, srv := newFakeAPI(b, clk, records)
	c, err := NewClient(Config{URL: srv.URL, Auth: TokenAuth{Token: NewSecret(goodToken)}, Clock: clk})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	n := 0
	for b.Loop() {
		n = 0
		err := c.Scan(context.Background(), Query{SortField: SortDate, SortDirection: Asc}, func(_ context.Context, p *Page) error {
			n += len(p.Records)
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if n != len(records) {
		b.Fatalf("scanned %d records, want %d", n, len(records))
	}
	b.ReportMetric(float64(len(api.log()))/float64(b.N), "requests/scan")
	b.ReportMetric(float64(len(records)*b.N)/b.Elapsed().Seconds(), "records/s")
}
