package loader

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/mcas"
)

func mustJSON(t *testing.T, s string) mcas.Filters {
	t.Helper()
	f, err := mcas.DecodeFilters([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestWatermarkKeySameScope(t *testing.T) {
	// Each pair spells the same scope two ways; the keys must be equal.
	pairs := []struct {
		name string
		urlA string
		a    string
		urlB string
		b    string
	}{
		{"scalar vs list eq", "https://t.eu2.portal.cloudappsecurity.com", `{"service":{"eq":11161}}`,
			"https://t.eu2.portal.cloudappsecurity.com/", `{"service":{"eq":[11161]}}`},
		{"numeric string", "https://T.eu2.Portal.CloudAppSecurity.com:443/api/v1", `{"service":{"eq":["20893","11161"]}}`,
			"https://t.eu2.portal.cloudappsecurity.com", `{"service":{"eq":[11161,20893,11161]}}`},
		{"key order", "http://127.0.0.1:8080", `{"user.username":{"eq":["b@x","a@x"]},"activity.type":{"eq":"True"}}`,
			"http://127.0.0.1:8080/api/v1/activities/", `{"activity.type":{"eq":[true]},"user.username":{"eq":["a@x","b@x"]}}`},
		{"empty", "https://t.portal.cloudappsecurity.com", `{}`, "https://t.portal.cloudappsecurity.com", `{}`},
	}
	for _, p := range pairs {
		t.Run(p.name, func(t *testing.T) {
			ca, err := CanonicalFilters(mustJSON(t, p.a))
			if err != nil {
				t.Fatal(err)
			}
			cb, err := CanonicalFilters(mustJSON(t, p.b))
			if err != nil {
				t.Fatal(err)
			}
			ka, kb := WatermarkKey(p.urlA, ca), WatermarkKey(p.urlB, cb)
			if ka != kb {
				t.Fatalf("keys differ:\n%s\n%s", ka, kb)
			}
			u, f, ok := ParseWatermarkKey(ka)
			if !ok || !strings.HasPrefix(u, "http") || !strings.HasPrefix(f, "{") {
				t.Fatalf("ParseWatermarkKey(%q) = %q, %q, %v", ka, u, f, ok)
			}
		})
	}
}

func TestWatermarkKeyDifferentScope(t *testing.T) {
	base := WatermarkKey("https://t.portal.cloudappsecurity.com", nil)
	for _, tt := range []struct{ name, url, filters string }{
		{"filtered on an app", "https://t.portal.cloudappsecurity.com", `{"service":{"eq":[11161]}}`},
		{"other app", "https://t.portal.cloudappsecurity.com", `{"service":{"eq":[20893]}}`},
		{"neq is not eq", "https://t.portal.cloudappsecurity.com", `{"service":{"neq":[11161]}}`},
		{"other tenant", "https://u.portal.cloudappsecurity.com", `{}`},
		{"other port", "https://t.portal.cloudappsecurity.com:8443", `{}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c, err := CanonicalFilters(mustJSON(t, tt.filters))
			if err != nil {
				t.Fatal(err)
			}
			if k := WatermarkKey(tt.url, c); k == base {
				t.Fatalf("key %q equals the unfiltered tenant key", k)
			}
		})
	}
	a, _ := CanonicalFilters(mustJSON(t, `{"service":{"eq":[11161]}}`))
	b, _ := CanonicalFilters(mustJSON(t, `{"service":{"eq":[20893]}}`))
	if WatermarkKey("https://t", a) == WatermarkKey("https://t", b) {
		t.Fatal("two apps share a key")
	}
}

func TestCanonicalFiltersErrors(t *testing.T) {
	for _, tt := range []struct{ name, filters, want string }{
		{"date", `{"date":{"gte":1}}`, `filter "date": time bounds belong in the scan's window`},
		{"created", `{"created":{"gte":1}}`, `filter "created": time bounds belong in the scan's window`},
		{"bad integer", `{"service":{"eq":["office"]}}`, "not an integer"},
		{"bad bool", `{"activity.type":{"eq":"yes please"}}`, "not true or false"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := CanonicalFilters(mustJSON(t, tt.filters))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	_, err := CanonicalFilters(mustJSON(t, `{"date":{"gte":1}}`))
	if !errors.Is(err, ErrTimeFilter) {
		t.Fatalf("err = %v, want ErrTimeFilter", err)
	}
}

func TestWatermarkRoundTrip(t *testing.T) {
	f, _ := CanonicalFilters(mustJSON(t, `{"service":{"eq":[11161]}}`))
	w := Watermark{Created: time.UnixMilli(1700000000123).UTC(), URL: "https://t", Filters: f, Updated: time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)}
	got, err := DecodeWatermark(encodeWatermark(w))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Created.Equal(w.Created) || got.URL != w.URL || !got.Updated.Equal(w.Updated) {
		t.Fatalf("round trip: got %+v, want %+v", got, w)
	}
	if jsonText(got.Filters) != jsonText(w.Filters) {
		t.Fatalf("filters %s, want %s", jsonText(got.Filters), jsonText(w.Filters))
	}
	for _, bad := range []string{"", "{}", "not json", `{"created_ms":"x"}`} {
		if _, err := DecodeWatermark(bad); err == nil {
			t.Errorf("DecodeWatermark(%q) succeeded", bad)
		}
	}
}

func FuzzDecodeWatermark(f *testing.F) {
	f.Add(`{"created_ms":1700000000123,"url":"https://t","updated":"2026-11-26T02:00:00Z"}`)
	f.Add(`{"created_ms":-1}`)
	f.Add(`[]`)
	f.Fuzz(func(t *testing.T, s string) {
		w, err := DecodeWatermark(s)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to the same position.
		again, err := DecodeWatermark(encodeWatermark(w))
		if err != nil || !again.Created.Equal(w.Created) {
			t.Fatalf("re-decode of %q: %v, %v vs %v", s, err, again.Created, w.Created)
		}
	})
}

func FuzzCanonicalFilters(f *testing.F) {
	f.Add(`{"service":{"eq":[11161,"20893"]},"activity.type":{"eq":"True"}}`)
	f.Add(`{"ip.address":{"startswith":"10."},"location.country":{"neq":["US","FR","US"]}}`)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := mcas.DecodeFilters([]byte(s))
		if err != nil {
			return
		}
		c, err := CanonicalFilters(m)
		if err != nil {
			return
		}
		// Canonical form is a fixed point: normalizing it again changes nothing.
		back, err := mcas.DecodeFilters([]byte(jsonText(c)))
		if err != nil {
			t.Fatalf("canonical form does not round-trip: %v", err)
		}
		c2, err := CanonicalFilters(back)
		if err != nil {
			t.Fatalf("canonical form refused: %v", err)
		}
		if WatermarkKey("https://t", c) != WatermarkKey("https://t", c2) {
			t.Fatalf("not a fixed point: %s vs %s", jsonText(c), jsonText(c2))
		}
	})
}
