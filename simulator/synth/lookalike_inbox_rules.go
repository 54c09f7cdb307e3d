package synth

import (
	"math/rand/v2"
	"strings"
)

// ruleChange is one inbox-rule record of a look-alike, at a working day's hour of the user's.
type ruleChange struct {
	at   int64
	op   uint16
	spec special
}

// planRuleChanges gives one homebody one rule change on a working day of each span of day
// indexes, the k-th made by change, and plants them; it returns false when there is no user or
// no day.
func (t *Tenant) planRuleChanges(r *rand.Rand, l *plan, note string, spans [][2]int, change func(u *user, k int) (uint16, special)) bool {
	ui := t.pick(r, homebody)
	if ui < 0 {
		return false
	}
	u := &t.users[ui]
	var cs []ruleChange
	for k, span := range spans {
		day, ok := t.workday(r, ui, max(span[0], 0), span[1])
		if !ok {
			return false
		}
		op, s := change(u, k)
		cs = append(cs, ruleChange{at: day.at(9 + r.Float64()*8), op: op, spec: s})
	}
	l.users = []int{ui}
	l.detail["note"] = note
	l.emit = func(l *plan) {
		u := &t.users[ui]
		for _, c := range cs {
			l.rec(ui, c.at, c.op, u.corp, u.desktopUA, t.addSpecial(c.spec), 0)
		}
	}
	return true
}

// planInboxRuleWithoutName plants inbox-rule-without-name: a newsletter rule made weeks ago is
// switched off (Set-InboxRule with Identity and Enabled False: no Name parameter).
func planInboxRuleWithoutName(t *Tenant, r *rand.Rand, l *plan) bool {
	from, to := t.recentDays()
	return t.planRuleChanges(r, l, "Set-InboxRule -Identity Newsletters -Enabled $false: a filing rule from weeks before switched off",
		[][2]int{{from - 20, from - 8}, {from, to}}, func(u *user, k int) (uint16, special) {
			if k == 0 {
				return opNewInboxRule, special{params: [][2]string{{"Name", "Newsletters"}, {"From", "news@vendor.example"},
					{"MoveToFolder", "Newsletters"}}}
			}
			return opSetInboxRule, special{params: [][2]string{{"Identity", u.upn + `\Newsletters`}, {"Enabled", "False"}}}
		})
}

// planInboxRuleWordInsideWord plants inbox-rule-word-inside-word: a filing rule for the phone
// bill, "Wireless bills" ("wire" inside "Wireless").
func planInboxRuleWordInsideWord(t *Tenant, r *rand.Rand, l *plan) bool {
	from, to := t.recentDays()
	return t.planRuleChanges(r, l, "New-InboxRule \"Wireless bills\" filing the phone bill into a folder",
		[][2]int{{from, to}}, func(*user, int) (uint16, special) {
			return opNewInboxRule, special{params: [][2]string{{"Name", "Wireless bills"}, {"From", "billing@wirelessco.example"},
				{"MoveToFolder", "Bills"}}}
		})
}

// planInboxRuleExplicitFalse plants inbox-rule-explicit-false: a filing rule whose client sends
// every option, the unused ones False (MarkAsRead False, DeleteMessage False).
func planInboxRuleExplicitFalse(t *Tenant, r *rand.Rand, l *plan) bool {
	from, to := t.recentDays()
	return t.planRuleChanges(r, l, "New-InboxRule \"Team updates\" moving mail to a folder, with MarkAsRead False and DeleteMessage False",
		[][2]int{{from, to}}, func(*user, int) (uint16, special) {
			return opNewInboxRule, special{params: [][2]string{{"Name", "Team updates"}, {"From", "updates@" + t.cfg.Domain},
				{"MoveToFolder", "Team"}, {"MarkAsRead", "False"}, {"DeleteMessage", "False"}, {"StopProcessingRules", "False"}}}
		})
}

// planOutlookRuleUpdate plants outlook-rule-update: Outlook adds a filing rule (UpdateInboxRules,
// the rule in OperationProperties, no cmdlet Parameters).
func planOutlookRuleUpdate(t *Tenant, r *rand.Rand, l *plan) bool {
	from, to := t.recentDays()
	mate := &t.users[r.IntN(t.cfg.Users)]
	first, _, _ := strings.Cut(mate.display, " ")
	return t.planRuleChanges(r, l, "Outlook adds the rule \"From "+first+"\" moving a colleague's mail to a folder (UpdateInboxRules)",
		[][2]int{{from, to}}, func(*user, int) (uint16, special) {
			return opUpdateInboxRules, special{opProps: [][2]string{{"RuleName", "From " + first},
				{"RuleId", "AQAAAAz1Lx8="}, {"RuleOperation", "AddMailboxRule"}, {"RuleCondition", "From: " + mate.upn},
				{"RuleActions", "MoveToFolder: Projects"}}}
		})
}
