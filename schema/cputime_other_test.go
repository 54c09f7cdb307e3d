//go:build !unix

package schema

import "time"

// processCPU is unavailable here; benchmarks then skip the per-CPU-second figure.
func processCPU() time.Duration { return 0 }
