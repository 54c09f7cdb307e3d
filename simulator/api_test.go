package simulator

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/simulator/synth"
)

func TestThrottleSlidingWindow(t *testing.T) {
	for _, retryAfter := range []bool{true, false} {
		t.Run("retryAfter="+strconv.FormatBool(retryAfter), func(t *testing.T) {
			s, vc := newTestServer(t, Config{RateLimit: 3, NoRetryAfter: !retryAfter})
			list := func() (string, http.Header, []byte) {
				conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v1/activities?limit=1", nil)
				req.Header.Set("Authorization", "Token "+s.Token)
				if err := req.Write(conn); err != nil {
					t.Fatal(err)
				}
				resp, err := http.ReadResponse(bufio.NewReader(conn), req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.Status, resp.Header, b
			}
			for i := range 3 {
				if st, _, _ := list(); st != "200 OK" {
					t.Fatalf("request %d: %s", i, st)
				}
				vc.Advance(10 * time.Second)
			}
			// 30 s after the first request: the budget of 3 is spent for 30 more seconds.
			st, h, b := list()
			if st != "429 TOO MANY REQUESTS" {
				t.Fatalf("status line %q, want 429 TOO MANY REQUESTS", st)
			}
			msg := errorMessage(t, b)
			if !strings.Contains(msg, "throttled") || !strings.Contains(msg, "in 30 seconds") {
				t.Fatalf("429 message %q", msg)
			}
			if got := h.Get("Retry-After"); (got == "30") != retryAfter || (got == "") == retryAfter {
				t.Fatalf("Retry-After %q with retryAfter %v", got, retryAfter)
			}
			vc.Advance(29 * time.Second)
			if st, _, _ := list(); st[:3] != "429" {
				t.Fatalf("1 s before the window slides: %s", st)
			}
			vc.Advance(1 * time.Second) // the first request leaves the window
			if st, _, _ := list(); st != "200 OK" {
				t.Fatalf("after the window slid: %s", st)
			}
			if st, _, _ := list(); st[:3] != "429" {
				t.Fatalf("budget refilled by one only: %s", st)
			}
			if got := s.Stats().Throttled; got != 3 {
				t.Fatalf("Stats().Throttled = %d, want 3", got)
			}
		})
	}
}

func TestThrottleDefaultsThroughHTTPClient(t *testing.T) {
	s, _ := newTestServer(t, Config{RateLimit: DefaultRateLimit})
	codes := map[int]int{}
	for range 31 {
		st, _, _ := call(t, http.MethodGet, s.URL+"/api/v1/activities/?limit=1", s.Token, "", nil)
		codes[st]++
	}
	if codes[200] != 30 || codes[429] != 1 {
		t.Fatalf("codes %v, want 30 OK and one 429", codes)
	}
}

func TestAuth(t *testing.T) {
	s, vc := newTestServer(t, Config{TokenLifetime: 10 * time.Minute, ClientSecret: "sim-secret-1"})
	get := func(auth string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v1/activities/?limit=1", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	token := func(form url.Values) (int, map[string]any) {
		resp, err := http.PostForm(s.TokenURL(), form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, m
	}
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID()}, "client_secret": {"sim-secret-1"}, "scope": {APIScope}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range good {
			f[kk] = vv
		}
		f.Set(k, v)
		return f
	}

	cases := []struct {
		name   string
		auth   string
		status int
	}{
		{"missing", "", 401},
		{"bad legacy token", "Token nope", 403},
		{"legacy token", "Token " + s.Token, 200},
		{"legacy token without space case", "token " + s.Token, 200},
		{"unknown bearer", "Bearer eyJ.x.y", 401},
		{"basic", "Basic abc", 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if st, b := get(c.auth); st != c.status {
				t.Fatalf("status %d, want %d: %s", st, c.status, b)
			}
		})
	}

	bad := []struct {
		name   string
		form   url.Values
		status int
		code   string
	}{
		{"wrong secret", with("client_secret", "wrong"), 401, "invalid_client"},
		{"wrong scope", with("scope", "https://graph.microsoft.com/.default"), 400, "invalid_scope"},
		{"wrong grant", with("grant_type", "password"), 400, "unsupported_grant_type"},
		{"unknown client", with("client_id", "00000000-0000-0000-0000-000000000000"), 400, "unauthorized_client"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			st, m := token(c.form)
			if st != c.status || m["error"] != c.code {
				t.Fatalf("status %d %v, want %d %s", st, m, c.status, c.code)
			}
			if desc, _ := m["error_description"].(string); !strings.HasPrefix(desc, "AADSTS") || strings.Contains(desc, "sim-secret-1") || strings.Contains(desc, "wrong") {
				t.Fatalf("error_description %q", desc)
			}
		})
	}
	resp, err := http.PostForm(s.URL+"/other-tenant/oauth2/v2.0/token", good)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("wrong tenant: %d", resp.StatusCode)
	}

	st, m := token(good)
	if st != 200 || m["token_type"] != "Bearer" || m["expires_in"] != float64(600) {
		t.Fatalf("token: %d %v", st, m)
	}
	bearer, _ := m["access_token"].(string)
	if st, b := get("Bearer " + bearer); st != 200 {
		t.Fatalf("fresh bearer: %d %s", st, b)
	}
	vc.Advance(9 * time.Minute)
	if st, _ := get("Bearer " + bearer); st != 200 {
		t.Fatalf("bearer 1 min before expiry: %d", st)
	}
	vc.Advance(time.Minute)
	if st, b := get("Bearer " + bearer); st != 401 || !strings.Contains(errorMessage(t, b), "expired") {
		t.Fatalf("expired bearer: %d %s", st, b)
	}
	if got := s.Stats().Tokens; got != 1 {
		t.Fatalf("Stats().Tokens = %d", got)
	}
}

