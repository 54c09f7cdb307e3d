// Package synth is the deterministic data generator behind the simulator: a synthetic Defender for
// Cloud Apps tenant (users, apps, places, activities with the quirks of real records), optional
// planted incidents with near-miss decoys and benign look-alikes (ordinary behaviour that resembles
// an incident), tie bursts and late arrivals, and the ground truth that tests of later stages
// compare against.
//
// Everything derives from Config.Seed: the same seed and config give byte-identical records. Only
// a compact index (Activity) is held in memory; the full JSON record is rendered on demand by
// AppendJSON from the seed and that index.
package synth

import (
	"hash/fnv"
	"time"
)

// Config says what tenant to generate. The zero value of every field means its default.
type Config struct {
	// Seed makes the tenant reproducible.
	Seed int64
	// Users is the number of ordinary users (default 500). Dedicated incident users are added on top.
	Users int
	// Days is the span of the data, ending at End (default 37).
	Days int
	// End is the newest activity time (default: now, truncated to the millisecond).
	End time.Time
	// PerUserDay is the mean activities per user per day (default tuned so 500 users × 37 days ≈ 200k).
	PerUserDay float64
	// Total, if > 0, overrides PerUserDay: exactly this many activities.
	Total int
	// Incidents plants one incident and one near-miss decoy for each investigation in Kinds.
	Incidents bool
	// Lookalikes says whether benign look-alikes join the normal population: the shapes real
	// tenants are full of that an investigation might mistake for an incident (LookalikeKinds).
	// The zero value adds them when Incidents is set.
	Lookalikes LookalikeMode
	// TieBursts adds records sharing one millisecond, for the stall tests.
	TieBursts []TieBurst
	// LateArrivals is the share of records whose created is hours after timestamp (default 0.01;
	// negative for none).
	LateArrivals float64
	// LargeFields is the share of records with a 100 KB+ field (default 0.00005; negative for none).
	LargeFields float64
	// CaseCollisions is the share of records whose rawDataJson has keys differing only by case
	// (default 0.02; negative for none).
	CaseCollisions float64
	// ExtraFields is the share of records carrying undocumented extra fields (default 0.05;
	// negative for none).
	ExtraFields float64
	// Domain is the organisation's mail domain (default contoso.com): users' UPNs, its SharePoint
	// host (<first label>.sharepoint.com) and Exchange organisation. Two tenants of one
	// simulator get different domains, so their users never share a name.
	Domain string
	// SecondDomain is the mail domain of an acquired company some users sign in with (default
	// fabrikam.com for the default Domain, else <first label of Domain>-acquired.com).
	SecondDomain string
}

// LookalikeMode switches the benign look-alikes on or off.
type LookalikeMode int8

const (
	// LookalikesWithIncidents (the default) adds the look-alikes when Incidents is set.
	LookalikesWithIncidents LookalikeMode = iota
	// LookalikesOn adds them with or without incidents.
	LookalikesOn
	// LookalikesOff leaves them out: the normal population is exactly that of a tenant without them.
	LookalikesOff
)

// TieBurst asks for Size extra records sharing one millisecond.
type TieBurst struct {
	// At is the shared millisecond (truncated to ms).
	At time.Time
	// Size is the number of records in the burst.
	Size int
	// Field is which time the records share: "timestamp", "created" or "both" (default "both").
	Field string
}

// Activity is the compact index of one record: what the simulator filters and sorts on. The full
// record comes from Tenant.AppendJSON.
type Activity struct {
	// ID is `_id` (== `uid`), 64 lowercase hex digits.
	ID string
	// Timestamp is `timestamp` in epoch milliseconds (when the activity happened).
	Timestamp int64
	// Created is `created` in epoch milliseconds (when the service stored it; visible from then).
	Created int64
	// User is the effective user: `user.userName`, or `failedUserData.userName` for failed sign-ins.
	User string
	// EventType is `eventTypeName` (EVENT_CATEGORY_*).
	EventType string
	// IP is `device.clientIP`.
	IP string
	// Country is the ISO-2 `location.countryCode` (also `device.countryCode`).
	Country string
	// DeviceType is `userAgent.deviceType` (DESKTOP, MOBILE, TABLET, OTHER).
	DeviceType string
	// AppID is `appId` (== `saasId`).
	AppID int32
	// Instance is the app instance (always 0 here, as in most tenants).
	Instance int32
	// Admin is true for administrative activity (`eventRouting.adminEvent`, filter `activity.type`).
	Admin bool
	// IPCategory is `location.category` (1 Corporate … 6 Other, 0 none).
	IPCategory int8
	// Source is `source` (2 = app connector).
	Source int8

	// What AppendJSON needs beyond the fields above (small fields last keep the struct compact).
	ua      uint8  // index into userAgents
	flags   uint8  // flag* bits
	op      uint16 // index into ops
	user    int32  // index into Tenant.users
	ip      int32  // index into Tenant.ips
	special int32  // index into Tenant.specials, -1 none
	h       uint64 // per-record render seed (second word of the id hash)
}

// ForTenant is cfg for the simulated tenant called label, one of several a simulator serves: its
// own seed, derived from cfg.Seed and the label (so each tenant has its own users, activities and
// planted incidents, the same on every run), and its own domains, <label>.com and
// <label>-acquired.com.
func ForTenant(cfg Config, label string) Config {
	h := fnv.New64a()
	h.Write([]byte(label))
	cfg.Seed ^= int64(h.Sum64() & (1<<63 - 1))
	cfg.Domain = label + ".com"
	cfg.SecondDomain = label + "-acquired.com" // never another simulated tenant's domain
	return cfg
}
