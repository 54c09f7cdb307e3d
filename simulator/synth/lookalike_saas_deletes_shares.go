package synth

import "math/rand/v2"

// appWorkShares are appWork with deletes and shares, for the users of saas-deletes-shares.
var appWorkShares = map[uint16][]uint16{
	opGoogleLogin:     {opGoogleView, opGoogleDownload, opGoogleDelete, opGoogleShare},
	opBoxLogin:        {opBoxPreview, opBoxUpload, opBoxDelete, opBoxShare},
	opSalesforceLogin: {opSalesforceReport},
}

// planSaaSDeletesShares plants saas-deletes-shares: the Google Workspace and Box users no other
// look-alike took delete and share files there too, in the same everyday volumes as in SharePoint
// (a few a day, at most 15). The records carry EVENT_CATEGORY_DELETE_OBJECT and
// EVENT_CATEGORY_SHARE_FILE, with vendor operation names (delete, change_user_access, DELETE,
// COLLABORATION_INVITE).
func planSaaSDeletesShares(t *Tenant, r *rand.Rand, l *plan) bool {
	in := make([]bool, len(t.users))
	for i := 0; i < t.cfg.Users; i++ {
		u := &t.users[i]
		if t.claimed[i] || !hasAny(u.apps, opGoogleLogin, opBoxLogin) {
			continue
		}
		u.saasShares, in[i] = true, true
		l.users = append(l.users, i)
	}
	if len(l.users) == 0 {
		return false
	}
	l.detail["note"] = "everyday deletes and shares in Google Workspace and Box (a few a day per user)"
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool {
			return in[e.user] && (e.op == opGoogleDelete || e.op == opGoogleShare || e.op == opBoxDelete || e.op == opBoxShare)
		})
	}
	return true
}

func hasAny(list []uint16, want ...uint16) bool {
	for _, x := range list {
		for _, y := range want {
			if x == y {
				return true
			}
		}
	}
	return false
}
