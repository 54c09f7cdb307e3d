package mcas

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestServiceNow(t *testing.T) {
	created := time.Date(2027, 3, 1, 10, 0, 0, 123e6, time.UTC)
	tests := []struct {
		name   string
		date   []string // nil: no Date header at all
		data   string
		want   time.Time
		source string
	}{
		{"date header", []string{"Mon, 01 Mar 2027 10:05:07 GMT"}, `[]`, time.Date(2027, 3, 1, 10, 5, 7, 0, time.UTC), TimeFromDate},
		{"no date header", nil, fmt.Sprintf(`[{"_id":"a","created":%d}]`, created.UnixMilli()), created, TimeFromCreated},
		{"unparsable date", []string{"yesterday"}, fmt.Sprintf(`[{"_id":"a","created":"%d"}]`, created.UnixMilli()), created, TimeFromCreated},
		{"nothing shown", nil, `[]`, time.Time{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Date"] = tt.date // nil keeps net/http from adding one
				fmt.Fprintf(w, `{"total":1,"hasNext":false,"data":%s}`, tt.data)
			}))
			defer srv.Close()
			var logs syncLog
			c, err := NewClient(Config{URL: srv.URL, Auth: TokenAuth{Token: NewSecret("t0ken-for-the-test-0000000000000000")},
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				got, err := c.ServiceNow(context.Background(), Filters{})
				if err != nil {
					t.Fatal(err)
				}
				if !got.At.Equal(tt.want) || got.Source != tt.source || got.Known() != (tt.source != "") {
					t.Fatalf("ServiceNow = %+v, want %s from %q", got, tt.want, tt.source)
				}
			}
			if n := strings.Count(logs.String(), "no usable Date header"); (tt.source != TimeFromDate) != (n == 1) {
				t.Errorf("logged the missing Date header %d times:\n%s", n, logs.String())
			}
		})
	}
}

func TestServiceTimeSkew(t *testing.T) {
	local := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	st := ServiceTime{At: local.Add(-2 * time.Hour), Local: local, Source: TimeFromDate}
	if st.Skew() != -2*time.Hour {
		t.Errorf("skew %s", st.Skew())
	}
	if (ServiceTime{At: local, Local: local.Add(time.Hour), Source: TimeFromCreated}).Skew() != 0 {
		t.Error("a record's created measured a skew")
	}
}

type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncLog) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncLog) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
