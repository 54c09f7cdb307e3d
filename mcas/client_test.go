package mcas

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/testkit"
)

var epoch = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// testClient builds a client for url on a virtual clock that advances when slept on, logging
// at debug level into the returned buffer.
func testClient(t *testing.T, url string, clk clock.Clock, mod func(*Config)) (*Client, *testkit.Buffer) {
	t.Helper()
	logs := &testkit.Buffer{}
	cfg := Config{
		URL:    url,
		Auth:   TokenAuth{Token: NewSecret(goodToken)},
		Clock:  clk,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Jitter: func() float64 { return 0.5 },
		Retry:  RetryPolicy{MaxAttempts: 4, BaseDelay: time.Second, MaxDelay: 8 * time.Second},
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := NewClient(cfg)
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, logs
}

func TestRetryTransientFailures(t *testing.T) {
	faults := map[string]http.HandlerFunc{
		"500":          statusFault(500, "<html>500Internal error</html>"),
		"502":          statusFault(502, "bad gateway"),
		"503":          statusFault(503, "unavailable"),
		"504":          statusFault(504, "gateway timeout"),
		"reset":        resetFault,
		"truncated":    truncatedFault,
		"invalid json": invalidJSONFault,
	}
	for name, fault := range faults {
		t.Run(name, func(t *testing.T) {
			clk := clock.NewVirtual(epoch, true)
			api, srv := newFakeAPI(t, clk, genRecords(3, epoch.UnixMilli(), nil))
			api.fault(fault, fault)
			c, _ := testClient(t, srv.URL, clk, nil)
			p, err := c.List(t.Context(), Query{}, 0)
			if err != nil {
				t.Fatalf("List after two %s faults: %v", name, err)
			}
			if len(p.Records) != 3 {
				t.Fatalf("got %d records, want 3", len(p.Records))
			}
			reqs := api.log()
			if len(reqs) != 3 {
				t.Fatalf("server saw %d requests, want 3", len(reqs))
			}
			// Backoff: 1 s then 2 s, each jittered to 3/4 of its value by Jitter 0.5.
			if d := reqs[1].At.Sub(reqs[0].At); d != 750*time.Millisecond {
				t.Errorf("first retry after %v, want 750ms", d)
			}
			if d := reqs[2].At.Sub(reqs[1].At); d != 1500*time.Millisecond {
				t.Errorf("second retry after %v, want 1.5s", d)
			}
			if s := c.Stats(); s.Retries != 2 || s.Requests != 3 {
				t.Errorf("stats %+v, want 2 retries and 3 requests", s)
			}
		})
	}
}

func TestRetryGivesUpWithClearError(t *testing.T) {
	tests := []struct {
		name  string
		fault http.HandlerFunc
		want  []string
		// status is the APIError's status; 0 wants ErrUnreachable instead (no usable answer).
		status int
	}{
		{"502", statusFault(502, "<html><body>502 Bad gateway</body></html>"), []string{"HTTP 502", "after 4 attempts", "Bad gateway"}, 502},
		{"reset", resetFault, []string{"after 4 attempts", "request failed"}, 0},
		{"truncated", truncatedFault, []string{"after 4 attempts", "unexpected EOF"}, 0},
		{"invalid json", invalidJSONFault, []string{"after 4 attempts", "not the activities JSON envelope"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewVirtual(epoch, true)
			api, srv := newFakeAPI(t, clk, nil)
			for range 10 {
				api.fault(tt.fault)
			}
			c, _ := testClient(t, srv.URL, clk, nil)
			_, err := c.List(t.Context(), Query{}, 0)
			if err == nil {
				t.Fatal("List succeeded against a failing server")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			var apiErr *APIError
			switch {
			case tt.status != 0 && (!errors.As(err, &apiErr) || apiErr.Status != tt.status || apiErr.Attempts != 4):
				t.Errorf("error %#v, want an APIError with status %d after 4 attempts", err, tt.status)
			case tt.status == 0 && !errors.Is(err, ErrUnreachable):
				t.Errorf("error %q is not ErrUnreachable", err)
			}
			if n := len(api.log()); n != 4 {
				t.Errorf("server saw %d requests, want MaxAttempts=4", n)
			}
		})
	}
}

func TestRequestTimeoutIsRetried(t *testing.T) {
	clk := clock.NewVirtual(epoch, true)
	api, srv := newFakeAPI(t, clk, genRecords(2, epoch.UnixMilli(), nil))
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	api.fault(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	c, _ := testClient(t, srv.URL, clk, func(cfg *Config) { cfg.RequestTimeout = 50 * time.Millisecond })
	p, err := c.List(t.Context(), Query{}, 0)
	if err != nil {
		t.Fatalf("List after a timeout: %v", err)
	}
	if len(p.Records) != 2 || c.Stats().Retries != 1 {
		t.Fatalf("got %d records and %d retries, want 2 and 1", len(p.Records), c.Stats().Retries)
	}
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	tests := []struct {
		status   int
		body     string
		auth     bool
		perm     bool
		wantText string
	}{
		{400, `{"error":{"message":"Invalid filter: unknown operator foo"}}`, false, false, "Invalid filter: unknown operator foo"},
		{403, `{"error":"Insufficient role based permissions"}`, true, true, "Insufficient role based permissions"},
		{401, `<html>Unauthorized</html>`, true, false, "Unauthorized"},
		{404, `<html><script>var __ADALLOM_CONSTS={}</script>404Page not found</html>`, false, false, "404Page not found"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			clk := clock.NewVirtual(epoch, true)
			api, srv := newFakeAPI(t, clk, nil)
			api.fault(statusFault(tt.status, tt.body))
			c, _ := testClient(t, srv.URL, clk, nil)
			_, err := c.List(t.Context(), Query{}, 0)
			if err == nil {
				t.Fatal("List succeeded")
			}
			if !strings.Contains(err.Error(), tt.wantText) || !strings.Contains(err.Error(), "HTTP") {
				t.Errorf("error %q does not show the status and the server's message %q", err, tt.wantText)
			}
			if strings.Contains(err.Error(), "__ADALLOM") {
				t.Errorf("error %q carries the HTML page's script", err)
			}
			if got := errors.Is(err, ErrAuth); got != tt.auth {
				t.Errorf("errors.Is(err, ErrAuth) = %v, want %v", got, tt.auth)
			}
			if got := errors.Is(err, ErrPermission); got != tt.perm {
				t.Errorf("errors.Is(err, ErrPermission) = %v, want %v", got, tt.perm)
			}
			if n := len(api.log()); n != 1 {
				t.Errorf("server saw %d requests, want 1 (no retry)", n)
			}
		})
	}
}

func TestThrottleWaits(t *testing.T) {
	tests := []struct {
		name     string
		header   string
		body     string
		wantWait time.Duration
	}{
		{"retry-after header", "17", `{"error":{"message":"Request was throttled. Expected available in 40 seconds."}}`, 17 * time.Second},
		{"seconds in body", "", `{"error":{"message":"Request was throttled. Expected available in 42 seconds."}}`, 42 * time.Second},
		{"neither", "", `TOO MANY REQUESTS`, 60 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewVirtual(epoch, true)
			api, srv := newFakeAPI(t, clk, genRecords(1, epoch.UnixMilli(), nil))
			api.fault(func(w http.ResponseWriter, _ *http.Request) {
				if tt.header != "" {
					w.Header().Set("Retry-After", tt.header)
				}
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(tt.body))
			})
			c, _ := testClient(t, srv.URL, clk, nil)
			if _, err := c.List(t.Context(), Query{}, 0); err != nil {
				t.Fatalf("List after a 429: %v", err)
			}
			reqs := api.log()
			if len(reqs) != 2 {
				t.Fatalf("server saw %d requests, want 2", len(reqs))
			}
			if d := reqs[1].At.Sub(reqs[0].At); d != tt.wantWait {
				t.Errorf("waited %v after the 429, want %v", d, tt.wantWait)
			}
			if s := c.Stats(); s.Throttled != 1 || s.Retries != 0 {
				t.Errorf("stats %+v, want 1 throttled, 0 retries", s)
			}
		})
	}
}

