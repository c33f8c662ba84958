package agent

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/histogram"
	"github.com/loadtest/loadtest/internal/controller"
	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/loadtest"
)

// keepIntervals is how many metrics intervals a load test keeps for callers of Metrics: five
// minutes of one-second intervals.
const keepIntervals = 300

// loadTest is one load test on this agent: its engine, its metrics, and the ring of
// per-interval histogram snapshots. Its methods are safe for concurrent use.
type loadTest struct {
	id      string
	cfg     agentconfig.Config
	eng     *loadtest.Engine
	m       *usermetrics.Metrics
	rec     *histogram.Recorder // taken every interval
	reg     *prometheus.Registry
	log     *slog.Logger
	env     *controller.Env // nil with custom users
	every   time.Duration
	runCtx  context.Context // the users' context: the server's, not a request's
	done    chan struct{}   // closed to stop the interval loop
	stopped chan struct{}   // closed when the interval loop has returned

	mu        sync.Mutex
	seq       uint64             // guarded by mu: the last SetUsers sequence number applied
	seqUsers  int                // guarded by mu: the amount it set
	ring      []SparseInterval   // guarded by mu: the newest keepIntervals intervals, oldest first
	next      uint64             // guarded by mu: the Seq of the next interval
	lastStart time.Time          // guarded by mu: when the current interval began
	lastUtil  usermetrics.Sample // guarded by mu
}

// SparseInterval is an Interval whose histograms are in their compact form: cheap to keep,
// sent as JSON as they are, and rebuilt for an in-process caller without JSON.
type SparseInterval struct {
	Seq         uint64                   `json:"seq"`
	Start       time.Time                `json:"start"`
	End         time.Time                `json:"end"`
	ActiveUsers int                      `json:"active_users"`
	Utilization float64                  `json:"utilization"`
	CPU         float64                  `json:"cpu"`
	Lag         float64                  `json:"lag"`
	Histograms  histogram.Sparse         `json:"histograms"`
	Counters    map[string]int64         `json:"counters,omitempty"`
	Users       usermetrics.Health       `json:"users"`
	Errors      []usermetrics.ErrorGroup `json:"errors,omitempty"`
}

// newLoadTest builds a load test from a validated config. It starts the interval loop, which
// close stops.
func newLoadTest(runCtx context.Context, id string, cfg agentconfig.Config,
	makeUsers func(string, agentconfig.Config, func() func()) (loadtest.NewUserFunc, error), every time.Duration, log *slog.Logger) (*loadTest, error) {
	lt := &loadTest{id: id, cfg: cfg, rec: histogram.NewRecorder(), reg: prometheus.NewRegistry(),
		log: log.With("loadtest", id), every: every, runCtx: runCtx, next: 1, lastStart: time.Now(),
		done: make(chan struct{}), stopped: make(chan struct{})}
	wrapped := prometheus.WrapRegistererWith(prometheus.Labels{"loadtest_id": id}, lt.reg)
	lt.m = usermetrics.New(wrapped, lt.rec)
	var newUser loadtest.NewUserFunc
	if makeUsers != nil {
		var err error
		if newUser, err = makeUsers(id, cfg, lt.m.Starting); err != nil {
			return nil, Errorf(ErrBadRequest, "config: %v", err)
		}
	} else {
		var err error
		lt.env = controller.NewEnv(id, cfg, lt.m, lt.log)
		newUser, err = controller.Factory(lt.env)
		if err != nil {
			return nil, Errorf(ErrBadRequest, "%v", err)
		}
	}
	eng, err := loadtest.New(loadtest.Options{InitialActiveUsers: cfg.UsersConfiguration.InitialActiveUsers,
		MaxActiveUsers: cfg.UsersConfiguration.MaxActiveUsers, SessionEnded: lt.m.SessionEnded, WaitOver: lt.m.WaitOver}, newUser, lt.log, wrapped)
	if err != nil {
		if lt.env != nil {
			lt.env.Close()
		}
		return nil, Errorf(ErrBadRequest, "%v", err)
	}
	lt.eng = eng
	lt.m.SampleUtilization()
	go lt.loop()
	return lt, nil
}

// loop closes an interval every lt.every until close.
func (lt *loadTest) loop() {
	defer close(lt.stopped)
	t := time.NewTicker(lt.every)
	defer t.Stop()
	for {
		select {
		case <-lt.done:
			return
		case <-t.C:
			lt.flush()
		}
	}
}

// flush closes the current interval: it takes what was recorded since the last flush and
// appends it to the ring.
func (lt *loadTest) flush() {
	snap := lt.rec.Take()
	sparse := snap.Sparse()
	snap.Release()
	util := lt.m.SampleUtilization()
	users := lt.eng.Status().ActiveUsers
	now := time.Now()
	lt.mu.Lock()
	defer lt.mu.Unlock()
	lt.ring = append(lt.ring, SparseInterval{Seq: lt.next, Start: lt.lastStart, End: now,
		ActiveUsers: users, Utilization: util.Value(), CPU: util.CPU, Lag: util.Lag, Histograms: sparse, Counters: lt.m.TakeCounters(), Users: lt.m.TakeHealth(),
		Errors: lt.m.TakeErrors()})
	if len(lt.ring) > keepIntervals {
		lt.ring = append(lt.ring[:0], lt.ring[len(lt.ring)-keepIntervals:]...)
	}
	lt.next++
	lt.lastStart, lt.lastUtil = now, util
}

// close stops the users (if running) and the interval loop, after a last flush.
func (lt *loadTest) close() {
	_ = lt.eng.Stop() // ErrNotRunning is fine
	close(lt.done)
	<-lt.stopped
	lt.flush()
	if lt.env != nil {
		lt.env.Close()
	}
}