func TestBadRequests(t *testing.T) {
	s, _ := newTestServer(t, Config{DeepOffsetCeiling: 300})
	cases := []struct {
		name string
		body string
		want string // in the error message
	}{
		{"unknown filter", `{"filters":{"activity.color":{"eq":["red"]}}}`, `"activity.color"`},
		{"unknown operator", `{"filters":{"date":{"around":5}}}`, `"around"`},
		{"operator of another filter", `{"filters":{"service":{"startswith":"11"}}}`, `"startswith"`},
		{"not an object", `{"filters":{"service":[1]}}`, `"service"`},
		{"bad number", `{"filters":{"service":{"eq":"eleven"}}}`, `eleven`},
		{"bad range", `{"filters":{"date":{"range":{"begin":1}}}}`, `begin`},
		{"bad sortField", `{"sortField":"user"}`, `sortField`},
		{"bad direction", `{"sortDirection":"up"}`, `sortDirection`},
		{"bad json", `{"filters":`, `JSON`},
		{"deep offset", `{"skip":250,"limit":100}`, `300`},
		{"negative skip", `{"skip":-1}`, `skip`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, _, b := call(t, http.MethodPost, s.URL+"/api/v1/activities/", s.Token, "application/json", []byte(c.body))
			if st != 400 {
				t.Fatalf("status %d: %s", st, b)
			}
			if msg := errorMessage(t, b); !strings.Contains(msg, c.want) {
				t.Fatalf("message %q does not name %s", msg, c.want)
			}
		})
	}
	// Just inside the ceiling is fine.
	if st, _, b := call(t, http.MethodPost, s.URL+"/api/v1/activities/", s.Token, "application/json", []byte(`{"skip":200,"limit":100}`)); st != 200 {
		t.Fatalf("skip+limit = ceiling: %d %s", st, b)
	}
}

