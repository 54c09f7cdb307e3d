package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/mcas"
)

func (e *env) checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "test the API URL, credentials, permissions and remaining rate budget without loading anything",
		Flags: connectionFlags(),
		Action: func(c *cli.Context) error {
			log, err := e.logger(c)
			if err != nil {
				return err
			}
			cfg, err := e.mcasConfig(c)
			if err != nil {
				return err
			}
			cfg.Logger = log
			client, err := mcas.NewClient(cfg)
			if err != nil {
				return clientSetupError(err, exitFailure)
			}
			res := client.Check(c.Context)
			printCheck(e.stdout, res, client.Limiter())
			return checkError(res)
		},
	}
}

// printCheck writes one line per step: what works, what does not.
func printCheck(w io.Writer, r mcas.CheckResult, lim *mcas.Limiter) {
	line := func(ok bool, what, detail string) {
		mark := "ok  "
		if !ok {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s  %-11s %s\n", mark, what, detail)
	}
	skip := func(what, why string) { fmt.Fprintf(w, "--    %-11s %s\n", what, why) }
	line(r.TokenOK, "credential", credentialText(r))
	if !r.TokenOK {
		skip("url", "not tested without a credential")
		return
	}
	if r.Reachable {
		how := "answered"
		if strings.HasPrefix(r.Endpoint, "https://") {
			how = "answered over verified TLS"
		}
		line(true, "url", fmt.Sprintf("%s %s in %s", r.Endpoint, how, r.Latency.Round(time.Millisecond)))
	} else {
		line(false, "url", r.Endpoint+" did not answer")
		return
	}
	var apiErr *mcas.APIError
	switch {
	case r.Authorized:
		line(true, "permission", fmt.Sprintf("may list activities (about %d in the last 30 days)", r.Total))
	case r.Throttled:
		skip("permission", "not tested: the service is throttling this tenant")
	case errors.As(r.Err, &apiErr) && apiErr.Status != http.StatusUnauthorized && apiErr.Status != http.StatusForbidden:
		line(false, "request", fmt.Sprintf("HTTP %d", apiErr.Status))
	default:
		line(false, "permission", "the service refused the credential")
	}
	if r.Reachable && r.Authorized {
		printClock(w, r.Service)
	}
	n, window := lim.Limit()
	remaining, wait := r.Remaining, r.Wait
	if remaining > 0 {
		line(true, "budget", fmt.Sprintf("%d of %d requests left in the current %s window (counted by mcasload; other tools using this tenant share the budget)", remaining, n, windowText(window)))
	} else {
		line(false, "budget", fmt.Sprintf("exhausted; the next request may go in %s", wait.Round(time.Second)))
	}
}

// printClock reports the skew between the local clock and the service's: scans follow the
// service's, so a skew costs nothing, but it explains times that differ from the machine's.
func printClock(w io.Writer, st mcas.ServiceTime) {
	skew := st.Skew()
	switch {
	case st.Source != mcas.TimeFromDate:
		fmt.Fprintf(w, "warn  %-11s the service sent no usable Date header; scans take its time from records' created\n", "clock")
	case skew > mcas.SkewReported:
		fmt.Fprintf(w, "warn  %-11s the local clock is about %s behind the service's (%s); scans follow the service's clock\n", "clock", skew.Round(time.Minute), st.At.Format(time.RFC3339))
	case skew < -mcas.SkewReported:
		fmt.Fprintf(w, "warn  %-11s the local clock is about %s ahead of the service's (%s); scans follow the service's clock\n", "clock", (-skew).Round(time.Minute), st.At.Format(time.RFC3339))
	default:
		fmt.Fprintf(w, "ok    %-11s in step with the service's Date header (within a minute)\n", "clock")
	}
}

// windowText says "60 s" rather than Go's "1m0s".
func windowText(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
}

// checkError turns the first failure into an exit code and a hint.
func checkError(r mcas.CheckResult) error {
	if r.Err == nil {
		return nil
	}
	code := exitFailure
	if errors.Is(r.Err, mcas.ErrAuth) {
		code = exitAuth
	}
	hint := clientHint(r.Err)
	switch {
	case r.Throttled:
		hint = "the tenant's request budget is exhausted; wait a minute and run check again; another tool may be using the tenant's budget"
	case hint != "":
	case errors.Is(r.Err, mcas.ErrPermission):
		hint = "give the token's user or the Entra app the Investigation.read permission"
	case !r.Reachable:
		hint = "check --url, the network, HTTPS_PROXY and --ca-file"
	}
	return withCode(code, r.Err, hint)
}
