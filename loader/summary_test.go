package loader

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSummaryFinishAndText(t *testing.T) {
	start := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	s := Summary{
		Command: "load", Started: start, Records: 10000, Bytes: 20e6, New: 9000, Duplicates: 990,
		Conflicts: 2, Rejected: 10, RejectedByReason: map[string]int64{"missing_id": 7, "bad_timestamp": 3},
		Commits: 1, Days: []string{"2026-02-03", "2026-02-01"}, RejectedDir: "wh/rejected", TypeErrors: 4,
	}
	s.finish(start.Add(2 * time.Second))
	if s.RecordsPerSec != 5000 || s.MBPerSec != 10 || s.ElapsedSecs != 2 {
		t.Errorf("rates = %v rec/s, %v MB/s over %v s; want 5000, 10, 2", s.RecordsPerSec, s.MBPerSec, s.ElapsedSecs)
	}
	if s.Days[0] != "2026-02-01" {
		t.Errorf("days not sorted: %v", s.Days)
	}
	var buf bytes.Buffer
	s.WriteText(&buf)
	got := buf.String()
	for _, want := range []string{
		"load done: 10,000 records read (20.0 MB) in 2s: 9,000 new, 990 duplicate (2 with different content",
		"10 rejected, 1 commits, 5,000 rec/s, 10.0 MB/s",
		"4 fields with an unexpected type stored as NULL",
		"10 records rejected (bad_timestamp: 3, missing_id: 7); see table rejected_activities and wh/rejected",
		"days touched: 2 (2026-02-01 … 2026-02-03)",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary text lacks %q:\n%s", want, got)
		}
	}
	var back Summary
	if err := json.Unmarshal(s.JSON(), &back); err != nil {
		t.Fatal(err)
	}
	if back.New != 9000 || back.RejectedByReason["missing_id"] != 7 || !back.Finished.Equal(s.Finished) {
		t.Errorf("JSON round trip lost figures: %+v", back)
	}
}

func TestSummaryTextStates(t *testing.T) {
	for _, tt := range []struct {
		s    Summary
		want string
	}{
		{Summary{Command: "scan", Stopped: true}, "scan stopped early:"},
		{Summary{Command: "load", Error: "boom"}, "load failed:"},
		{Summary{}, "run done:"},
	} {
		var buf bytes.Buffer
		tt.s.WriteText(&buf)
		if !strings.HasPrefix(buf.String(), tt.want) {
			t.Errorf("WriteText = %q, want prefix %q", buf.String(), tt.want)
		}
	}
}
