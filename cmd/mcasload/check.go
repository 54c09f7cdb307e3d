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

// connectionFlags are the flags that say where the API is and how to authenticate; check and
// scan share them. No flag takes a secret: tokens and client secrets come from the environment
// or from files, never from a command line that ps and shell history would show.
func connectionFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "url", Usage: "the tenant's API `URL` from the portal (Settings > Cloud Apps > About), e.g. https://contoso.eu2.portal.cloudappsecurity.com", EnvVars: []string{"MCAS_URL"}},
		&cli.StringFlag{Name: "token-file", Usage: "read the legacy API token from `FILE` (default: the MCAS_TOKEN environment variable)"},
		&cli.StringFlag{Name: "tenant-id", Usage: "Entra ID tenant `ID` for app authentication (client credentials)"},
		&cli.StringFlag{Name: "client-id", Usage: "Entra ID application (client) `ID`"},
		&cli.StringFlag{Name: "client-secret-file", Usage: "read the Entra client secret from `FILE` (default: the MCAS_CLIENT_SECRET environment variable)"},
		&cli.StringFlag{Name: "authority-url", Value: mcas.DefaultAuthorityURL, Usage: "Entra ID authority `URL` (https://login.microsoftonline.us for US Government)"},
		&cli.StringFlag{Name: "ca-file", Usage: "trust the private CA certificates in PEM `FILE` as well as the system's (TLS is always verified)"},
	}
}

// mcasConfig builds the client config from the connection flags and MCAS_TOKEN /
// MCAS_CLIENT_SECRET. Missing or conflicting settings are usage errors; unreadable secret files
// are authentication errors (exit 5).
func (e *env) mcasConfig(c *cli.Context) (mcas.Config, error) {
	cfg := mcas.Config{URL: c.String("url"), CAFile: c.String("ca-file"), UserAgent: "mcasload/" + version}
	if cfg.URL == "" {
		return cfg, usageErrorf("no API URL: pass --url or set MCAS_URL to the API URL from the portal (Settings > Cloud Apps > About)")
	}
	tenant, client := c.String("tenant-id"), c.String("client-id")
	entra := tenant != "" || client != "" || c.String("client-secret-file") != ""
	switch {
	case entra && c.String("token-file") != "":
		return cfg, usageErrorf("choose one credential: --token-file (legacy token) or --tenant-id/--client-id (Entra app), not both")
	case entra:
		if tenant == "" || client == "" {
			return cfg, usageErrorf("Entra app authentication needs both --tenant-id and --client-id")
		}
		var secret mcas.Secret
		if f := c.String("client-secret-file"); f != "" {
			var err error
			if secret, err = readSecret(f); err != nil {
				return cfg, withCode(exitAuth, err, "the file should hold the client secret on one line")
			}
		} else if v := e.getenv("MCAS_CLIENT_SECRET"); v != "" {
			secret = mcas.NewSecret(v)
		} else {
			return cfg, usageErrorf("no Entra client secret: set MCAS_CLIENT_SECRET or pass --client-secret-file")
		}
		cfg.Auth = mcas.EntraAuth{TenantID: tenant, ClientID: client, Secret: secret, AuthorityURL: c.String("authority-url")}
	case c.String("token-file") != "":
		a, err := mcas.TokenFromFile(c.String("token-file"))
		if err != nil {
			return cfg, withCode(exitAuth, err, "the file should hold the API token on one line")
		}
		cfg.Auth = a
	case e.getenv("MCAS_TOKEN") != "":
		cfg.Auth = mcas.TokenAuth{Token: mcas.NewSecret(e.getenv("MCAS_TOKEN"))}
	default:
		return cfg, usageErrorf("no credentials: set MCAS_TOKEN or pass --token-file, or use an Entra app with --tenant-id, --client-id and MCAS_CLIENT_SECRET")
	}
	return cfg, nil
}

// readSecret reads a one-line secret file through the mcas package's reader, so the value is
// wrapped as a Secret from the start.
func readSecret(path string) (mcas.Secret, error) {
	a, err := mcas.TokenFromFile(path)
	return a.Token, err
}

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
				if errors.Is(err, mcas.ErrAuth) {
					return withCode(exitAuth, err, "")
				}
				return withCode(exitFailure, err, "")
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
	line(r.TokenOK, "credential", r.AuthKind)
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
	var apiErr *mcas.APIError
	if errors.As(r.Err, &apiErr) {
		// The API error already says what to do.
		code := exitFailure
		if errors.Is(r.Err, mcas.ErrAuth) {
			code = exitAuth
		}
		return withCode(code, r.Err, "")
	}
	switch {
	case errors.Is(r.Err, mcas.ErrPermission):
		return withCode(exitAuth, r.Err, "give the token's user or the Entra app the Investigation.read permission")
	case errors.Is(r.Err, mcas.ErrAuth):
		return withCode(exitAuth, r.Err, "") // the error names what to check
	case r.Throttled:
		return withCode(exitFailure, r.Err, "wait a minute and run check again; another tool may be using the tenant's budget")
	case !r.Reachable:
		return withCode(exitFailure, r.Err, "check --url, the network, HTTPS_PROXY and --ca-file")
	}
	return withCode(exitFailure, r.Err, "")
}
