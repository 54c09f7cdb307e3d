package queries

import (
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"
)

// directImpersonations is the impersonations view as first written: every mailbox access whose
// actor is not among its objects, with raw read for each. The view now fetches raw for the
// candidates alone (for speed); it must still return exactly these rows.
const directImpersonations = `
SELECT id, coalesce(mailbox_owner, '-') FROM (
  SELECT id, nullif(lower(regexp_extract(raw, '"MailboxOwnerUPN"\s*:\s*"([^"]*)"', 1)), '') AS mailbox_owner,
         regexp_extract(raw, '"LogonType"\s*:\s*"?([0-9]+)', 1) AS logon_type
  FROM activities
  WHERE app_id = 20893 AND action IN ('MailItemsAccessed', 'Send', 'SendAs', 'SendOnBehalf', 'FolderBind', 'MessageBind',
    'HardDelete', 'SoftDelete', 'MoveToDeletedItems', 'Move', 'Update', 'Create', 'UpdateFolderPermissions',
    'UpdateCalendarDelegation', 'AddFolderPermissions', 'ModifyFolderPermissions')
    AND NOT coalesce(list_contains(list_transform(objects, lambda o: lower(o)), lower(user_name)), false))
WHERE logon_type IN ('1', '2')
ORDER BY id`

// TestImpersonationsViewMatchesTheDirectDefinition covers the cases the two-step view could get
// wrong: records sharing a millisecond, user and objects but not a logon type; no user name; no
// objects; an owner in another letter case; the same operation in another app.
func TestImpersonationsViewMatchesTheDirectDefinition(t *testing.T) {
	t0 := time.Date(2026, 3, 8, 9, 0, 0, 0, time.UTC)
	mail := func(user string, at time.Time, objects []string, logon any, owner string) act {
		return act{App: 20893, Action: "MailItemsAccessed", User: user, At: at, IP: "198.51.100.7", Objects: objects,
			RawData: map[string]any{"LogonType": logon, "MailboxOwnerUPN": owner}}
	}
	acts := []act{
		0: mail("alice@contoso.com", t0, []string{"alice@contoso.com"}, 0, "alice@contoso.com"),                  // her own mailbox
		1: mail("alice@contoso.com", t0.Add(time.Minute), []string{"bob@contoso.com"}, 2, "Bob@contoso.com"),     // delegate
		2: mail("admin@contoso.com", t0.Add(2*time.Minute), []string{"bob@contoso.com"}, "1", "bob@contoso.com"), // admin, quoted
		3: mail("carol@contoso.com", t0.Add(3*time.Minute), []string{"bob@contoso.com"}, 0, "bob@contoso.com"),   // owner logon
		4: mail("Dave@Contoso.com", t0.Add(4*time.Minute), []string{"dave@contoso.com"}, 2, "dave@contoso.com"),  // own, other case
		5: mail("erin@contoso.com", t0.Add(5*time.Minute), nil, 2, "frank@contoso.com"),                          // no objects
		// one millisecond, one user, one mailbox: only the delegate logon counts
		6: mail("gina@contoso.com", t0.Add(6*time.Minute), []string{"bob@contoso.com"}, 2, "bob@contoso.com"),
		7: mail("gina@contoso.com", t0.Add(6*time.Minute), []string{"bob@contoso.com"}, 0, "bob@contoso.com"),
		// the same operation in SharePoint is not mailbox access
		8: {App: 20892, Action: "MailItemsAccessed", User: "hank@contoso.com", At: t0.Add(7 * time.Minute),
			Objects: []string{"bob@contoso.com"}, RawData: map[string]any{"LogonType": 2, "MailboxOwnerUPN": "bob@contoso.com"}},
		9:  mail("ivan@contoso.com", t0.Add(8*time.Minute), []string{"bob@contoso.com"}, 2, ""),                 // user removed below
		10: mail("judy@contoso.com", t0.Add(9*time.Minute), []string{"judy@contoso.com"}, 1, "bob@contoso.com"), // objects removed below
		11: mail("ken@contoso.com", t0.Add(10*time.Minute), []string{"ken@contoso.com"}, 2, "bob@contoso.com"),  // both removed below
	}
	db := newActivitiesDB(t)
	loadRecords(t, db, renderActs(acts))
	id := func(i int) string { return fmt.Sprintf("%064x", i+1) }
	for _, q := range []struct {
		stmt string
		rows []int
	}{
		{"UPDATE activities SET user_name = NULL WHERE id = $1", []int{9, 11}},
		{"UPDATE activities SET objects = NULL WHERE id = $1", []int{10, 11}},
	} {
		for _, i := range q.rows {
			if _, err := db.Exec(q.stmt, id(i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	conn := testConn(t, db)
	if _, err := Open(t.Context(), conn, Lockdown{}); err != nil {
		t.Fatal(err)
	}
	read := func(query string) []string {
		t.Helper()
		rows, err := conn.QueryContext(t.Context(), query)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var id, owner sql.NullString
			if err := rows.Scan(&id, &owner); err != nil {
				t.Fatal(err)
			}
			out = append(out, id.String+" "+owner.String)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := read("SELECT id, coalesce(mailbox_owner, '-') FROM impersonations ORDER BY id")
	want := read(directImpersonations)
	if !slices.Equal(got, want) {
		t.Errorf("impersonations view:\n%q\nthe direct definition:\n%q", got, want)
	}
	var expected []string
	for i, owner := range map[int]string{1: "bob@contoso.com", 2: "bob@contoso.com", 5: "frank@contoso.com", 6: "bob@contoso.com",
		9: "-", 10: "bob@contoso.com", 11: "bob@contoso.com"} {
		expected = append(expected, id(i)+" "+owner)
	}
	slices.Sort(expected)
	if !slices.Equal(got, expected) {
		t.Errorf("impersonations view:\n%q\nwant records 1, 2, 5, 6, 9, 10, 11:\n%q", got, expected)
	}
}
