package synth

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
)

// lookalikeOwners maps every account of a look-alike to the look-alikes that list it.
func lookalikeOwners(truth GroundTruth) map[string][]Lookalike {
	out := map[string][]Lookalike{}
	for _, l := range truth.Lookalikes {
		for _, u := range append([]string{l.User}, l.Users...) {
			if !slices.ContainsFunc(out[u], func(o Lookalike) bool { return o.Kind == l.Kind }) {
				out[u] = append(out[u], l)
			}
		}
	}
	return out
}

// tenantWide are the look-alikes that reach every user the others left, so their users overlap.
var tenantWide = []string{"browser-rollout", "saas-deletes-shares"}

func TestLookalikesInGroundTruth(t *testing.T) {
	tn := tenant(t, true)
	truth := tn.GroundTruth()
	byID := map[string]*Activity{}
	for i := 0; i < tn.Len(); i++ {
		byID[tn.Activity(i).ID] = tn.Activity(i)
	}
	var kinds []string
	incidentUsers := map[string]string{}
	for _, inc := range truth.Incidents {
		for _, u := range append([]string{inc.User}, inc.Users...) {
			incidentUsers[u] = inc.Kind
		}
	}
	owner := map[string]string{}
	for _, l := range truth.Lookalikes {
		kinds = append(kinds, l.Kind)
		if len(l.IDs) == 0 || len(l.IPs) == 0 || l.User == "" || l.Detail["note"] == nil || len(l.Fools) == 0 {
			t.Fatalf("%s: incomplete %+v", l.Kind, l)
		}
		for _, f := range l.Fools {
			if !slices.Contains(Kinds, f) {
				t.Errorf("%s fools %q, which is no investigation", l.Kind, f)
			}
		}
		users := append([]string{l.User}, l.Users...)
		for _, id := range l.IDs {
			a := byID[id]
			switch {
			case a == nil:
				t.Fatalf("%s: id %s not in the data", l.Kind, id)
			case !slices.Contains(users, a.User):
				t.Fatalf("%s: record of %s, not of its users", l.Kind, a.User)
			case !slices.Contains(l.IPs, a.IP):
				t.Fatalf("%s: record from %s, not from %v", l.Kind, a.IP, l.IPs)
			case a.Timestamp < l.Start.UnixMilli() || a.Timestamp > l.End.UnixMilli():
				t.Fatalf("%s: record outside its span", l.Kind)
			case a.Created > tn.End().UnixMilli():
				t.Fatalf("%s: record not visible at End", l.Kind)
			}
		}
		if l.End.Before(tn.End().Add(-7 * 24 * time.Hour)) {
			t.Errorf("%s ends %v, before the last 7 days", l.Kind, l.End)
		}
		// Each look-alike has accounts of its own (the offboarding admin deletes for two of them),
		// apart from the tenant-wide ones, and none is an incident's.
		for _, u := range users {
			if k, ok := incidentUsers[u]; ok {
				t.Errorf("%s holds %s, a user of the %s incident", l.Kind, u, k)
			}
			if slices.Contains(tenantWide, l.Kind) || u == l.Detail["deletedBy"] || u == l.Detail["restoredBy"] {
				continue
			}
			if o, ok := owner[u]; ok && o != l.Kind {
				t.Errorf("user %s is in look-alikes %s and %s", u, o, l.Kind)
			}
			owner[u] = l.Kind
		}
	}
	if !slices.Equal(kinds, LookalikeKinds) {
		t.Errorf("look-alikes %v, want %v", kinds, LookalikeKinds)
	}
	var js bytes.Buffer
	if err := truth.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	back, err := ReadGroundTruth(&js)
	if err != nil || len(back.Lookalikes) != len(truth.Lookalikes) || !slices.Equal(back.Lookalikes[0].IDs, truth.Lookalikes[0].IDs) {
		t.Fatalf("ground truth round trip: %v", err)
	}
}

