package loader

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcasload/mcasload/mcas"
)

// A watermark is how far an incremental scan has committed on `created` (when the service stored
// an activity): every activity of its scope created before Created is in the warehouse. It lives
// in the warehouse state, written in the same transaction as the rows it covers, under a key
// naming its scope: the tenant URL and the canonical filters. Two scans with different filters
// keep different watermarks, so a scan of one app never moves the cursor of an unfiltered scan
// past activities of other apps it did not fetch.

// WatermarkPrefix starts every watermark key in the warehouse state.
const WatermarkPrefix = "scan "

// ErrTimeFilter is returned by CanonicalFilters when the filters carry `date` or `created`: the
// scan owns both (the cursor on `created`, ScanOptions.Since/Until on `date`), so a user bound
// there would silently fight the watermark.
var ErrTimeFilter = errors.New("time bounds belong in the scan's window (since, until), not in its filters")

// ResetWatermark is the state value `mcasload state reset` stores: the scope has no watermark,
// so its next scan is a first run. (The warehouse state only ever gains or replaces keys.)
const ResetWatermark = ""

// Watermark is the stored position of one incremental scan scope.
type Watermark struct {
	// Created: every activity of the scope with `created` before it is committed.
	Created time.Time `json:"created"`
	// URL and Filters repeat the key's scope for `mcasload state show`.
	URL     string       `json:"url"`
	Filters mcas.Filters `json:"filters,omitempty"`
	// Updated is when the watermark last moved (local clock).
	Updated time.Time `json:"updated"`
	// Service is the service's time read at the start of the run that stored it (the window
	// end): where Created came from, and the reference a later run compares its own reading
	// with to notice a service clock that went backwards. Zero in watermarks of older versions.
	Service mcas.ServiceTime `json:"service"`
}

// encodeWatermark renders w as the state value (created as epoch ms so it is exact).
func encodeWatermark(w Watermark) string {
	v := struct {
		CreatedMS    int64        `json:"created_ms"`
		Created      string       `json:"created"`
		URL          string       `json:"url"`
		Filters      mcas.Filters `json:"filters,omitempty"`
		Updated      string       `json:"updated"`
		ServiceTime  string       `json:"service_time,omitempty"`
		ServiceFrom  string       `json:"service_time_from,omitempty"`
		ServiceLocal string       `json:"service_time_local,omitempty"`
	}{CreatedMS: w.Created.UnixMilli(), Created: w.Created.UTC().Format(time.RFC3339Nano), URL: w.URL, Filters: w.Filters,
		Updated: w.Updated.UTC().Format(time.RFC3339)}
	if w.Service.Known() {
		v.ServiceTime = w.Service.At.UTC().Format(time.RFC3339Nano)
		v.ServiceFrom = w.Service.Source
		v.ServiceLocal = w.Service.Local.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(v)
	if err != nil {
		// Filters came from CanonicalFilters: plain JSON values that always marshal.
		panic(fmt.Sprintf("marshal watermark: %v", err))
	}
	return string(b)
}

// DecodeWatermark parses a state value written by a scan.
func DecodeWatermark(s string) (Watermark, error) {
	var v struct {
		CreatedMS    *int64       `json:"created_ms"`
		URL          string       `json:"url"`
		Filters      mcas.Filters `json:"filters"`
		Updated      time.Time    `json:"updated"`
		ServiceTime  time.Time    `json:"service_time"`
		ServiceFrom  string       `json:"service_time_from"`
		ServiceLocal time.Time    `json:"service_time_local"`
	}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return Watermark{}, fmt.Errorf("decode watermark: %w", err)
	}
	if v.CreatedMS == nil {
		return Watermark{}, errors.New("decode watermark: no created_ms")
	}
	w := Watermark{Created: time.UnixMilli(*v.CreatedMS).UTC(), URL: v.URL, Filters: v.Filters, Updated: v.Updated}
	if v.ServiceFrom != "" {
		w.Service = mcas.ServiceTime{At: v.ServiceTime.UTC(), Source: v.ServiceFrom, Local: v.ServiceLocal.UTC()}
	}
	return w, nil
}

// WatermarkKey names the state entry of a scan of tenantURL with filters (already canonical,
// see CanonicalFilters): "scan <url> <filters as sorted JSON>".
func WatermarkKey(tenantURL string, canonical mcas.Filters) string {
	f := "{}"
	if len(canonical) > 0 {
		b, err := json.Marshal(canonical)
		if err != nil {
			panic(fmt.Sprintf("marshal filters: %v", err))
		}
		f = string(b)
	}
	return WatermarkPrefix + CanonicalURL(tenantURL) + " " + f
}

