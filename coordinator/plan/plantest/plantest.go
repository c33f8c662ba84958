// Package plantest holds plan data for tests.
package plantest

import (
	"time"

	"github.com/loadtest/loadtest/coordinator/plan"
	"github.com/loadtest/loadtest/histogram"
)

// Period is a period with a bit of everything: a route with an error, a counter, a
// saturated agent.
func Period() plan.Period {
	h := histogram.NewRecorder()
	for i := range 10 {
		h.Record("route GET /x", time.Duration(i+1)*time.Millisecond, i == 9)
	}
	return plan.Period{Start: time.Unix(1700000000, 0), End: time.Unix(1700000060, 0), Phase: "sustain", Users: 7,
		Metrics: h.Snapshot().Summaries(), Counters: map[string]int64{"logins": 3}, Utilization: 0.9, Saturated: true, SaturatedAgents: []string{"a1"}}
}
