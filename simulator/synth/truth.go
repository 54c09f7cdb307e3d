package synth

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// GroundTruth is what the generator planted: the incidents and decoys, the benign look-alikes,
// the tie bursts and the number of late arrivals. Its JSON form is documented in docs/simulator-data.md.
type GroundTruth struct {
	Seed         int64         `json:"seed"`
	Start        time.Time     `json:"start"`
	End          time.Time     `json:"end"`
	Users        int           `json:"users"`
	Activities   int           `json:"activities"`
	Incidents    []Incident    `json:"incidents"`
	Lookalikes   []Lookalike   `json:"lookalikes"`
	TieBursts    []TieBurstRun `json:"tieBursts"`
	LateArrivals int           `json:"lateArrivals"`
}

// Incident is one planted incident, or its near-miss decoy (Decoy true) that the investigation
// must not report.
type Incident struct {
	// Kind is the investigation name, e.g. "impossible-travel".
	Kind string `json:"kind"`
	// Decoy is true for the near miss that must not be reported.
	Decoy bool `json:"decoy"`
	Planted
}

// Lookalike is one benign behaviour of the normal population that resembles an incident: no
// investigation other than the pivots may report it.
type Lookalike struct {
	// Kind names the behaviour, e.g. "browser-rollout" (LookalikeKinds).
	Kind string `json:"kind"`
	// Fools lists the investigations whose findings it resembles: the ones it tests.
	Fools []string `json:"fools"`
	Planted
}

// Planted is what the truth says of an incident, a decoy or a look-alike: whose, from where,
// which records and when.
type Planted struct {
	// User is the main account (the actor; for password-spray and ip-pivot the first of Users).
	User string `json:"user"`
	// Users lists every account involved when there are several.
	Users []string `json:"users,omitempty"`
	// IPs are the addresses its records came from.
	IPs []string `json:"ips"`
	// IDs are the `_id`s of its records, in time order: what was planted, and for a look-alike
	// the baseline records that show it (a routine's in the last 7 days; for a change across
	// the tenant, each user's first record showing it).
	IDs []string `json:"ids"`
	// Start and End span the records' timestamps.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Detail says what it is (note) and any figures a test may compare with.
	Detail map[string]any `json:"detail"`
}

// TieBurstRun is one generated tie burst with the ids of its records.
type TieBurstRun struct {
	At    time.Time `json:"at"`
	Size  int       `json:"size"`
	Field string    `json:"field"`
	IDs   []string  `json:"ids"`
}

// WriteJSON writes the ground truth as indented JSON.
func (g GroundTruth) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	if err := enc.Encode(g); err != nil {
		return fmt.Errorf("write ground truth: %w", err)
	}
	return nil
}

// ReadGroundTruth parses what WriteJSON wrote.
func ReadGroundTruth(r io.Reader) (GroundTruth, error) {
	var g GroundTruth
	if err := json.NewDecoder(r).Decode(&g); err != nil {
		return g, fmt.Errorf("read ground truth: %w", err)
	}
	return g, nil
}
