package coordinator

import (
	"slices"

	"github.com/loadtest/loadtest/coordinator/cluster"
	"github.com/loadtest/loadtest/histogram"
)

// Observation is what one tick of a run saw (a second, normally): the series point, the
// status after it, each agent's health, and the monitor queries' latest values. The live
// views (the status API, the web UI, the terminal) all read these.
type Observation struct {
	Seq int `json:"seq"` // 1, 2, 3, ... with no gaps
	Second
	Status Status                `json:"status"`
	Agents []cluster.AgentHealth `json:"agents"`
	// Values are MonitorConfig.Queries' values as of the last probe judged (nil before
	// one was, and in a plan).
	Values []float64 `json:"values,omitempty"`
	// Keys are the second's statistics per route and action (p50, p99, count, errors).
	Keys []histogram.Summary `json:"keys,omitempty"`
}

// MaxObservations bounds what a coordinator keeps for the live views: 6 hours of ticks.
// Older ones are dropped (the report keeps the whole series).
const MaxObservations = 6 * 3600

// observeLocked records the tick's observation and wakes whoever watches. c.mu is held.
func (c *Coordinator) observeLocked(sec Second, o cluster.Observation, keys []histogram.Summary) {
	c.seq++
	c.obs = append(c.obs, Observation{Seq: c.seq, Second: sec, Status: c.status, Agents: o.Agents, Values: c.values, Keys: keys})
	if len(c.obs) > MaxObservations {
		c.obs = slices.Delete(c.obs, 0, len(c.obs)-MaxObservations)
	}
	c.notifyLocked()
}

// notifyLocked wakes the watchers: the status, the report or the observations changed.
// c.mu is held.
func (c *Coordinator) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Observations returns the observations after seq since (0: all that are kept), oldest
// first, and a channel closed at the next change (a tick, a probe, a decision, the end).
// A watcher reads, waits on the channel (or its own context), and reads again from the
// last Seq it saw: it catches up after a dropped connection with nothing lost.
func (c *Coordinator) Observations(since int) ([]Observation, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, _ := slices.BinarySearchFunc(c.obs, since+1, func(o Observation, seq int) int { return o.Seq - seq })
	return slices.Clone(c.obs[i:]), c.changed
}
