package allowlist

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var names = []string{"mail-forwarding", "admin-untrusted-ip", "impossible-travel"}

const sample = `
[tenant]
min_users = 3
own_domains = ["Contoso.co.uk"]
not_own_domains = ["gmail.com"]

[global]
users = ["svc-backup@contoso.com"]
ip_ranges = ["192.168.1.0/24", "2001:db8::/32", "203.0.113.7"]
apps = ["Microsoft Teams"]

[investigation.mail-forwarding]
domains = ["partner.example"]
rule_names = ["Newsletters"]
`

func TestParseAndMatch(t *testing.T) {
	l, err := Parse([]byte(sample), names)
	if err != nil {
		t.Fatal(err)
	}
	if l.MinUsers != 3 || !slices.Equal(l.OwnDomains, []string{"contoso.co.uk"}) || !slices.Equal(l.NotOwnDomains, []string{"gmail.com"}) || l.Len() != 7 {
		t.Fatalf("parsed %+v (%d entries)", l, l.Len())
	}
	for _, c := range []struct {
		inv, kind, value string
		want             string // the entry's value, "" for none
	}{
		{"mail-forwarding", "user", "SVC-Backup@contoso.com", "svc-backup@contoso.com"},
		{"impossible-travel", "user", "svc-backup@contoso.co", ""},
		{"admin-untrusted-ip", "ip", "192.168.1.20", "192.168.1.0/24"},
		{"admin-untrusted-ip", "ip", "192.168.10.5", ""}, // a text prefix, not inside the network
		{"admin-untrusted-ip", "ip", "2001:db8:1::5", "2001:db8::/32"},
		{"admin-untrusted-ip", "ip", "::ffff:192.168.1.9", "192.168.1.0/24"},
		{"admin-untrusted-ip", "ip", "203.0.113.7", "203.0.113.7"},
		{"admin-untrusted-ip", "ip", "203.0.113.8", ""},
		{"admin-untrusted-ip", "ip", "not an address", ""},
		{"mail-forwarding", "domain", "partner.example", "partner.example"},
		{"mail-forwarding", "domain", "eu.partner.example", "partner.example"},
		{"mail-forwarding", "domain", "bob@mail.partner.example", "partner.example"},
		{"mail-forwarding", "domain", "notpartner.example", ""},
		{"admin-untrusted-ip", "domain", "partner.example", ""}, // another investigation's entry
		{"mail-forwarding", "rule", "newsletters", "Newsletters"},
		{"impossible-travel", "app", "microsoft teams", "Microsoft Teams"},
		{"impossible-travel", "object", "anything", ""},
		{"impossible-travel", "user", "", ""},
	} {
		e := l.Match(c.inv, c.kind, c.value)
		got := ""
		if e != nil {
			got = e.Value
		}
		if got != c.want {
			t.Errorf("Match(%s, %s, %q) = %q, want %q", c.inv, c.kind, c.value, got, c.want)
		}
	}
	if e := l.Match("mail-forwarding", "domain", "partner.example"); e.Scope != "mail-forwarding" || e.Kind != Domains {
		t.Errorf("entry %+v: want the mail-forwarding section's domains", e)
	}
}

func TestParseRefusesWhatItWouldIgnore(t *testing.T) {
	for name, c := range map[string]struct{ text, want string }{
		"unknown key":           {"[global]\nuser = [\"a@b.com\"]\n", `unknown key "global.user"; accepted:`},
		"unknown section":       {"[globals]\nusers = []\n", `unknown key "globals"`},
		"unknown investigation": {"[investigation.mail-forwardng]\nusers = [\"a@b.com\"]\n", "no such investigation; accepted: mail-forwarding"},
		"text prefix":           {"[global]\nip_ranges = [\"192.168.1\"]\n", `"192.168.1" is neither a network in CIDR notation`},
		"bad cidr":              {"[global]\nip_ranges = [\"10.0.0.0/33\"]\n", "not a network in CIDR notation"},
		"address as domain":     {"[global]\ndomains = [\"bob@contoso.com\"]\n", "is not a domain name"},
		"empty user":            {"[global]\nusers = [\" \"]\n", "an empty value would match nothing"},
		"negative min_users":    {"[tenant]\nmin_users = -1\n", "give a count of users"},
		"not toml":              {"users = [\n[global\n", "line 2"},
		"wrong type":            {"[global]\nusers = \"a@b.com\"\n", "invalid allow-list"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(c.text), names)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse = %v, want ErrInvalid mentioning %q", err, c.want)
			}
		})
	}
}

func TestLoadNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte("[global]\nusers = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, names); err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Load = %v, want an error naming %s", err, path)
	}
	if err := os.WriteFile(path, []byte(sample), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := Load(path, names)
	if err != nil || l.Path != path {
		t.Fatalf("Load = %+v, %v", l, err)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml"), names); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load of a missing file = %v, want ErrNotExist", err)
	}
}

func TestEmptyMatchesNothing(t *testing.T) {
	l := Empty()
	if l.MinUsers != DefaultMinUsers || l.Len() != 0 || l.Match("x", "user", "a@b.com") != nil {
		t.Fatalf("Empty() = %+v", l)
	}
	var none *List
	if none.Len() != 0 || none.Match("x", "ip", "10.0.0.1") != nil {
		t.Fatal("a nil list matches")
	}
}

func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("[global]\nip_ranges = [\"::/0\"]\n")
	f.Add("[tenant]\nmin_users = 0\n")
	f.Fuzz(func(t *testing.T, text string) {
		l, err := Parse([]byte(text), names)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		if l.MinUsers < 1 {
			t.Fatalf("min_users %d accepted", l.MinUsers)
		}
		for _, inv := range names {
			for _, e := range l.Entries(inv) {
				// every entry matches its own value (a range its own address)
				v := e.Value
				kind := map[string]string{Users: "user", IPRanges: "ip", Domains: "domain", Apps: "app", RuleNames: "rule"}[e.Kind]
				if e.Kind == IPRanges {
					v = e.pfx.Addr().String()
				}
				if l.Match(inv, kind, v) == nil {
					t.Fatalf("entry %+v does not match %q", e, v)
				}
			}
		}
	})
}
