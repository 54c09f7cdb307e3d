package mcas

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/clock"
)

func TestCheck(t *testing.T) {
	tests := []struct {
		name                     string
		fault                    http.HandlerFunc
		auth                     func(string) int
		closed                   bool
		reachable, authorized    bool
		throttled, errAuth, errs bool
	}{
		{name: "works", reachable: true, authorized: true},
		{name: "bad token", auth: func(string) int { return 403 }, reachable: true, errAuth: true, errs: true},
		{name: "throttled", fault: statusFault(429, "Request was throttled. Expected available in 40 seconds."), reachable: true, throttled: true, errs: true},
		{name: "server error", fault: statusFault(500, "oops"), reachable: true, errs: true},
		{name: "unreachable", closed: true, errs: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A clock that never moves on its own: Check must not wait for anything.
			clk := clock.NewVirtual(epoch, false)
			api, srv := newFakeAPI(t, clk, genRecords(7, epoch.UnixMilli(), nil))
			api.auth = tt.auth
			if tt.fault != nil {
				api.fault(tt.fault)
			}
			if tt.closed {
				srv.Close()
			}
			c, _ := testClient(t, srv.URL, clk, nil)
			res := c.Check(t.Context())
			if res.Reachable != tt.reachable || res.Authorized != tt.authorized || res.Throttled != tt.throttled {
				t.Errorf("reachable=%v authorized=%v throttled=%v, want %v %v %v (err %v)",
					res.Reachable, res.Authorized, res.Throttled, tt.reachable, tt.authorized, tt.throttled, res.Err)
			}
			if (res.Err != nil) != tt.errs || errors.Is(res.Err, ErrAuth) != tt.errAuth {
				t.Errorf("err = %v, want error=%v auth=%v", res.Err, tt.errs, tt.errAuth)
			}
			if tt.authorized && (res.Total != 7 || res.Remaining != 29) {
				t.Errorf("total %d, remaining %d; want 7 and 29", res.Total, res.Remaining)
			}
			if tt.throttled && (res.Remaining != 0 || res.Wait.Seconds() != 40) {
				t.Errorf("throttled: remaining %d wait %v, want 0 and 40s", res.Remaining, res.Wait)
			}
			if n := len(api.log()); !tt.closed && n != 1 {
				t.Errorf("%d requests, want 1", n)
			}
		})
	}
}

func TestCheckEntraRefused(t *testing.T) {
	clk := clock.NewVirtual(epoch, false)
	entra, esrv, ca := newFakeEntra(t)
	entra.refuse = "AADSTS700016: Application not found in the directory."
	api, srv := newFakeAPI(t, clk, nil)
	c, _ := entraClient(t, srv.URL, esrv, ca, clk)
	res := c.Check(t.Context())
	if res.TokenOK || !errors.Is(res.Err, ErrAuth) || len(api.log()) != 0 {
		t.Fatalf("TokenOK=%v err=%v requests=%d; want false, ErrAuth, 0", res.TokenOK, res.Err, len(api.log()))
	}
	if res.AuthKind != "entra client secret" || !strings.Contains(res.Err.Error(), "AADSTS700016") {
		t.Errorf("AuthKind %q, error %v: want the method and Entra's reason", res.AuthKind, res.Err)
	}
}
