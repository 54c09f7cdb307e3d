package xdrstream_test

import (
	"testing"

	"github.com/mcasload/mcasload/simulator/xdrstream"
)

// BenchmarkMapAndRender measures the simulator's cost per stream line (mapping the activity
// record and rendering the CloudAppEvents line), without storage.
func BenchmarkMapAndRender(b *testing.B) {
	tn := simTenant()
	var buf, line []byte
	bytes := 0
	for i := 0; b.Loop(); i++ {
		e, bb, err := xdrstream.Map(tn, i%tn.Len(), buf)
		buf = bb
		if err != nil {
			b.Fatal(err)
		}
		if line, err = e.AppendLine(line[:0]); err != nil {
			b.Fatal(err)
		}
		bytes += len(line)
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "line-bytes")
}
