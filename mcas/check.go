package mcas

import (
	"context"
	"errors"
	"time"
)

// CheckResult is what Check found out, step by step.
type CheckResult struct {
	Endpoint   string        // the activities URL asked
	AuthKind   string        // the method configured: "legacy token", "entra client certificate (…)", …
	Credential string        // the credential that produced the token (Auto names its member)
	Expires    time.Time     // when that token expires (zero for a legacy token)
	TokenOK    bool          // a credential was obtained (always true for a legacy token)
	Reachable  bool          // the service answered over verified TLS
	Authorized bool          // the credential may list activities
	Total      int           // the service's approximate count of activities (all apps, 30 days)
	Latency    time.Duration // time of the test request
	// Remaining is how many requests this process may still send in the current window, and
	// Wait how long until the next one may go when Remaining is 0.
	Remaining int
	Wait      time.Duration
	Throttled bool // the service answered 429: the tenant's budget is used up right now
	// Service is the service's time read from the answer, for the skew between the clocks.
	Service ServiceTime
	Err     error // the first failure, nil when everything works
}

// Check tests the URL, the credential and its permission with one cheap request (one record,
// outside scan mode) and reports the remaining rate budget. It neither retries nor waits out a
// throttle: it reports them.
func (c *Client) Check(ctx context.Context) CheckResult {
	res := CheckResult{Endpoint: c.endpoint, AuthKind: c.auth.Kind()}
	if _, err := c.cred.header(ctx); err != nil {
		res.Err = err
		res.Remaining, res.Wait = c.limiter.Budget()
		return res
	}
	res.TokenOK = true
	res.Credential, res.Expires = c.cred.used()
	start := c.clock.Now()
	env, err := c.call(ctx, requestBody{Filters: []byte("{}"), Limit: 1, SortField: SortDate, SortDirection: Desc}, callOptions{op: "check", noRetry: true})
	res.Latency = c.clock.Now().Sub(start)
	res.Remaining, res.Wait = c.limiter.Budget()
	var apiErr *APIError
	switch {
	case err == nil:
		res.Reachable, res.Authorized, res.Total = true, true, env.Total
		res.Service = c.serviceTime(ctx, env)
	case errors.As(err, &apiErr):
		res.Reachable = true
		res.Throttled = apiErr.Status == 429
		res.Err = err
	default:
		res.Err = err
	}
	return res
}