func (lt *loadTest) status() Status {
	s := lt.eng.Status()
	lt.mu.Lock()
	defer lt.mu.Unlock()
	return Status{State: s.State, StartTime: s.StartTime, ActiveUsers: s.ActiveUsers, NumUsers: s.ActiveUsers,
		NumUsersAdded: s.NumUsersAdded, NumUsersRemoved: s.NumUsersRemoved, NumUsersStopped: s.NumUsersStopped,
		NumErrors: s.NumErrors, MaxActiveUsers: lt.eng.MaxActiveUsers(), UsersSeq: lt.seq,
		Utilization: lt.lastUtil.Value(), CPU: lt.lastUtil.CPU, Lag: lt.lastUtil.Lag, MetricsCursor: lt.next - 1, UsersStarting: lt.m.UsersStarting()}
}

func (lt *loadTest) run() error {
	if err := lt.eng.Run(lt.runCtx); err != nil {
		return Errorf(ErrConflict, "load test %s is %s; run needs it stopped", lt.id, lt.eng.Status().State)
	}
	lt.mu.Lock()
	lt.seq, lt.seqUsers = 0, 0 // a new run starts a new sequence
	lt.mu.Unlock()
	lt.log.Info("load test started", "users", lt.cfg.UsersConfiguration.InitialActiveUsers)
	return nil
}

func (lt *loadTest) stop() error {
	if err := lt.eng.Stop(); err != nil {
		return Errorf(ErrConflict, "load test %s is %s; stop needs it running", lt.id, lt.eng.Status().State)
	}
	lt.flush() // what the leaving users recorded is in the next Metrics page
	lt.log.Info("load test stopped")
	return nil
}

// change adds (delta > 0) or removes (delta < 0) users.
func (lt *loadTest) change(delta int) error {
	var err error
	if delta > 0 {
		_, err = lt.eng.AddUsers(delta)
	} else {
		_, err = lt.eng.RemoveUsers(-delta)
	}
	return lt.engineError(err, "amount", abs(delta))
}

// setUsers makes n users active. With seq > 0 it applies only if seq is newer than the last
// one applied in this run; a repeat of the last one is a no-op, and an older one is a
// conflict, so a late or retried request cannot move the count backwards.
func (lt *loadTest) setUsers(n int, seq uint64) error {
	lt.mu.Lock()
	defer lt.mu.Unlock() // held across the change, so two setUsers apply in seq order
	if seq > 0 {
		switch {
		case seq == lt.seq && n == lt.seqUsers:
			return nil // a retry of the request already applied
		case seq == lt.seq:
			return Errorf(ErrConflict, "seq %d was already applied with amount %d; this request says %d", seq, lt.seqUsers, n)
		case seq < lt.seq:
			return Errorf(ErrConflict, "seq %d is older than the last applied (%d); the count stays at %d", seq, lt.seq, lt.seqUsers)
		}
	}
	_, err := lt.eng.SetUsers(n)
	if err := lt.engineError(err, "amount", n); err != nil {
		return err
	}
	if seq > 0 {
		lt.seq, lt.seqUsers = seq, n
	}
	return nil
}

// engineError turns an engine error into an *Error with the status code it deserves.
func (lt *loadTest) engineError(err error, field string, value int) error {
	var limit *loadtest.LimitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &limit):
		return Errorf(ErrBadRequest, "%s %d: it would make %d users active; UsersConfiguration.MaxActiveUsers is %d", field, value, limit.Requested, limit.Max)
	case errors.Is(err, loadtest.ErrNotRunning):
		return Errorf(ErrConflict, "load test %s is %s; changing users needs it running", lt.id, lt.eng.Status().State)
	case errors.Is(err, loadtest.ErrInvalidAmount):
		return Errorf(ErrBadRequest, "%s %d: %v", field, value, err)
	}
	return err
}

// metrics returns the intervals after since.
func (lt *loadTest) metrics(since uint64) (SparsePage, error) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	cursor := lt.next - 1
	if since > cursor {
		return SparsePage{}, Errorf(ErrBadRequest, "since %d: must be <= the newest interval, %d", since, cursor)
	}
	p := SparsePage{ID: lt.id, Since: since, Cursor: cursor, Intervals: []SparseInterval{}}
	for _, iv := range lt.ring {
		if iv.Seq > since {
			p.Intervals = append(p.Intervals, iv)
		}
	}
	p.Missed = cursor - since - uint64(len(p.Intervals))
	return p, nil
}

// SparsePage is a MetricsPage whose histograms are in their compact form, as the HTTP
// API sends it.
type SparsePage struct {
	ID        string           `json:"id"`
	Since     uint64           `json:"since"`
	Cursor    uint64           `json:"cursor"`
	Missed    uint64           `json:"missed"`
	Intervals []SparseInterval `json:"intervals"`
}

// decode turns the page into a MetricsPage (the in-process path; HTTP decodes the JSON).
func (p SparsePage) decode() (MetricsPage, error) {
	out := MetricsPage{ID: p.ID, Since: p.Since, Cursor: p.Cursor, Missed: p.Missed, Intervals: make([]Interval, len(p.Intervals))}
	for i, iv := range p.Intervals {
		h, err := iv.Histograms.Snapshot()
		if err != nil {
			return MetricsPage{}, err
		}
		out.Intervals[i] = Interval{Seq: iv.Seq, Start: iv.Start, End: iv.End, ActiveUsers: iv.ActiveUsers, Utilization: iv.Utilization, CPU: iv.CPU, Lag: iv.Lag,
			Histograms: h, Counters: iv.Counters, Users: iv.Users, Errors: iv.Errors}
	}
	return out, nil
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
