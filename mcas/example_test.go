package mcas_test

import (
	"fmt"
	"time"

	"github.com/mcasload/mcasload/mcas"
)

func ExampleParseTime() {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"36h", "7d", "2026-11-01T08:00:00Z", "1762041599999"} {
		t, err := mcas.ParseTime(s, now)
		fmt.Println(s, "→", t.Format(time.RFC3339Nano), err)
	}
	// Output:
	// 36h → 2026-11-25T00:00:00Z <nil>
	// 7d → 2026-11-19T12:00:00Z <nil>
	// 2026-11-01T08:00:00Z → 2026-11-01T08:00:00Z <nil>
	// 1762041599999 → 2025-11-01T23:59:59.999Z <nil>
}

func ExampleParseFilters() {
	f, err := mcas.ParseFilters([]byte(`{"service":{"eq":[11161]},"activity.type":{"eq":true}}`))
	fmt.Println(f.Canonical(), err)
	_, err = mcas.ParseFilters([]byte(`{"service":{"gte":1}}`))
	fmt.Println(err)
	// Output:
	// {"activity.type":{"eq":true},"service":{"eq":[11161]}} <nil>
	// parse filters: filter "service" does not take operator "gte": use one of eq, neq
}

func ExampleFilters_DateRange() {
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f := mcas.Filters{}.DateRange(from, from.Add(24*time.Hour-time.Millisecond)).Service(11161)
	fmt.Println(f.Canonical())
	// Output:
	// {"date":{"gte":1793491200000,"lte":1793577599999},"service":{"eq":[11161]}}
}
