package usermetrics

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/loadtest/loadtest/mattermost"
)

// Health is what the users did in one interval, as the coordinator judges a probe by it:
// whether the population was there and working, apart from how fast the target answered.
// A failure is the workload's when the target did not cause it (mattermost.ServerFault is
// false): a 4xx other than 408 and 429, no team to join, a script's own error.
type Health struct {
	Actions       int64 `json:"actions"`        // actions that ended (ok or error; skipped ones are not counted)
	ActionFaults  int64 `json:"action_faults"`  // actions that failed on the workload's side
	SessionsEnded int64 `json:"sessions_ended"` // user sessions that ended on their own (those users restart)
	SessionFaults int64 `json:"session_faults"` // sessions that ended with a workload-side error
	// Starting is how many users were in their start-up sequence (login, team, first loads)
	// when the interval ended.
	Starting int64 `json:"starting"`
	// Broken is how many users were waiting to restart after a workload-side failure when
	// the interval ended: they were not in the population at all. Add keeps the highest.
	Broken int64 `json:"broken"`
	// LastFault is the last workload-side error's message (empty: none in the interval).
	LastFault string `json:"last_fault,omitempty"`
}

// Add sums o into h; Starting and LastFault take o's (the later interval's) when set.
func (h *Health) Add(o Health) {
	h.Actions += o.Actions
	h.ActionFaults += o.ActionFaults
	h.SessionsEnded += o.SessionsEnded
	h.SessionFaults += o.SessionFaults
	h.Starting = o.Starting
	h.Broken = max(h.Broken, o.Broken)
	if o.LastFault != "" {
		h.LastFault = o.LastFault
	}
}

// Faults is the workload-side failures: actions and sessions.
func (h Health) Faults() int64 { return h.ActionFaults + h.SessionFaults }

// FaultShare is the workload-side failures per attempt (an action, or a session that
// ended); 0 when there was none.
func (h Health) FaultShare() float64 {
	n := h.Actions + h.SessionsEnded
	if n == 0 {
		return 0
	}
	return float64(h.Faults()) / float64(n)
}

// health counts what Health reports, between two Takes.
type health struct {
	actions, actionFaults, sessionsEnded, sessionFaults atomic.Int64
	starting                                            atomic.Int64

	mu        sync.Mutex
	lastFault string       // guarded by mu
	broken    map[int]bool // guarded by mu: users waiting to restart after a workload-side failure
}

// WorkloadFault reports whether err (a failed action or session) is the workload's fault
// rather than the target's. Canceled work is neither, and is not counted.
func WorkloadFault(err error) bool {
	return err != nil && !errors.Is(err, ErrSkipped) && !mattermost.ServerFault(err)
}

func (h *health) fault(err error) {
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	h.mu.Lock()
	h.lastFault = msg
	h.mu.Unlock()
}

// SessionEnded counts a session of user id that ended on its own, with err (nil: it
// returned). It is the engine's loadtest.Options.SessionEnded.
func (m *Metrics) SessionEnded(id int, err error) {
	m.health.sessionsEnded.Add(1)
	if WorkloadFault(err) {
		m.health.sessionFaults.Add(1)
		m.health.fault(err)
		m.health.mu.Lock()
		if m.health.broken == nil {
			m.health.broken = map[int]bool{}
		}
		m.health.broken[id] = true
		m.health.mu.Unlock()
	}
}

// WaitOver says user id is no longer waiting to restart. It is the engine's
// loadtest.Options.WaitOver.
func (m *Metrics) WaitOver(id int) {
	m.health.mu.Lock()
	delete(m.health.broken, id)
	m.health.mu.Unlock()
}

// TakeHealth returns what was counted since the last call, and starts counting afresh.
func (m *Metrics) TakeHealth() Health {
	h := &m.health
	out := Health{Actions: h.actions.Swap(0), ActionFaults: h.actionFaults.Swap(0),
		SessionsEnded: h.sessionsEnded.Swap(0), SessionFaults: h.sessionFaults.Swap(0), Starting: h.starting.Load()}
	h.mu.Lock()
	out.LastFault, h.lastFault = h.lastFault, ""
	out.Broken = int64(len(h.broken))
	h.mu.Unlock()
	return out
}

// UsersStarting is how many users are in their start-up sequence now.
func (m *Metrics) UsersStarting() int { return int(m.health.starting.Load()) }
