package synth

import (
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// BenchmarkAppendJSON measures rendering: records/s, MB/s and the mean record size.
func BenchmarkAppendJSON(b *testing.B) {
	tn := New(Config{Seed: 1, End: testEnd})
	var total int64
	buf := make([]byte, 0, 1<<20)
	for i := 0; i < tn.Len(); i++ {
		total += int64(len(tn.AppendJSON(buf[:0], i)))
	}
	mean := float64(total) / float64(tn.Len())
	b.SetBytes(int64(mean))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		buf = tn.AppendJSON(buf[:0], i%tn.Len())
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(mean, "mean-bytes")
}

// BenchmarkAppendJSONParallel is the same on every core (the simulator serves pages concurrently).
func BenchmarkAppendJSONParallel(b *testing.B) {
	tn := New(Config{Seed: 1, End: testEnd})
	b.SetBytes(3400)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		buf := make([]byte, 0, 1<<20)
		i := 0
		for pb.Next() {
			buf = tn.AppendJSON(buf[:0], i%tn.Len())
			i += 7
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkNew1M generates a 1M-activity tenant and reports its resident index size.
func BenchmarkNew1M(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		tn := New(Config{Seed: int64(i), End: testEnd, Total: 1_000_000, Incidents: true})
		el := time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(el.Seconds(), "s/tenant")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(tn.Len()), "heap-bytes/activity")
		runtime.KeepAlive(tn)
	}
}

func TestActivityIsCompact(t *testing.T) {
	if n := unsafe.Sizeof(Activity{}); n > 160 {
		t.Fatalf("Activity is %d bytes; keep the index compact", n)
	}
}

// BenchmarkNewDefault generates the default tenant with incidents (and their look-alikes), as
// `mcasload sim --incidents` and the demo do, and reports its size per user-day.
func BenchmarkNewDefault(b *testing.B) {
	for i := 0; i < b.N; i++ {
		start := time.Now()
		tn := New(Config{Seed: int64(i + 1), End: testEnd, Incidents: true})
		b.ReportMetric(time.Since(start).Seconds(), "s/tenant")
		b.ReportMetric(float64(tn.Len())/float64(len(tn.users)*tn.cfg.Days), "records/user-day")
		b.ReportMetric(float64(tn.Len()), "records")
	}
}
