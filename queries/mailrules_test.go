package queries

import (
	"testing"
	"time"
)

// params renders rawDataJson with an Exchange cmdlet's Parameters array.
func params(kv ...string) map[string]any {
	var list []any
	for i := 0; i+1 < len(kv); i += 2 {
		list = append(list, map[string]any{"Name": kv[i], "Value": kv[i+1]})
	}
	return map[string]any{"Operation": "New-InboxRule", "Parameters": list}
}

// TestMailRulesReadTheRuleNotTheRecord: the mail investigations judge a rule by its cmdlet
// parameters. A keyword elsewhere in the record (the helpdesk account's own name, the portal
// description) does not score, and a forwarding address mentioned outside Parameters is not a
// destination; the rule's own name, conditions, actions and destinations are.
func TestMailRulesReadTheRuleNotTheRecord(t *testing.T) {
	at := synthEnd.Add(-48 * time.Hour)
	acts := []act{
		// A routine rule by the helpdesk account, with "alert" and a ForwardTo pair elsewhere in
		// its record: reported by neither.
		{At: at, App: 20893, User: "helpdesk@contoso.com", Action: "New-InboxRule", IP: "203.0.113.5",
			RawData: map[string]any{"Operation": "New-InboxRule", "Comment": "alert",
				"OperationProperties": []any{map[string]any{"Name": "ForwardTo", "Value": "x@evil.example"}},
				"Parameters":          []any{map[string]any{"Name": "Name", "Value": "Project updates"}, map[string]any{"Name": "From", "Value": "boss@contoso.com"}}}},
		// A rule that deletes mail about invoices and forwards it out: reported by both.
		{At: at.Add(time.Hour), App: 20893, User: "amy@contoso.com", Action: "New-InboxRule", IP: "198.51.100.7",
			RawData: params("Name", "Invoices", "SubjectContainsWords", "Invoice", "DeleteMessage", "True", "ForwardTo", "SMTP:drop@evil.example")},
		// A rule without Parameters at all: its name is unknown, which is not obscure.
		{At: at.Add(2 * time.Hour), App: 20893, User: "bob@contoso.com", Action: "UpdateInboxRules", IP: "198.51.100.8"},
	}
	db := newActivitiesDB(t)
	loadRecords(t, db, renderActs(acts))
	s, err := Open(t.Context(), testConn(t, db), Lockdown{})
	if err != nil {
		t.Fatal(err)
	}

	rules := runResult(t, s, "inbox-manipulation-rules", nil)
	if len(rules.rows) != 1 {
		t.Fatalf("want amy's rule alone, got:\n%s", rules.table)
	}
	for _, row := range rules.rows {
		if mentions(row, "helpdesk@contoso.com") {
			t.Errorf("the helpdesk account's routine rule is reported:\n%s", rules.table)
		}
	}
	amy := rules.rows[0]
	if amy["user_name"] != "amy@contoso.com" || amy["rule_name"] != "Invoices" || !mentions(amy, "invoice") || !mentions(amy, "DeleteMessage") {
		t.Errorf("amy's rule: %v", amy)
	}

	fwd := runResult(t, s, "mail-forwarding", nil)
	if len(fwd.rows) != 1 || fwd.rows[0]["dest"] != "drop@evil.example" || !mentions(fwd.rows[0], "amy@contoso.com") {
		t.Errorf("want only drop@evil.example from amy's rule, got:\n%s", fwd.table)
	}
}
