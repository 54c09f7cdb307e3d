package simulator

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzParseRequest feeds arbitrary bodies through the request and filter parsers: they must never
// panic, and whatever they accept must give a valid nextQueryFilters.
func FuzzParseRequest(f *testing.F) {
	seeds := []string{
		`{"filters":{"date":{"range":[{"start":1,"end":2}]},"service":{"eq":11161}},"isScan":"True","limit":"600"}`,
		`{"filters":{"user.username":{"startswith":["a"]},"ip.address":{"doesnotstartwith":"10."}},"sortField":"created","sortDirection":"asc"}`,
		`{"filters":"{\"date\":{\"gte_ndays\":7}}","skip":5}`,
		`filters=%7B%22text%22%3A%7B%22text%22%3A%22x%22%7D%7D&isScan=True`,
		`{"filters":{"date":{"gt":9223372036854775807,"lt":-9223372036854775808}}}`,
		`{"filters":{"activity.type":{"eq":[true]},"location.country":{"isset":null}}}`,
	}
	for i, s := range seeds {
		f.Add([]byte(s), i%2 == 0)
	}
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body []byte, form bool) {
		ct := "application/json"
		if form {
			ct = "application/x-www-form-urlencoded"
		}
		params := map[string]json.RawMessage{}
		if err := parseBody(params, ct, body); err != nil {
			return
		}
		q, err := parseListQuery(params)
		if err != nil {
			return
		}
		m, err := compileFilters(q.filters, now)
		if err != nil {
			return
		}
		_ = m.date.hull()
		_ = m.created.match(0)
		nq := withBound(q.filters, q.sortField, "lte", 1)
		b, err := json.Marshal(nq)
		if err != nil || !json.Valid(b) {
			t.Fatalf("nextQueryFilters not valid JSON: %v %s", err, b)
		}
		// The echoed filters must parse again the same way.
		if _, err := compileFilters(nq, now); err != nil {
			t.Fatalf("nextQueryFilters rejected: %v: %s", err, b)
		}
	})
}
