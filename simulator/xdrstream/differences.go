package xdrstream

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Differences say how the simulated stream differs from the activities API. By default (the zero
// value) it differs the way the real feeds do (docs/sources.md, "How the feeds differ"), event by
// event as fixed by the activity's id:
//
//   - times seconds apart: a third of the events carry a Timestamp 1 to 9 seconds after the
//     API's timestamp (the stream's Timestamp is when Defender recorded the event, the API's the
//     source service's time, whole seconds for Office 365 audit records);
//   - an object id in one and a sign-in name in the other: AccountObjectId and AccountId are the
//     Entra object id (resolvedActor.id), where the API's user is the sign-in name, as in the
//     captured line (this is the mapping itself, Map);
//   - IP missing in some stream rows: one event in 20 has no IPAddress;
//   - ActionType worded differently: Entra ID sign-ins are LogonSuccess or LogonFailed, the
//     wording of Defender XDR's hunting tables, where the API's operation and description are
//     the service's ("Log on to …", "Failed log on").
//
// Settings add differences chosen by the tester, each listed in the truth: events dropped from
// the stream (only in the API), events whose ReportId is not the activity's id (the same event,
// found by fingerprint only) and events the API never served (only in the stream).
type Differences struct {
	// Exact turns the default differences off: the stream is Map's mapping exactly.
	Exact bool `json:"exact"`
	// Drop events are left out of the stream; ReID events get a ReportId unrelated to their _id;
	// Extra events are written to the stream only: each a copy of an activity three hours
	// earlier under a new ReportId. Each is a count of events spread evenly over the tenant.
	Drop  int `json:"drop"`
	ReID  int `json:"reId"`
	Extra int `json:"extra"`
}

// extraShift is how much earlier than its template activity an only-in-stream event happened.
const extraShift = 3 * time.Hour

// apply makes e differ from its activity the default way.
func (d Differences) apply(e *Event) {
	if d.Exact {
		return
	}
	h := idHash(e.ActivityID)
	if h%3 == 0 {
		e.Props.Timestamp = e.Props.Timestamp.Add(time.Duration(1+h/3%9) * time.Second)
	}
	if h%20 == 7 {
		e.Props.IPAddress = nil
	}
	if strings.Contains(string(e.Props.RawEventData), `"EventType":"MCASLoginEvent"`) {
		e.Props.ActionType = "LogonSuccess"
		if e.Props.ActivityType == "Failed login" {
			e.Props.ActionType = "LogonFailed"
		}
	}
}

// chosen maps the activity indexes the settings pick to what happens to them: the counts are
// spread evenly over the tenant's n activities, each kind at its own offset so no activity is
// picked twice while the counts leave room.
func (d Differences) chosen(n int) map[int]change {
	out := map[int]change{}
	pick := func(count, offset int, c change) {
		if count <= 0 || n == 0 {
			return
		}
		step := max(n/count, 1)
		for k := 0; k < count && k*step+offset%step < n; k++ {
			i := k*step + offset%step
			if _, taken := out[i]; !taken {
				out[i] = c
			}
		}
	}
	step := func(count int) int { return max(n/max(count, 1), 1) }
	pick(d.Drop, step(d.Drop)/7, changeDrop)
	pick(d.ReID, step(d.ReID)*3/7, changeReID)
	pick(d.Extra, step(d.Extra)*5/7, changeExtra)
	return out
}

type change uint8

const (
	changeDrop change = iota + 1
	changeReID
	changeExtra
)

// newReportID is a ReportId that is not derived from the activity's _id: 64 hex digits from a
// hash of the id and why, then the app's suffix, as a real ReportId is shaped.
func newReportID(activityID, why string, appID int32) string {
	sum := sha256.Sum256([]byte(why + ":" + activityID))
	return hex.EncodeToString(sum[:]) + "_" + strconv.Itoa(int(appID))
}

// idHash is a small number fixed by an activity id (its first hex digits).
func idHash(id string) uint64 {
	h, _ := strconv.ParseUint(id[:min(8, len(id))], 16, 64)
	return h
}