// A 429 seen by one caller holds back every caller sharing the limiter.
func TestThrottleHoldsEveryCaller(t *testing.T) {
	clk := clock.NewVirtual(epoch, false)
	api, srv := newFakeAPI(t, clk, genRecords(1, epoch.UnixMilli(), nil))
	lim := NewLimiter(clk, 30, time.Minute)
	a, _ := testClient(t, srv.URL, clk, func(c *Config) { c.Limiter = lim })
	b, _ := testClient(t, srv.URL, clk, func(c *Config) { c.Limiter = lim })
	api.fault(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "30")
		w.WriteHeader(http.StatusTooManyRequests)
	})
	done := make(chan error, 2)
	go func() { _, err := a.List(context.Background(), Query{}, 0); done <- err }()
	waitFor(t, func() bool { _, w := lim.Budget(); return w > 0 })
	go func() { _, err := b.List(context.Background(), Query{}, 0); done <- err }()
	// Neither may send before the 30 s are over.
	clk.Advance(29 * time.Second)
	time.Sleep(20 * time.Millisecond)
	if n := len(api.log()); n != 1 {
		t.Fatalf("server saw %d requests during the throttle, want 1", n)
	}
	clk.Advance(time.Second)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatalf("List: %v", err)
		}
	}
	for _, r := range api.log()[1:] {
		if r.At.Before(epoch.Add(30 * time.Second)) {
			t.Errorf("request at %v, before the throttle ended", r.At.Sub(epoch))
		}
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestNewClientRefusesBadURLs(t *testing.T) {
	tests := []struct{ url, want string }{
		{"", "no API URL"},
		{"http://contoso.eu2.portal.cloudappsecurity.com", "refusing plain http"},
		{"https://user:hunter2pass@contoso.example", "must not contain credentials"},
		{"ftp://contoso.example", "scheme"},
		{"contoso", "bad API URL"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := NewClient(Config{URL: tt.url, Auth: TokenAuth{Token: NewSecret(goodToken)}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewClient(%q) = %v, want an error about %q", tt.url, err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2pass") {
				t.Errorf("error %q shows the URL's password", err)
			}
			if got := errors.Is(err, ErrURLCredentials); got != strings.Contains(tt.url, "@") {
				t.Errorf("errors.Is(%q, ErrURLCredentials) = %v", err, got)
			}
		})
	}
}

func TestNewClientRefusesMissingCredentials(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	t.Setenv("AZURE_CLIENT_ID", "")
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", "")
	for _, tt := range []struct {
		auth    Auth
		missing []Setting // nil: ErrNoCredentials
	}{
		{nil, nil},
		{TokenAuth{}, nil},
		{EntraAuth{TenantID: testTenant, ClientID: testClientID}, []Setting{SettingSecret}},
		{EntraAuth{ClientID: testClientID, Secret: NewSecret("x")}, []Setting{SettingTenantID}},
		{EntraAuth{Method: ClientCertificate, TenantID: testTenant}, []Setting{SettingClientID, SettingCertificate}},
		{EntraAuth{Method: WorkloadIdentity}, []Setting{SettingTenantID, SettingClientID, SettingTokenFile}},
	} {
		_, err := NewClient(Config{URL: "https://contoso.example", Auth: tt.auth})
		var signIn *SignInError
		switch {
		case !errors.Is(err, ErrAuth):
			t.Errorf("NewClient with %v = %v, want ErrAuth", tt.auth, err)
		case tt.missing == nil && !errors.Is(err, ErrNoCredentials):
			t.Errorf("NewClient with %v = %v, want ErrNoCredentials", tt.auth, err)
		case tt.missing != nil && (!errors.As(err, &signIn) || !slices.Equal(signIn.Missing, tt.missing)):
			t.Errorf("NewClient with %v = %#v, want a SignInError missing %v", tt.auth, err, tt.missing)
		case tt.missing != nil && !strings.Contains(err.Error(), "lacks "+missingText(tt.missing)):
			t.Errorf("NewClient with %v = %q, want it to name what is missing", tt.auth, err)
		}
	}
	for authority, want := range map[string]string{
		"http://login.example.com":  "refusing authority URL",
		"login.microsoftonline.com": "bad authority URL",
	} {
		a := EntraAuth{TenantID: testTenant, ClientID: testClientID, Secret: NewSecret(testClientSecret), AuthorityURL: authority}
		_, err := NewClient(Config{URL: "https://contoso.example", Auth: a})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("authority %s: %v, want %q", authority, err, want)
		}
	}
}

func TestEndpointFromURL(t *testing.T) {
	tests := map[string]string{
		"https://contoso.eu2.portal.cloudappsecurity.com":                   "https://contoso.eu2.portal.cloudappsecurity.com/api/v1/activities/",
		"https://contoso.eu2.portal.cloudappsecurity.com/":                  "https://contoso.eu2.portal.cloudappsecurity.com/api/v1/activities/",
		"https://portal.cloudappsecurity.com/cas":                           "https://portal.cloudappsecurity.com/cas/api/v1/activities/",
		"https://contoso.eu2.portal.cloudappsecurity.com/api/v1/activities": "https://contoso.eu2.portal.cloudappsecurity.com/api/v1/activities/",
		"http://127.0.0.1:8080/api/v1/activities/?x=1":                      "http://127.0.0.1:8080/api/v1/activities/",
	}
	for in, want := range tests {
		got, err := activitiesEndpoint(in)
		if err != nil || got != want {
			t.Errorf("activitiesEndpoint(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
