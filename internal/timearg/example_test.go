package timearg_test

import (
	"fmt"
	"time"

	"github.com/mcasload/mcasload/internal/timearg"
)

func ExampleParse() {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"36h", "2w", "1d12h", "2026-11-01T08:00:00Z", "1764547200", "1762041599999"} {
		t, err := timearg.Parse(s)
		fmt.Println(s, "→", t.Resolve(now).Format(time.RFC3339Nano), t.Relative(), err)
	}
	// Output:
	// 36h → 2026-11-25T00:00:00Z true <nil>
	// 2w → 2026-11-12T12:00:00Z true <nil>
	// 1d12h → 2026-11-25T00:00:00Z true <nil>
	// 2026-11-01T08:00:00Z → 2026-11-01T08:00:00Z false <nil>
	// 1764547200 → 2025-12-01T00:00:00Z false <nil>
	// 1762041599999 → 2025-11-01T23:59:59.999Z false <nil>
}
