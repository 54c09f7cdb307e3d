package simulator

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
)

// Fault is a kind of failure the simulator injects into API responses.
type Fault string

// The faults a hostile API serves. Each is seen by real clients of the service (mcas-api.md §5).
const (
	FaultInternalError  Fault = "500"       // 500 with the portal's HTML error page
	FaultBadGateway     Fault = "502"       // 502 from the gateway, HTML body
	FaultGatewayTimeout Fault = "504"       // 504 from the gateway, HTML body
	FaultThrottle       Fault = "429"       // 429 as if the budget were spent
	FaultReset          Fault = "reset"     // status 200, then the connection closes mid-body
	FaultTruncated      Fault = "truncated" // status 200 and a complete HTTP body holding cut JSON
	FaultSlow           Fault = "slow"      // the response starts only after Config.SlowDelay
)

// Faults lists every fault kind.
func Faults() []Fault {
	return []Fault{FaultInternalError, FaultBadGateway, FaultGatewayTimeout, FaultThrottle, FaultReset, FaultTruncated, FaultSlow}
}

// ParseFault reads a fault kind by name.
func ParseFault(s string) (Fault, error) {
	for _, f := range Faults() {
		if string(f) == strings.ToLower(strings.TrimSpace(s)) {
			return f, nil
		}
	}
	names := make([]string, 0, len(Faults()))
	for _, f := range Faults() {
		names = append(names, string(f))
	}
	return "", fmt.Errorf("unknown fault %q (accepted: %s)", s, strings.Join(names, ", "))
}

// faultInjector decides, request by request, whether to fail: forced faults first, then the
// seeded rates.
type faultInjector struct {
	mu     sync.Mutex
	rng    *rand.Rand
	kinds  []Fault // sorted, so the same seed gives the same sequence
	rates  map[Fault]float64
	forced []Fault
}

func newFaultInjector(seed uint64, rates map[Fault]float64) *faultInjector {
	fi := &faultInjector{rng: rand.New(rand.NewPCG(seed, 0x6d636173)), rates: map[Fault]float64{}}
	for k, r := range rates {
		if r > 0 {
			fi.kinds = append(fi.kinds, k)
			fi.rates[k] = r
		}
	}
	sort.Slice(fi.kinds, func(i, j int) bool { return fi.kinds[i] < fi.kinds[j] })
	return fi
}

func (fi *faultInjector) next() Fault {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	if len(fi.forced) > 0 {
		f := fi.forced[0]
		fi.forced = fi.forced[1:]
		return f
	}
	if len(fi.kinds) == 0 {
		return ""
	}
	x := fi.rng.Float64()
	for _, k := range fi.kinds {
		if x < fi.rates[k] {
			return k
		}
		x -= fi.rates[k]
	}
	return ""
}

func (fi *faultInjector) force(n int, f Fault) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	for range n {
		fi.forced = append(fi.forced, f)
	}
}
