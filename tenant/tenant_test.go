package tenant

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bad      bool
	}{
		{in: "contoso", want: "contoso"},
		{in: "  Contoso-EU ", want: "contoso-eu"},
		{in: "a.b_c-9", want: "a.b_c-9"},
		{in: "0day", want: "0day"},
		{in: strings.Repeat("a", 63), want: strings.Repeat("a", 63)},
		{in: strings.Repeat("a", 64), bad: true},
		{in: "", bad: true},
		{in: "   ", bad: true},
		{in: ".", bad: true},
		{in: "..", bad: true},
		{in: ".hidden", bad: true},
		{in: "-x", bad: true},
		{in: "a/b", bad: true},
		{in: `a\b`, bad: true},
		{in: "tenant=x", bad: true},
		{in: "a b", bad: true},
		{in: "o'brien", bad: true},
		{in: "ünï", bad: true},
		{in: "a*", bad: true},
	} {
		got, err := Parse(tc.in)
		if tc.bad {
			if err == nil || !errors.Is(err, ErrBadLabel) {
				t.Errorf("Parse(%q) = %q, %v; want ErrBadLabel", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if !Valid(got) {
			t.Errorf("Valid(%q) = false after Parse", got)
		}
	}
	if Valid("Contoso") {
		t.Error("Valid accepts upper case: labels are stored normalised")
	}
}

func TestFromURL(t *testing.T) {
	for _, tc := range []struct {
		url, want string
		bad       bool
	}{
		{url: "https://contoso.eu2.portal.cloudappsecurity.com", want: "contoso"},
		{url: "https://Contoso.EU2.Portal.CloudAppSecurity.com/api/v1/activities/", want: "contoso"},
		{url: "https://contoso.portal.cloudappsecurity.com:443", want: "contoso"},
		{url: "https://fabrikam.us3.portal.cloudappsecurity.com", want: "fabrikam"},
		{url: "https://agency.us1.portal.cloudappsecurity.us", want: "agency"},
		{url: "https://gcc-tenant.us1.portal.cloudappsecuritygov.com", want: "gcc-tenant"},
		{url: "https://cn-tenant.cn1.portal.cloudappsecurity.cn", want: "cn-tenant"},
		{url: "https://portal.cloudappsecurity.com", want: "portal.cloudappsecurity.com"},
		{url: "https://proxy.example.org:8443/mcas", want: "proxy.example.org"},
		{url: "http://127.0.0.1:41234", want: Simulator},
		{url: "http://localhost:8080", want: Simulator},
		{url: "http://[::1]:8080", want: Simulator},
		{url: "http://[2001:db8::1]:8080", bad: true},
		{url: "not a url", bad: true},
		{url: "", bad: true},
	} {
		got, err := FromURL(tc.url)
		if tc.bad != (err != nil) || got != tc.want {
			t.Errorf("FromURL(%q) = %q, %v; want %q (error %v)", tc.url, got, err, tc.want, tc.bad)
		}
	}
}

func TestParseSelection(t *testing.T) {
	got, err := ParseSelection([]string{"fabrikam,Contoso", " contoso ", "", "a,,b"})
	if err != nil || !slices.Equal(got, []string{"a", "b", "contoso", "fabrikam"}) {
		t.Errorf("ParseSelection = %v, %v", got, err)
	}
	if got, err := ParseSelection(nil); err != nil || got != nil {
		t.Errorf("empty selection = %v, %v; want nil (every tenant)", got, err)
	}
	if _, err := ParseSelection([]string{"ok,../x"}); !errors.Is(err, ErrBadLabel) {
		t.Errorf("a bad label in a list: %v", err)
	}
	if !Selected(nil, "x") || !Selected([]string{"x"}, "x") || Selected([]string{"y"}, "x") {
		t.Error("Selected disagrees with its doc")
	}
}

// FuzzParse: whatever Parse accepts is a valid, idempotent label that cannot leave its folder.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"contoso", " A.b ", "..", "tenant=x", "a/b", "\x00", strings.Repeat("z", 70)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Parse(s)
		if err != nil {
			return
		}
		if !Valid(l) || strings.ContainsAny(l, `/\=' `) || l == "." || l == ".." || strings.HasPrefix(l, ".") {
			t.Fatalf("Parse(%q) = %q, not a safe label", s, l)
		}
		if again, err := Parse(l); err != nil || again != l {
			t.Fatalf("Parse is not idempotent: %q → %q → %q, %v", s, l, again, err)
		}
	})
}

// FuzzFromURL: a derived label is always a valid one.
func FuzzFromURL(f *testing.F) {
	for _, s := range []string{"https://contoso.eu2.portal.cloudappsecurity.com", "http://127.0.0.1:1", "https://x.portal.cloudappsecurity.us", "https://.portal.cloudappsecurity.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if l, err := FromURL(s); err == nil && !Valid(l) {
			t.Fatalf("FromURL(%q) = %q, not a valid label", s, l)
		}
	})
}
