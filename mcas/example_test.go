package mcas_test

import (
	"fmt"
	"time"

	"github.com/mcasload/mcasload/mcas"
)

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
