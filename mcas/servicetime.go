package mcas

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// The service's clock. A collector that bounds its windows with the local clock loses records
// whenever the machine's clock is ahead of the service's (a laptop that slept, a VM without
// NTP): the next run starts after activities the service has not stored yet. So every window
// end and every relative time of a scan is read from the service: the Date header of its
// answers (whole seconds), or, when a response has no usable Date, the created time of the
// newest record it shows.

// Where a ServiceTime was read from.
const (
	TimeFromDate    = "Date header"
	TimeFromCreated = "records' created"
)

// ServiceTime is the service's time as read from one answer.
type ServiceTime struct {
	// At is the service's time: the Date header (whole seconds, so at most the true time), or
	// the created time of the newest record shown. Zero when the service showed neither.
	At time.Time `json:"at"`
	// Local is the local clock when the answer arrived.
	Local time.Time `json:"local"`
	// Source says where At came from: TimeFromDate, TimeFromCreated, or "" when unknown.
	Source string `json:"source"`
}

// Known reports whether the service showed a time.
func (s ServiceTime) Known() bool { return s.Source != "" }

// Skew is how far the service's clock is ahead of the local one (negative: behind). Only a
// Date header measures it; it is exact to about a second.
func (s ServiceTime) Skew() time.Duration {
	if s.Source != TimeFromDate {
		return 0
	}
	return s.At.Sub(s.Local)
}

// SkewReported is the skew beyond which check and scan say the clocks differ.
const SkewReported = time.Minute

// ServiceNow asks the service for its time with one cheap request: the newest activity matching
// filters (one record, outside scan mode). The answer's Date header gives the time; without a
// usable one, the newest record's created does (and the client logs it once). A service that
// shows neither gives a ServiceTime that is not Known.
func (c *Client) ServiceNow(ctx context.Context, filters Filters) (ServiceTime, error) {
	body, err := json.Marshal(filters)
	if err != nil {
		return ServiceTime{}, fmt.Errorf("read service time: encode filters: %w", err)
	}
	env, err := c.call(ctx, requestBody{Filters: body, Limit: 1, SortField: SortCreated, SortDirection: Desc}, callOptions{op: "time"})
	if err != nil {
		return ServiceTime{}, fmt.Errorf("read service time: %w", err)
	}
	return c.serviceTime(ctx, env), nil
}

// serviceTime reads the service's time from an answer.
func (c *Client) serviceTime(ctx context.Context, env *envelope) ServiceTime {
	st := ServiceTime{Local: env.received}
	if env.dateOK {
		st.At, st.Source = env.date, TimeFromDate
		return st
	}
	var newest int64
	for _, r := range env.Data {
		if ms, ok := recordTime(r, "created"); ok && ms > newest {
			newest = ms
		}
	}
	c.noDate.Do(func() {
		c.log.WarnContext(ctx, "the service's answer has no usable Date header; its time is taken from the newest record's created",
			"date_header", env.dateRaw)
	})
	if newest > 0 {
		st.At, st.Source = time.UnixMilli(newest).UTC(), TimeFromCreated
	}
	return st
}

// parseDate reads a Date header (RFC 7231, whole seconds).
func parseDate(h string) (time.Time, bool) {
	if h == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(h)
	if err != nil || t.Year() < 2000 {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// recordTime reads a record's epoch-ms field ("created" or "timestamp").
func recordTime(r json.RawMessage, field string) (int64, bool) {
	var v map[string]json.RawMessage
	if json.Unmarshal(r, &v) != nil {
		return 0, false
	}
	raw, ok := v[field]
	if !ok {
		return 0, false
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0, false
		}
		n = json.Number(s)
	}
	return toInt64(n)
}
