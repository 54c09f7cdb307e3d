// Package allowlist reads the analyst's allow-list, a TOML file that says which findings of the
// detections are known and benign: users, IP ranges, domains (with their subdomains), apps and
// rule names, for every detection or for one; and the edits to the tenant's own mail domains. A
// row the list matches is suppressed, never dropped unseen: the caller counts it per entry.
//
//	[tenant]
//	min_users = 5                          # a sign-in domain of at least this many users is the tenant's own
//	own_domains = ["contoso.co.uk"]        # added to those found
//	not_own_domains = ["gmail.com"]        # taken out of those found
//
//	[global]                               # every detection
//	users = ["svc-backup@contoso.com"]
//	ip_ranges = ["203.0.113.0/24", "2001:db8::/32"]
//	domains = ["partner.example"]          # and every subdomain of it
//	apps = ["Microsoft Teams"]
//	rule_names = ["Newsletters"]
//
//	[investigation.mail-forwarding]        # one detection
//	domains = ["payroll-provider.example"]
//
// The format is documented for users in docs/allow-list.md.
package allowlist

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// DefaultMinUsers is how many distinct users must have signed in successfully with a domain in
// their sign-in name for it to count as one of the tenant's own domains: enough that a few guests
// or consultants signing in with their own company's address do not make it internal.
const DefaultMinUsers = 5

// FileName is the allow-list's name inside a warehouse folder, read when no --allow-list is given.
const FileName = "allow-list.toml"

// Kinds of entries, as the file names them.
const (
	Users     = "users"
	IPRanges  = "ip_ranges"
	Domains   = "domains"
	Apps      = "apps"
	RuleNames = "rule_names"
)

// EntryKind maps an investigation's entity kind (its header's entities line) to the list of
// entries that can suppress it.
var EntryKind = map[string]string{"user": Users, "ip": IPRanges, "domain": Domains, "app": Apps, "rule": RuleNames}

// Entries are the lists of one section, as written in the file.
type Entries struct {
	Users     []string `toml:"users"`
	IPRanges  []string `toml:"ip_ranges"`
	Domains   []string `toml:"domains"`
	Apps      []string `toml:"apps"`
	RuleNames []string `toml:"rule_names"`
}

// Tenant holds the edits to the tenant's own domains.
type Tenant struct {
	MinUsers      int      `toml:"min_users"`
	OwnDomains    []string `toml:"own_domains"`
	NotOwnDomains []string `toml:"not_own_domains"`
}

// File is the allow-list file as written.
type File struct {
	Tenant         Tenant             `toml:"tenant"`
	Global         Entries            `toml:"global"`
	Investigations map[string]Entries `toml:"investigation"`
}

// List is a checked allow-list, ready to match rows.
type List struct {
	// Path is the file it was read from ("" for an empty list).
	Path string
	// MinUsers, OwnDomains and NotOwnDomains say which domains are the tenant's own.
	MinUsers                  int
	OwnDomains, NotOwnDomains []string
	// sections: "global" first, then one per investigation.
	sections map[string][]*Entry
}

// Entry is one value of one list; Match reports the entry that suppressed a row.
type Entry struct {
	Scope string // "global" or an investigation's name
	Kind  string // Users, IPRanges, Domains, Apps or RuleNames
	Value string // as written
	pfx   netip.Prefix
}

// ErrInvalid is returned (wrapped) for a file that does not parse or holds unknown keys or bad
// values; the message names the line or key and what is accepted.
var ErrInvalid = errors.New("invalid allow-list")

// Empty is the list that suppresses nothing, with the default tenant settings.
func Empty() *List {
	return &List{MinUsers: DefaultMinUsers, sections: map[string][]*Entry{}}
}

// Load reads and checks the allow-list at path. investigations are the names a section may take.
func Load(path string, investigations []string) (*List, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read allow-list: %w", err)
	}
	l, err := Parse(b, investigations)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	l.Path = path
	return l, nil
}

// Parse checks an allow-list's text. Unknown keys and sections are refused, with the accepted
// ones named, so a typo never silently suppresses nothing.
func Parse(text []byte, investigations []string) (*List, error) {
	var f File
	md, err := toml.NewDecoder(bytes.NewReader(text)).Decode(&f)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%w: line %d: %s", ErrInvalid, pe.Position.Line, pe.Message)
		}
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if undecoded := md.Undecoded(); len(undecoded) > 0 {
		return nil, fmt.Errorf("%w: unknown key %q; accepted: [tenant] min_users, own_domains, not_own_domains; "+
			"[global] and [investigation.NAME] users, ip_ranges, domains, apps, rule_names", ErrInvalid, undecoded[0].String())
	}
	l := Empty()
	if f.Tenant.MinUsers < 0 {
		return nil, fmt.Errorf("%w: [tenant] min_users %d: give a count of users (default %d)", ErrInvalid, f.Tenant.MinUsers, DefaultMinUsers)
	}
	if f.Tenant.MinUsers > 0 {
		l.MinUsers = f.Tenant.MinUsers
	}
	for _, d := range f.Tenant.OwnDomains {
		if d, err = domain(d); err != nil {
			return nil, fmt.Errorf("%w: [tenant] own_domains: %w", ErrInvalid, err)
		}
		l.OwnDomains = append(l.OwnDomains, d)
	}
	for _, d := range f.Tenant.NotOwnDomains {
		if d, err = domain(d); err != nil {
			return nil, fmt.Errorf("%w: [tenant] not_own_domains: %w", ErrInvalid, err)
		}
		l.NotOwnDomains = append(l.NotOwnDomains, d)
	}
	if err := l.add("global", f.Global); err != nil {
		return nil, err
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range f.Investigations {
			if !yield(n) {
				return
			}
		}
	})
	for _, name := range names {
		if !slices.Contains(investigations, name) {
			return nil, fmt.Errorf("%w: [investigation.%s]: no such investigation; accepted: %s", ErrInvalid, name, strings.Join(investigations, ", "))
		}
		if err := l.add(name, f.Investigations[name]); err != nil {
			return nil, err
		}
	}
	return l, nil
}

