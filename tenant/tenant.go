// Package tenant names the tenants one warehouse holds. Every row, watermark, run, reject and
// Parquet folder (parquet/<table>/tenant=<label>/day=…) carries a tenant label; this package says
// what a label may be, where a scan's label comes from by default, and how readers select
// tenants. It is the one place those rules live, so every table and command applies them alike.
package tenant

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
)

// Default is the label of rows whose tenant nobody named: a load into an empty warehouse without
// --tenant-label, and rows loaded from files before tenants existed.
const Default = "default"

// Simulator is the label a scan of a loopback URL gets by default: the simulator's port changes
// from run to run, so its host names no tenant (the warehouse recorded the source the same way).
const Simulator = "simulator"

// MaxLen is the longest label: a DNS label's length, so a portal tenant name always fits.
const MaxLen = 63

// ErrBadLabel is wrapped by Parse for a label outside the accepted alphabet.
var ErrBadLabel = errors.New("bad tenant label")

// portalDomains are the API host suffixes of Defender for Cloud Apps portals (commercial, US
// government, GCC, China); the DNS label before them (and before the region) is the tenant.
var portalDomains = []string{
	".portal.cloudappsecurity.com",
	".portal.cloudappsecurity.us",
	".portal.cloudappsecuritygov.com",
	".portal.cloudappsecurity.cn",
}

// Parse normalises s (surrounding space trimmed, lower case) and checks it is a label: 1 to 63
// of a-z, 0-9, '-', '_' and '.', starting with a letter or a digit. Such a label is safe as a
// path segment (tenant=<label>) and as an SQL string literal, on every file system.
func Parse(s string) (string, error) {
	l := strings.ToLower(strings.TrimSpace(s))
	if err := check(l); err != nil {
		return "", fmt.Errorf("%w %q: %w", ErrBadLabel, s, err)
	}
	return l, nil
}

// Valid reports whether s is already a normalised label (as Parse returns it).
func Valid(s string) bool { return check(s) == nil }

func check(l string) error {
	switch {
	case l == "":
		return errors.New("it is empty")
	case len(l) > MaxLen:
		return fmt.Errorf("it is %d characters long; the limit is %d", len(l), MaxLen)
	case !isAlnum(l[0]):
		return errors.New("it must start with a letter or a digit")
	}
	for i := range len(l) {
		if c := l[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return fmt.Errorf("character %q is not allowed; use letters, digits, '-', '_' and '.'", c)
		}
	}
	return nil
}

func isAlnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// FromURL derives the default label of a scan from the tenant's API URL: the first DNS label of a
// portal host (contoso.eu2.portal.cloudappsecurity.com → contoso; also the .us, gov and .cn
// portals), Simulator for a loopback host, and otherwise the host name without its port. It fails
// when the host gives no valid label (an IPv6 address, a name outside the alphabet); then the
// caller asks for --tenant-label.
func FromURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Hostname() == "" {
		return "", fmt.Errorf("derive a tenant label from %q: not a URL with a host", raw)
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
		return Simulator, nil
	}
	for _, d := range portalDomains {
		if rest, ok := strings.CutSuffix(host, d); ok && rest != "" {
			host, _, _ = strings.Cut(rest, ".")
			break
		}
	}
	l, err := Parse(host)
	if err != nil {
		return "", fmt.Errorf("derive a tenant label from the host of %s: %w", u.Redacted(), err)
	}
	return l, nil
}

// ParseSelection reads the values of a repeatable selection flag, each a label or a
// comma-separated list of labels, into sorted unique labels. No value selects every tenant
// (nil).
func ParseSelection(values []string) ([]string, error) {
	var out []string
	for _, v := range values {
		for _, part := range strings.Split(v, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			l, err := Parse(part)
			if err != nil {
				return nil, err
			}
			out = append(out, l)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Selected reports whether label is in selection (nil or empty selects every label).
func Selected(selection []string, label string) bool {
	return len(selection) == 0 || slices.Contains(selection, label)
}