// CanonicalURL reduces a tenant URL to what identifies the tenant: lower-case scheme and host,
// no default port, no trailing slash, no API path.
func CanonicalURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return strings.TrimRight(strings.ToLower(strings.TrimSpace(raw)), "/")
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	p := strings.TrimRight(u.Path, "/")
	for _, suffix := range []string{"/api/v1/activities", "/api/v1", "/api"} {
		if strings.HasSuffix(strings.ToLower(p), suffix) {
			p = p[:len(p)-len(suffix)]
			break
		}
	}
	return scheme + "://" + host + strings.TrimRight(p, "/")
}

// numericFilters are the filter keys whose values are integers; the API accepts them as numbers
// or as numeric strings, and the key must not depend on which.
var numericFilters = map[string]bool{"service": true, "instance": true, "ip.category": true, "source": true}

// boolFilters are the filter keys whose values are booleans ("True", "true", true alike).
var boolFilters = map[string]bool{"activity.type": true, "activity.impersonated": true}

// setOperators take a list whose order means nothing.
var setOperators = map[string]bool{"eq": true, "neq": true}

// CanonicalFilters returns filters in one normal form, so that two spellings of the same scope
// give the same watermark key: scalar `eq`/`neq` become sorted, de-duplicated lists; numeric
// strings become numbers for integer keys; "True"/"false" become booleans for boolean keys.
// Keys are sorted when the result is marshalled. It refuses `date` and `created` (ErrTimeFilter).
func CanonicalFilters(filters mcas.Filters) (mcas.Filters, error) {
	// A JSON round trip turns whatever Go values the filters were built from ([]int from a
	// shortcut flag, json.Number from --filter) into the same plain JSON values.
	text, err := json.Marshal(filters)
	if err != nil {
		return nil, fmt.Errorf("encode filters: %w", err)
	}
	filters, err = mcas.DecodeFilters(text)
	if err != nil {
		return nil, err
	}
	out := make(mcas.Filters, len(filters))
	for key, ops := range filters {
		if key == "date" || key == "created" {
			return nil, fmt.Errorf("filter %q: %w", key, ErrTimeFilter)
		}
		nops := make(map[string]any, len(ops))
		for op, val := range ops {
			nv, err := canonicalValue(key, val)
			if err != nil {
				return nil, fmt.Errorf("filter %q operator %q: %w", key, op, err)
			}
			if setOperators[op] {
				nv = canonicalSet(nv)
			}
			nops[op] = nv
		}
		out[key] = nops
	}
	return out, nil
}

// canonicalValue normalizes one value (or list of values) of key.
func canonicalValue(key string, v any) (any, error) {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			nx, err := canonicalValue(key, x)
			if err != nil {
				return nil, err
			}
			out[i] = nx
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			nx, err := canonicalValue(key, x)
			if err != nil {
				return nil, err
			}
			out[k] = nx
		}
		return out, nil
	case string:
		s := strings.TrimSpace(v)
		switch {
		case numericFilters[key]:
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("%q is not an integer", v)
			}
			return json.Number(strconv.FormatInt(n, 10)), nil
		case boolFilters[key]:
			b, err := strconv.ParseBool(strings.ToLower(s))
			if err != nil {
				return nil, fmt.Errorf("%q is not true or false", v)
			}
			return b, nil
		}
		return v, nil
	case float64:
		return json.Number(strconv.FormatFloat(v, 'f', -1, 64)), nil
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return json.Number(strconv.FormatInt(n, 10)), nil
		}
		if f, err := v.Float64(); err == nil {
			return json.Number(strconv.FormatFloat(f, 'f', -1, 64)), nil
		}
		return nil, fmt.Errorf("%q is not a number", v)
	case int:
		return json.Number(strconv.Itoa(v)), nil
	case int64:
		return json.Number(strconv.FormatInt(v, 10)), nil
	case int32:
		return json.Number(strconv.FormatInt(int64(v), 10)), nil
	case bool, nil:
		return v, nil
	}
	return nil, fmt.Errorf("unsupported value %v (%T)", v, v)
}

// canonicalSet turns a scalar into a one-element list and sorts and de-duplicates a list.
func canonicalSet(v any) any {
	list, ok := v.([]any)
	if !ok {
		list = []any{v}
	}
	type item struct {
		key string
		v   any
	}
	items := make([]item, 0, len(list))
	for _, x := range list {
		items = append(items, item{jsonText(x), x})
	}
	slices.SortFunc(items, func(a, b item) int { return strings.Compare(a.key, b.key) })
	items = slices.CompactFunc(items, func(a, b item) bool { return a.key == b.key })
	out := make([]any, len(items))
	for i, it := range items {
		out[i] = it.v
	}
	return out
}

// jsonText renders v compactly for sorting and messages.
func jsonText(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(b.String())
}

// ParseWatermarkKey splits a key made by WatermarkKey into its URL and filters text.
func ParseWatermarkKey(key string) (tenantURL, filters string, ok bool) {
	rest, ok := strings.CutPrefix(key, WatermarkPrefix)
	if !ok {
		return "", "", false
	}
	tenantURL, filters, ok = strings.Cut(rest, " ")
	return tenantURL, filters, ok
}