func TestNonScanPaging(t *testing.T) {
	s, vc := newTestServer(t, Config{})
	tn := s.Tenant()
	user := tn.Activity(tn.Len() / 2).User
	want := expected(tn, vc.Now(), func(a *synth.Activity) bool { return strings.EqualFold(a.User, user) })
	if len(want) < 150 || len(want) > 4900 {
		t.Fatalf("pick another user: %d records", len(want))
	}
	var got []record
	for skip := 0; ; {
		r := postJSON(t, s, map[string]any{"filters": map[string]any{"user.username": map[string]any{"eq": []string{user}}},
			"skip": skip, "limit": 1000})
		if len(r.Data) > 100 {
			t.Fatalf("non-scan page of %d records", len(r.Data))
		}
		if r.Total != len(want) || r.NextQueryFilters != nil {
			t.Fatalf("total %d (want %d), nextQueryFilters %s", r.Total, len(want), r.NextQueryFilters)
		}
		got = append(got, decodeRecords(t, r.Data)...)
		skip += len(r.Data)
		if r.HasNext != (skip < len(want)) {
			t.Fatalf("hasNext %v at %d of %d", r.HasNext, skip, len(want))
		}
		if !r.HasNext {
			break
		}
	}
	testkit.IDsExactlyOnce(t, recordIDs(got), want)
	assertOrdered(t, got, false, true)
}

func TestFaults(t *testing.T) {
	s, _ := newTestServer(t, Config{SlowDelay: 300 * time.Millisecond})
	url := s.URL + "/api/v1/activities/?limit=100"
	do := func(timeout time.Duration) (*http.Response, []byte, error) {
		c := &http.Client{Timeout: timeout}
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("Authorization", "Token "+s.Token)
		resp, err := c.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	htmlStatus := map[Fault]int{FaultInternalError: 500, FaultBadGateway: 502, FaultGatewayTimeout: 504}
	for _, f := range []Fault{FaultInternalError, FaultBadGateway, FaultGatewayTimeout} {
		t.Run(string(f), func(t *testing.T) {
			s.FailNext(1, f)
			resp, b, err := do(5 * time.Second)
			if err != nil || resp.StatusCode != htmlStatus[f] || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "<html>") {
				t.Fatalf("%v %v %q", err, resp.Status, b)
			}
		})
	}
	t.Run("429", func(t *testing.T) {
		s.FailNext(1, FaultThrottle)
		resp, b, err := do(5 * time.Second)
		if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" || !strings.Contains(string(b), "throttled") {
			t.Fatalf("%v %v %s", err, resp, b)
		}
	})
	t.Run("reset", func(t *testing.T) {
		s.FailNext(1, FaultReset)
		resp, b, err := do(5 * time.Second)
		if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("want an unexpected EOF mid-body, got %v (%v, %d bytes)", err, resp, len(b))
		}
	})
	t.Run("truncated", func(t *testing.T) {
		s.FailNext(1, FaultTruncated)
		resp, b, err := do(5 * time.Second)
		if err != nil || resp.StatusCode != 200 || len(b) == 0 {
			t.Fatalf("%v %v", err, resp)
		}
		var r apiResponse
		if json.Unmarshal(b, &r) == nil {
			t.Fatal("truncated body parsed as JSON")
		}
	})
	t.Run("slow", func(t *testing.T) {
		s.FailNext(1, FaultSlow)
		_, _, err := do(50 * time.Millisecond)
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("want a client timeout, got %v", err)
		}
	})
	// After the forced faults, requests succeed again.
	if resp, b, err := do(5 * time.Second); err != nil || resp.StatusCode != 200 || !json.Valid(b) {
		t.Fatalf("after faults: %v %v", err, resp)
	}
	if st := s.Stats(); st.Faults != 7 {
		t.Fatalf("Stats().Faults = %d, want 7", st.Faults)
	}
}

func TestSeededFaultRates(t *testing.T) {
	run := func() []int {
		s, _ := newTestServer(t, Config{FaultSeed: 42, FaultRates: map[Fault]float64{FaultInternalError: 0.2, FaultBadGateway: 0.2}})
		var codes []int
		for range 60 {
			st, _, _ := call(t, http.MethodGet, s.URL+"/api/v1/activities?limit=1", s.Token, "", nil)
			codes = append(codes, st)
		}
		return codes
	}
	a, b := run(), run()
	count := map[int]int{}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, different fault sequence at %d: %v vs %v", i, a, b)
		}
		count[a[i]]++
	}
	// 60 draws at 20 % each: both kinds and successes occur, roughly in proportion.
	if count[500] < 4 || count[502] < 4 || count[200] < 20 {
		t.Fatalf("fault mix %v", count)
	}
}