// todaysFindings are the investigations that, as research/investigations.md writes them (the Go
// transcriptions in detect_test.go), report each look-alike: the faults it exercises. The others
// of its Fools guard the fixes (a wider window, a young warehouse, Box and Google deletes once
// classified).
var todaysFindings = map[string][]string{
	"same-local-part":             {"terminated-user-activity"},
	"restored-user":               {"terminated-user-activity"},
	"corporate-vpn-egress":        {"impossible-travel", "new-country"},
	"established-traveller":       {"impossible-travel"},
	"admin-powershell":            {"new-client-fingerprint"},
	"audit-config-value-first":    nil,
	"helpdesk-resets":             nil,
	"directory-sync-account":      nil,
	"delegate-access":             {"impersonation-review"},
	"internal-forwarding":         {"mail-forwarding"},
	"inbox-rule-without-name":     {"inbox-manipulation-rules"},
	"inbox-rule-word-inside-word": {"inbox-manipulation-rules"},
	"inbox-rule-explicit-false":   {"inbox-manipulation-rules"},
	"outlook-rule-update":         {"inbox-manipulation-rules"},
	"file-conversion":             {"ransomware-pattern"},
	"encrypted-backup":            {"ransomware-pattern"},
	"saas-deletes-shares":         nil,
	"browser-rollout":             {"new-client-fingerprint"},
	"sanctioned-app-consents":     nil,
	"routine-role-grants":         nil,
	"helpdesk-mfa-reset":          nil,
	"new-hire-mfa-setup":          {"new-client-fingerprint"}, // the transcription has no learning period
	"federation-cert-rollover":    nil,
	"legal-hold-exports":          nil,
	"shared-mailbox-grants":       nil,
	"assistant-delegation":        nil,
	"typo-account-fixed":          nil,
	"it-software-share":           nil,
	"ci-build-agents":             nil,
	"friday-mailbox-cleanup":      nil,
	"developer-jump-host":         nil,
	"night-shift-payroll":         nil,
}

// charged reports whether investigation kind reporting user u counts against look-alike l: u is
// one of l's accounts (not the admin who deletes for it), and l resembles kind's findings or no
// other look-alike holding u does (a user can be in a tenant-wide look-alike and another).
func charged(l Lookalike, u, kind string, owners map[string][]Lookalike) bool {
	if u == l.Detail["deletedBy"] || u == l.Detail["restoredBy"] || !slices.ContainsFunc(owners[u], func(o Lookalike) bool { return o.Kind == l.Kind }) {
		return false
	}
	return slices.Contains(l.Fools, kind) || !slices.ContainsFunc(owners[u], func(o Lookalike) bool { return slices.Contains(o.Fools, kind) })
}

// TestLookalikesExerciseTheFaults checks each look-alike against the transcribed investigations:
// it is reported by exactly the ones that today mistake it for an incident, all among its Fools.
func TestLookalikesExerciseTheFaults(t *testing.T) {
	tn := tenant(t, true)
	found := investigations(tn)
	owners := lookalikeOwners(tn.GroundTruth())
	for _, l := range tn.GroundTruth().Lookalikes {
		var got []string
		for _, k := range Kinds {
			for _, u := range append([]string{l.User}, l.Users...) {
				if found[k][u] && charged(l, u, k, owners) && !slices.Contains(got, k) {
					got = append(got, k)
				}
			}
		}
		want, ok := todaysFindings[l.Kind]
		if !ok {
			t.Errorf("%s: no entry in todaysFindings", l.Kind)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s is reported by %v, want %v", l.Kind, got, want)
		}
		for _, k := range got {
			if !slices.Contains(l.Fools, k) {
				t.Errorf("%s is reported by %s, which its Fools %v do not name", l.Kind, k, l.Fools)
			}
		}
	}
}

func TestLookalikesSwitch(t *testing.T) {
	cfg := Config{Seed: 3, Users: 60, End: testEnd, Incidents: true, Lookalikes: LookalikesOff}
	off := New(cfg)
	if n := len(off.GroundTruth().Lookalikes); n != 0 {
		t.Fatalf("LookalikesOff gave %d look-alikes", n)
	}
	for _, u := range off.Users() {
		if strings.HasSuffix(u, "@"+secondDomain) {
			t.Fatalf("LookalikesOff gave a user in the second domain: %s", u)
		}
	}
	cfg.Lookalikes = LookalikesWithIncidents
	if n := len(New(cfg).GroundTruth().Lookalikes); n != len(LookalikeKinds) {
		t.Fatalf("a tenant with incidents has %d look-alikes, want %d", n, len(LookalikeKinds))
	}
	cfg.Incidents = false
	if n := len(New(cfg).GroundTruth().Lookalikes); n != 0 {
		t.Fatalf("a tenant without incidents has %d look-alikes by default", n)
	}
	cfg.Lookalikes = LookalikesOn
	on := New(cfg)
	if n, m := len(on.GroundTruth().Lookalikes), len(on.GroundTruth().Incidents); n != len(LookalikeKinds) || m != 0 {
		t.Fatalf("LookalikesOn without incidents gave %d look-alikes and %d incidents", n, m)
	}
}
