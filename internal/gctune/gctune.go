// Package gctune sets the agent's garbage collector target.
package gctune

import (
	"os"
	"runtime/debug"
	"strconv"
)

// Percent is the GOGC an agent runs with unless the environment sets one. At 5,000
// simulative users on one core, the collector at Go's default of 100 took 12 % of the
// agent's CPU, and 10 % of the seconds went above 0.8 utilization; at 200 the same ramp
// held every second under 0.8 (docs/benchmarks.md). The price is heap headroom: the heap
// may grow to three times what is live instead of twice (about 300 MB live at 5,000 users).
const Percent = 200

// Apply sets GOGC to Percent unless the GOGC environment variable is set, and returns the
// value in force.
func Apply() string {
	if v, ok := lookup("GOGC"); ok {
		return v
	}
	debug.SetGCPercent(Percent)
	return strconv.Itoa(Percent)
}

var lookup = os.LookupEnv
