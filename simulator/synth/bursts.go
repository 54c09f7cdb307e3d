package synth

// burstPlan is one tie burst: records sharing one millisecond.
type burstPlan struct {
	at      int64
	size    int
	field   string
	serials []uint32
}

// plantTieBursts adds the configured tie bursts: reads by ordinary users from their office, all
// stamped with the same millisecond ("timestamp"), stored in the same millisecond ("created", At
// being the created time), or both (created then equals At plus 240 s for every record).
func (t *Tenant) plantTieBursts() []*burstPlan {
	var out []*burstPlan
	for bi, tb := range t.cfg.TieBursts {
		field := tb.Field
		if field == "" {
			field = "both"
		}
		at := tb.At.UnixMilli()
		b := &burstPlan{at: at, size: tb.Size, field: field}
		r := t.rng(0xB0B0 + uint64(bi))
		for i := 0; i < tb.Size; i++ {
			ui := i % t.cfg.Users
			u := &t.users[ui]
			op := uint16(opMailItemsAccessed)
			if i%2 == 1 {
				op = opFileAccessed
			}
			s := t.serial
			t.serial++
			e := rawEvent{serial: s, user: int32(ui), ip: u.corp, special: -1, op: op, ua: u.desktopUA, flags: flagPlant}
			switch field {
			case "timestamp":
				e.ts, e.created = at, at+170_000+r.Int64N(170_000)
			case "created":
				e.created, e.ts = at, at-170_000-r.Int64N(170_000)
			default:
				e.ts, e.created = at, at+240_000
			}
			t.events = append(t.events, e)
			b.serials = append(b.serials, s)
		}
		out = append(out, b)
	}
	return out
}
