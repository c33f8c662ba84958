package usermetrics

import (
	"maps"
	"sync"
)

// MaxCounterNames bounds the distinct counter names an agent keeps (scripts name their
// counters; a name built from data would otherwise grow without end). Past it, AddCounter
// reports false and counts nothing.
const MaxCounterNames = 200

// counters are the named counts users add to, taken every interval.
type counters struct {
	mu    sync.Mutex
	names map[string]bool  // guarded by mu: every name seen
	delta map[string]int64 // guarded by mu: since the last Take
}

// AddCounter adds n to the counter name. It returns false, counting nothing, when name would
// be counter number MaxCounterNames+1.
func (m *Metrics) AddCounter(name string, n int64) bool {
	c := &m.counters
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.names[name] {
		if len(c.names) >= MaxCounterNames {
			return false
		}
		if c.names == nil {
			c.names, c.delta = map[string]bool{}, map[string]int64{}
		}
		c.names[name] = true
	}
	c.delta[name] += n
	return true
}

// TakeCounters returns what was added to each counter since the last call (nil if nothing).
func (m *Metrics) TakeCounters() map[string]int64 {
	c := &m.counters
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.delta) == 0 {
		return nil
	}
	out := maps.Clone(c.delta)
	clear(c.delta)
	return out
}
