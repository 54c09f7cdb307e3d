package synth

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"testing"
	"time"
)

// TestEarlierKindsUnchanged: adding the kinds planted after the look-alikes (laterIncidentKinds,
// laterLookalikeKinds) left every other record byte for byte as it was, and the ground truth of
// the kinds before them too. The digests are those of the generator before the later kinds
// existed: of every record, then of each incident, look-alike and tie burst of the truth.
func TestEarlierKindsUnchanged(t *testing.T) {
	cases := []struct {
		cfg  Config
		want string
	}{
		{Config{Seed: 1, Users: 100, Days: 37, End: testEnd, Incidents: true},
			"357955601185cb87df4c62bd7e250e34b60faa68dfd602ff7c22464e0a50bc7e"},
		{Config{Seed: 2, Users: 60, Days: 10, End: testEnd, Incidents: true, TieBursts: []TieBurst{{At: testEnd.Add(-48 * time.Hour), Size: 30}}},
			"2d6db20d7f479fe74fa98867c69ceba75b0e35ed8d471b5f070dcb83652ed179"},
		{Config{Seed: 3, Users: 80, End: testEnd},
			"68f22b94c17689e6f6824b9c2355bfb93cb85d2e1a399f5db56e38ffa9bbe76e"},
	}
	for _, c := range cases {
		tn := New(c.cfg)
		g := tn.GroundTruth()
		later := map[string]bool{}
		var laterKinds []string
		for _, k := range laterIncidentKinds {
			laterKinds = append(laterKinds, k.kind)
		}
		for _, k := range laterLookalikeKinds {
			laterKinds = append(laterKinds, k.kind)
		}
		for _, inc := range g.Incidents {
			if slices.Contains(laterKinds, inc.Kind) {
				for _, id := range inc.IDs {
					later[id] = true
				}
			}
		}
		for _, l := range g.Lookalikes {
			if slices.Contains(laterKinds, l.Kind) {
				for _, id := range l.IDs {
					later[id] = true
				}
			}
		}
		h := sha256.New()
		var buf []byte
		n := 0
		for i := 0; i < tn.Len(); i++ {
			a := tn.Activity(i)
			if int(a.user) >= tn.laterFrom || later[a.ID] {
				continue
			}
			buf = tn.AppendJSON(buf[:0], i)
			h.Write(buf)
			n++
		}
		write := func(kind string, v any) {
			if slices.Contains(laterKinds, kind) {
				return
			}
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			h.Write(b)
		}
		for _, inc := range g.Incidents {
			write(inc.Kind, inc)
		}
		for _, l := range g.Lookalikes {
			write(l.Kind, l)
		}
		for _, b := range g.TieBursts {
			write("", b)
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != c.want {
			t.Errorf("seed %d: the %d records and the truth of the earlier kinds changed: digest %s, want %s", c.cfg.Seed, n, got, c.want)
		}
	}
}
