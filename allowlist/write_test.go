package allowlist

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdd puts entries into files of every shape: none, without the section, with the section
// but not the list, with a one-line list and with a multi-line one. Comments and other entries
// stay, and the result matches the value.
func TestAdd(t *testing.T) {
	invs := []string{"impossible-travel", "mail-forwarding"}
	cases := []struct {
		name, text, scope, list, value, want string
	}{
		{"no file", "", "impossible-travel", Users, "ann@contoso.com",
			"[investigation.impossible-travel]\nusers = [\"ann@contoso.com\"]  # note\n"},
		{"other section", "# ours\n[global]\napps = [\"Teams\"]\n", "", Users, "bob@contoso.com",
			"# ours\n[global]\nusers = [\"bob@contoso.com\"]  # note\napps = [\"Teams\"]\n"},
		{"one-line list", "[global]\nusers = [\"a@x.com\"] # keep\n[investigation.mail-forwarding]\n", "", Users, "b@x.com",
			"[global]\nusers = [\"a@x.com\", \"b@x.com\"] # keep\n[investigation.mail-forwarding]\n"},
		{"empty list", "[global]\nip_ranges = []\n", "", IPRanges, "203.0.113.7",
			"[global]\nip_ranges = [\"203.0.113.7\"]  # note\n"},
		{"multi-line list", "[investigation.mail-forwarding]\ndomains = [\n  \"a.example\",\n]\n", "mail-forwarding", Domains, "b.example",
			"[investigation.mail-forwarding]\ndomains = [\n  \"a.example\",\n  \"b.example\",  # note\n]\n"},
		{"section missing", "[global]\nusers = [\"a@x.com\"]\n", "mail-forwarding", Domains, "p.example",
			"[global]\nusers = [\"a@x.com\"]\n\n[investigation.mail-forwarding]\ndomains = [\"p.example\"]  # note\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), FileName)
			if tc.text != "" {
				if err := os.WriteFile(path, []byte(tc.text), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			if err := Add(path, tc.scope, tc.list, tc.value, "note", invs); err != nil {
				t.Fatal(err)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tc.want {
				t.Errorf("file:\n%s\nwant:\n%s", got, tc.want)
			}
			l, err := Load(path, invs)
			if err != nil {
				t.Fatal(err)
			}
			inv := tc.scope
			if inv == "" {
				inv = "impossible-travel"
			}
			if l.Match(inv, kindOf(tc.list), tc.value) == nil {
				t.Errorf("%s does not match after Add", tc.value)
			}
			if st, _ := os.Stat(path); tc.text != "" && st.Mode().Perm() != 0o640 {
				t.Errorf("mode %v, want the file's 0640 kept", st.Mode().Perm())
			}
		})
	}
	// A value the list refuses leaves the file as it was.
	path := filepath.Join(t.TempDir(), FileName)
	os.WriteFile(path, []byte("[global]\n"), 0o600)
	err := Add(path, "", IPRanges, "not-an-address", "", invs)
	if err == nil || !strings.Contains(err.Error(), "not-an-address") {
		t.Errorf("bad address: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "[global]\n" {
		t.Errorf("file changed by a refused Add: %q", b)
	}
}