func (l *List) add(scope string, e Entries) error {
	for _, kv := range []struct {
		kind   string
		values []string
	}{{Users, e.Users}, {IPRanges, e.IPRanges}, {Domains, e.Domains}, {Apps, e.Apps}, {RuleNames, e.RuleNames}} {
		for _, v := range kv.values {
			en := &Entry{Scope: scope, Kind: kv.kind, Value: v}
			switch kv.kind {
			case IPRanges:
				p, err := ParsePrefix(v)
				if err != nil {
					return fmt.Errorf("%w: [%s] ip_ranges: %w", ErrInvalid, section(scope), err)
				}
				en.pfx = p
			case Domains:
				if _, err := domain(v); err != nil {
					return fmt.Errorf("%w: [%s] domains: %w", ErrInvalid, section(scope), err)
				}
			default:
				if strings.TrimSpace(v) == "" {
					return fmt.Errorf("%w: [%s] %s: an empty value would match nothing", ErrInvalid, section(scope), kv.kind)
				}
			}
			l.sections[scope] = append(l.sections[scope], en)
		}
	}
	return nil
}

func section(scope string) string {
	if scope == "global" {
		return scope
	}
	return "investigation." + scope
}

// ParsePrefix reads a network in CIDR notation, or a bare address as its own /32 or /128, and
// returns it masked (10.1.2.3/8 is 10.0.0.0/8); an IPv4-mapped IPv6 network is its IPv4 one.
func ParsePrefix(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "/") {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is neither a network in CIDR notation (203.0.113.0/24) nor an address", s)
		}
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not a network in CIDR notation (203.0.113.0/24, 2001:db8::/32)", s)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

// domain checks a domain name and returns it in lower case without a leading dot, nor the
// trailing dot of its fully qualified form ("0." kept it and matched nothing: FuzzParse).
func domain(s string) (string, error) {
	d := strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "."), ".")
	if d == "" || strings.ContainsAny(d, "@/ :") || !strings.Contains(d, ".") {
		return "", fmt.Errorf("%q is not a domain name (contoso.com)", s)
	}
	return d, nil
}

// Entries lists the entries that apply to investigation inv: the global ones, then its own.
func (l *List) Entries(inv string) []*Entry {
	if l == nil {
		return nil
	}
	return append(slices.Clip(l.sections["global"]), l.sections[inv]...)
}

// Len is the number of entries in the list.
func (l *List) Len() int {
	if l == nil {
		return 0
	}
	n := 0
	for _, s := range l.sections {
		n += len(s)
	}
	return n
}

// Match reports the entry that allows value, one of an investigation's values of entity kind
// (user, ip, domain, app, rule), or nil. A domain value may be an address (the part after @ is
// compared) and matches an entry for it or for any parent domain.
func (l *List) Match(inv, kind, value string) *Entry {
	list, ok := EntryKind[kind]
	if !ok || l == nil {
		return nil
	}
	value = strings.TrimSpace(value)
	if value == "" {
		return nil
	}
	var addr netip.Addr
	if list == IPRanges {
		a, err := netip.ParseAddr(value)
		if err != nil {
			return nil
		}
		addr = a.Unmap()
	}
	for _, e := range l.Entries(inv) {
		if e.Kind != list {
			continue
		}
		switch list {
		case IPRanges:
			if e.pfx.Contains(addr) {
				return e
			}
		case Domains:
			if InDomain(value, e.Value) {
				return e
			}
		default:
			if strings.EqualFold(value, strings.TrimSpace(e.Value)) {
				return e
			}
		}
	}
	return nil
}

// InDomain reports whether name (a domain or an e-mail address) is domain d or a subdomain of it.
func InDomain(name, d string) bool {
	if _, after, ok := strings.Cut(name, "@"); ok {
		name = after
	}
	name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	d = strings.TrimSuffix(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(d)), "."), ".")
	return d != "" && (name == d || strings.HasSuffix(name, "."+d))
}