func TestRoutes(t *testing.T) {
	s, vc := newTestServer(t, Config{})
	tn := s.Tenant()
	for _, p := range []string{"/api/v1/alerts/", "/", "/api/v1/activitiesx", "/api/v2/activities/"} {
		st, h, b := call(t, http.MethodGet, s.URL+p, s.Token, "", nil)
		if st != 404 || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(string(b), "Page not found") {
			t.Fatalf("%s: %d %s %q", p, st, h.Get("Content-Type"), b)
		}
	}
	for _, p := range []string{"/api/v1/activities", "/api/v1/activities/", "/cas/api/v1/activities/"} {
		for _, m := range []string{http.MethodGet, http.MethodPost} {
			if st, _, b := call(t, m, s.URL+p+"?limit=2", s.Token, "", nil); st != 200 || !json.Valid(b) {
				t.Fatalf("%s %s: %d", m, p, st)
			}
		}
	}
	// Fetch one: the bare record, byte for byte what the generator renders.
	i := tn.Len() / 3
	a := tn.Activity(i)
	for _, suffix := range []string{"/", ""} {
		st, _, b := call(t, http.MethodGet, s.URL+"/api/v1/activities/"+a.ID+suffix, s.Token, "", nil)
		if st != 200 || strings.TrimSpace(string(b)) != string(tn.AppendJSON(nil, i)) {
			t.Fatalf("fetch %s: %d %.100s", a.ID, st, b)
		}
	}
	if st, _, _ := call(t, http.MethodGet, s.URL+"/api/v1/activities/"+strings.Repeat("0", 64)+"/", s.Token, "", nil); st != 404 {
		t.Fatalf("unknown id: %d", st)
	}
	// A record not yet created is not there.
	vc.Set(time.UnixMilli(a.Created - 1))
	if st, _, _ := call(t, http.MethodGet, s.URL+"/api/v1/activities/"+a.ID+"/", s.Token, "", nil); st != 404 {
		t.Fatalf("invisible id: %d", st)
	}
	vc.Set(testEnd)
	st, _, b := call(t, http.MethodPost, s.URL+"/api/v1/activities/"+a.ID+"/feedback", s.Token, "application/json",
		[]byte(`{"feedbackValue":"0","feedbackText":"Irrelevant","allowContact":false}`))
	if st != 200 {
		t.Fatalf("feedback: %d %s", st, b)
	}
	if st, _, _ := call(t, http.MethodDelete, s.URL+"/api/v1/activities/", s.Token, "", nil); st != 405 {
		t.Fatalf("DELETE: %d", st)
	}
}

// TestEncodings sends the same query in every encoding and leniency clients use, and expects the
// same answer.
func TestEncodings(t *testing.T) {
	s, _ := newTestServer(t, Config{})
	tn := s.Tenant()
	lo, hi := tn.Activity(2000).Timestamp, tn.Activity(4000).Timestamp
	canonical := `{"filters":{"service":{"eq":[11161,20893]},"date":{"range":[{"start":` + i64(lo) + `,"end":` + i64(hi) + `}]}},"isScan":true,"limit":600}`
	_, _, ref := call(t, http.MethodPost, s.URL+"/api/v1/activities/", s.Token, "application/json", []byte(canonical))
	var refResp apiResponse
	if err := json.Unmarshal(ref, &refResp); err != nil || len(refResp.Data) == 0 {
		t.Fatalf("canonical: %v %.200s", err, ref)
	}
	filtersText := `{"service":{"eq":[11161,20893]},"date":{"range":{"start":"` + i64(lo) + `","end":` + i64(hi) + `}}}`
	form := url.Values{"filters": {filtersText}, "isScan": {"True"}, "limit": {"600"}}
	cases := []struct {
		name, method, query, contentType, body string
	}{
		{"GET with JSON body", http.MethodGet, "", "application/json", canonical},
		{"POST without content type", http.MethodPost, "", "", canonical},
		{"query string", http.MethodGet, "?" + form.Encode(), "", ""},
		{"form", http.MethodPost, "", "application/x-www-form-urlencoded", form.Encode()},
		{"strings and scalars", http.MethodPost, "", "application/json",
			`{"filters":` + filtersText + `,"isScan":"True","limit":"600"}`},
		{"range list of one, eq scalar", http.MethodPost, "", "application/json",
			`{"filters":{"service":{"eq":[11161,20893]},"date":{"range":{"start":` + i64(lo) + `,"end":` + i64(hi) + `}}},"isScan":true,"limit":600.0}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st, _, b := call(t, c.method, s.URL+"/api/v1/activities/"+c.query, s.Token, c.contentType, []byte(c.body))
			if st != 200 {
				t.Fatalf("%d %s", st, b)
			}
			var r apiResponse
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			if r.Total != refResp.Total || len(r.Data) != len(refResp.Data) || string(r.Data[0]) != string(refResp.Data[0]) {
				t.Fatalf("differs from canonical: total %d/%d, %d/%d records", r.Total, refResp.Total, len(r.Data), len(refResp.Data))
			}
		})
	}
	// A scalar eq matches like a list of one.
	one := postJSON(t, s, map[string]any{"filters": map[string]any{"service": map[string]any{"eq": 20893}}, "limit": 5})
	list := postJSON(t, s, map[string]any{"filters": map[string]any{"service": map[string]any{"eq": []any{"20893"}}}, "limit": 5})
	if one.Total == 0 || one.Total != list.Total || string(one.Data[0]) != string(list.Data[0]) {
		t.Fatalf("scalar eq total %d, list eq total %d", one.Total, list.Total)
	}
}

func i64(v int64) string { return strconv.FormatInt(v, 10) }

// TestLogsNoCredentials: the request log names method, path and status, never a token or secret.
func TestLogsNoCredentials(t *testing.T) {
	var logBuf testkit.Buffer
	s, _ := newTestServer(t, Config{ClientSecret: "secret-for-log-test", Logger: slog.New(slog.NewTextHandler(&logBuf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	call(t, http.MethodGet, s.URL+"/api/v1/activities/?limit=1", s.Token, "", nil)
	call(t, http.MethodGet, s.URL+"/api/v1/activities/?limit=1", "wrong-token-for-log-test", "", nil)
	resp, err := http.PostForm(s.TokenURL(), url.Values{"grant_type": {"client_credentials"}, "client_id": {s.ClientID()},
		"client_secret": {"secret-for-log-test"}, "scope": {APIScope}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v1/activities/?limit=1", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
	logged := logBuf.String()
	if strings.Count(logged, "status=") != 4 || !strings.Contains(logged, "status=403") {
		t.Fatalf("log does not record the requests: %s", logged)
	}
	for _, secret := range []string{s.Token, "wrong-token-for-log-test", "secret-for-log-test", tok.AccessToken} {
		if secret == "" || strings.Contains(logged, secret) {
			t.Fatalf("log holds a credential (%d chars) or none was issued: %s", len(secret), logged)
		}
	}
}

// TestPageLatency: a page waits PageLatency scaled by its size (real time, kept tiny here).
func TestPageLatency(t *testing.T) {
	s, _ := newTestServer(t, Config{PageLatency: 400 * time.Millisecond})
	timed := func(limit int) (time.Duration, int) {
		start := time.Now()
		r := postJSON(t, s, map[string]any{"isScan": true, "limit": limit, "filters": map[string]any{"date": map[string]any{"lt": burstAt.UnixMilli()}}})
		return time.Since(start), len(r.Data)
	}
	d, n := timed(1000)
	// 400 ms per 5000 records → at least 70 ms for the ~990 records of this page.
	if want := 400 * time.Millisecond * time.Duration(n) / 5000; d < want || n < 900 {
		t.Fatalf("page of %d records took %v, want at least %v", n, d, want)
	}
}
