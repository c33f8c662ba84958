// Package loadtest is the load-test engine: it runs a population of simulated users in one
// process and changes its size while it runs. It knows nothing of Mattermost: a user is
// anything with a Run method, made by the NewUser function the engine is given (see the
// controllers under internal/controller, and example/ for a custom one).
package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadtest/loadtest/internal/backoff"
)

// User is one simulated user. Run blocks until ctx is done, and then returns promptly (a user
// may log out on its way, on a context of its own with a short timeout). A Run that returns
// before ctx is done, with or without an error, ends that session: the engine counts it and
// starts the user again after a backoff, so the number of active users holds.
type User interface {
	Run(ctx context.Context) error
}

// UserFunc adapts a function to User.
type UserFunc func(ctx context.Context) error

// Run implements User.
func (f UserFunc) Run(ctx context.Context) error { return f(ctx) }

// NewUserFunc makes user number id (1-based). The same id always names the same account, so
// a user removed and added again logs in as before. It is called from the engine's goroutines.
type NewUserFunc func(id int) (User, error)

// State is the engine's lifecycle state. It marshals to JSON as its name.
type State int

// The engine's states.
const (
	Stopped  State = iota // created, or stopped: no users
	Running               // users run; the count can change
	Stopping              // Stop was called; users are leaving
)

var stateNames = [...]string{"stopped", "running", "stopping"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// ErrInvalidState is returned when a state is unknown to MarshalJSON or UnmarshalJSON.
var ErrInvalidState = errors.New("loadtest: unknown state")

// MarshalJSON encodes the state as its name.
func (s State) MarshalJSON() ([]byte, error) {
	if int(s) >= len(stateNames) || s < 0 {
		return nil, ErrInvalidState
	}
	return json.Marshal(s.String())
}

// UnmarshalJSON decodes a state name.
func (s *State) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return ErrInvalidState
	}
	for i, n := range stateNames {
		if n == name {
			*s = State(i)
			return nil
		}
	}
	return ErrInvalidState
}

// Errors of the engine's methods.
var (
	ErrNotRunning     = errors.New("loadtest: not running")
	ErrAlreadyRunning = errors.New("loadtest: already running")
	ErrInvalidAmount  = errors.New("loadtest: invalid amount")
)

// LimitError says that a change would take the active users past MaxActiveUsers.
type LimitError struct {
	Requested, Max int
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("loadtest: %d active users requested; MaxActiveUsers is %d", e.Requested, e.Max)
}

// Options configure an Engine.
type Options struct {
	InitialActiveUsers int // started by Run
	MaxActiveUsers     int // the most users that may be active at once; must be > 0
	// RestartBackoff is the first wait before a user whose session ended is started again;
	// it doubles on each consecutive failure up to MaxRestartBackoff. Defaults 1s and 30s.
	// Each wait is longer by up to RestartJitter of itself, at random, so users cut off
	// together (a target outage) come back spread out: default 0.5; negative: none.
	RestartBackoff, MaxRestartBackoff time.Duration
	RestartJitter                     float64
	// SessionEnded, if set, is told of every session of user id that ended on its own (err
	// nil: it returned), before the user waits to restart; the agent classifies the errors.
	// WaitOver is told when that wait is over: the user starts again, or was removed.
	SessionEnded func(id int, err error)
	WaitOver     func(id int)
}

// Status is a snapshot of the engine, with the seed's field names.
type Status struct {
	State           State     // the lifecycle state
	StartTime       time.Time // when Run last started; zero before
	ActiveUsers     int       // users that should be running now
	NumUsersAdded   int64     // users added since Run, including the initial ones
	NumUsersRemoved int64     // users removed since Run
	NumUsersStopped int64     // user sessions that ended on their own (then restarted)
	NumErrors       int64     // user sessions that ended with an error
}

// Engine runs the users. All its methods are safe for concurrent use.
type Engine struct {
	opts    Options
	newUser NewUserFunc
	log     *slog.Logger
	m       *engineMetrics
	// warn and info fold the restart messages: after an outage every user fails the same
	// way, and that is one line per repeatEvery, with the count, not one per user.
	warn, info *repeats

	mu        sync.Mutex
	state     State              // guarded by mu
	startTime time.Time          // guarded by mu
	slots     []*slot            // guarded by mu: active users, slots[i] has id i+1
	ctx       context.Context    // guarded by mu: the run's context
	cancel    context.CancelFunc // guarded by mu
	wg        sync.WaitGroup     // every user goroutine

	added, removed, stopped, errs atomic.Int64
}

type slot struct {
	id     int
	cancel context.CancelFunc
}

// New returns an engine that makes users with newUser. It starts no goroutines. log may be
// nil; reg may be nil (no metrics).
func New(opts Options, newUser NewUserFunc, log *slog.Logger, reg prometheus.Registerer) (*Engine, error) {
	switch {
	case newUser == nil:
		return nil, errors.New("loadtest: NewUserFunc is nil")
	case opts.MaxActiveUsers <= 0:
		return nil, fmt.Errorf("loadtest: MaxActiveUsers must be > 0, got %d", opts.MaxActiveUsers)
	case opts.InitialActiveUsers < 0 || opts.InitialActiveUsers > opts.MaxActiveUsers:
		return nil, fmt.Errorf("loadtest: InitialActiveUsers must be in [0, MaxActiveUsers=%d], got %d", opts.MaxActiveUsers, opts.InitialActiveUsers)
	}
	if opts.RestartBackoff <= 0 {
		opts.RestartBackoff = time.Second
	}
	if opts.MaxRestartBackoff <= 0 {
		opts.MaxRestartBackoff = 30 * time.Second
	}
	if opts.RestartJitter == 0 {
		opts.RestartJitter = 0.5
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{opts: opts, newUser: newUser, log: log,
		warn: newRepeats(log, slog.LevelWarn, repeatEvery), info: newRepeats(log, slog.LevelInfo, repeatEvery)}
	e.m = newEngineMetrics(reg, e)
	return e, nil
}

// Run starts the engine with InitialActiveUsers users. The users live until Stop, or until
// ctx is done.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state != Stopped {
		return fmt.Errorf("%w (state %s)", ErrAlreadyRunning, e.state)
	}
	e.ctx, e.cancel = context.WithCancel(ctx)
	e.state, e.startTime = Running, time.Now()
	e.added.Store(0)
	e.removed.Store(0)
	e.stopped.Store(0)
	e.errs.Store(0)
	e.setLocked(e.opts.InitialActiveUsers)
	return nil
}

// Stop ends every user and waits for them, then leaves the engine Stopped; it may Run again.
// A second Stop, or a Stop before Run, returns ErrNotRunning.
func (e *Engine) Stop() error {
	e.mu.Lock()
	if e.state != Running {
		e.mu.Unlock()
		return ErrNotRunning
	}
	e.state = Stopping
	n := len(e.slots)
	e.slots = nil
	e.cancel()
	e.mu.Unlock()
	e.removed.Add(int64(n))
	e.wg.Wait()
	e.warn.Flush(context.Background())
	e.info.Flush(context.Background())
	e.mu.Lock()
	e.state = Stopped
	e.mu.Unlock()
	return nil
}

// repeatEvery is how often a restart message that repeats (the same error, another user)
// is logged again.
const repeatEvery = 10 * time.Second

// AddUsers starts n more users and returns how many are active.
func (e *Engine) AddUsers(n int) (int, error) {
	if n <= 0 {
		return 0, fmt.Errorf("%w: amount must be > 0, got %d", ErrInvalidAmount, n)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changeLocked(len(e.slots) + n)
}

// RemoveUsers stops the n most recently added users (at most all of them) and returns how
// many are active. It does not wait for them to leave; Stop does.
func (e *Engine) RemoveUsers(n int) (int, error) {
	if n <= 0 {
		return 0, fmt.Errorf("%w: amount must be > 0, got %d", ErrInvalidAmount, n)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changeLocked(max(0, len(e.slots)-n))
}

// SetUsers makes exactly n users active, adding or removing as needed. Unlike AddUsers and
// RemoveUsers it is idempotent: a repeated call changes nothing.
func (e *Engine) SetUsers(n int) (int, error) {
	if n < 0 {
		return 0, fmt.Errorf("%w: amount must be >= 0, got %d", ErrInvalidAmount, n)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.changeLocked(n)
}

func (e *Engine) changeLocked(n int) (int, error) {
	if e.state != Running {
		return len(e.slots), ErrNotRunning
	}
	if n > e.opts.MaxActiveUsers {
		return len(e.slots), &LimitError{Requested: n, Max: e.opts.MaxActiveUsers}
	}
	e.setLocked(n)
	return n, nil
}

// setLocked adds or removes slots until there are n. Removal is LIFO, so the active users
// are always ids 1..n.
func (e *Engine) setLocked(n int) {
	for len(e.slots) > n {
		s := e.slots[len(e.slots)-1]
		e.slots = e.slots[:len(e.slots)-1]
		s.cancel()
		e.removed.Add(1)
	}
	for len(e.slots) < n {
		ctx, cancel := context.WithCancel(e.ctx)
		s := &slot{id: len(e.slots) + 1, cancel: cancel}
		e.slots = append(e.slots, s)
		e.added.Add(1)
		e.wg.Go(func() { e.runSlot(ctx, s.id) })
	}
}

// runSlot runs user id until ctx ends, restarting it with backoff when its session ends.
func (e *Engine) runSlot(ctx context.Context, id int) {
	retry := backoff.New(backoff.Policy{Initial: e.opts.RestartBackoff, Max: e.opts.MaxRestartBackoff,
		Jitter: max(0, e.opts.RestartJitter)})
	for ctx.Err() == nil {
		start := time.Now()
		err := e.runOnce(ctx, id)
		if ctx.Err() != nil {
			return
		}
		ok := e.restart(ctx, id, err, time.Since(start), retry)
		if e.opts.WaitOver != nil {
			e.opts.WaitOver(id)
		}
		if !ok {
			return
		}
	}
}

// restart counts and logs the end of user id's session (after ran, with err) and waits
// retry's next wait; false if ctx ended first. It is apart from runSlot so that a running
// user's stack holds none of its frame (see Noop.steady).
func (e *Engine) restart(ctx context.Context, id int, err error, ran time.Duration, retry *backoff.Backoff) bool {
	e.stopped.Add(1)
	if e.opts.SessionEnded != nil {
		e.opts.SessionEnded(id, err)
	}
	if ran > time.Minute {
		retry.Reset() // it ran long enough: not a crash loop
	}
	wait := retry.Next()
	if err != nil {
		e.errs.Add(1)
		e.m.userErrors.Inc()
		e.warn.Log(ctx, shape(err.Error()), "user session ended with an error; restarting",
			"user", id, "err", err, "backoff", wait.Round(time.Millisecond))
	} else {
		e.info.Log(ctx, "", "user session ended; restarting", "user", id)
	}
	return backoff.Sleep(ctx, wait) == nil
}

// runOnce makes and runs the user once; a panic in it becomes an error, not a crash. Its
// frame is under the user's for as long as the user runs, so the rest is in calls it
// returns from (see Noop.steady in internal/controller).
func (e *Engine) runOnce(ctx context.Context, id int) (err error) {
	defer recoverUser(id, &err)
	u, err := e.makeUser(id)
	if err != nil {
		return err
	}
	e.m.running.Inc()
	defer e.m.running.Dec()
	return u.Run(ctx)
}

// recoverUser, deferred, turns user id's panic into *err.
func recoverUser(id int, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("loadtest: user %d panicked: %v", id, r)
	}
}

// makeUser makes user id, naming it in the error.
func (e *Engine) makeUser(id int) (User, error) {
	u, err := e.newUser(id)
	if err != nil {
		return nil, fmt.Errorf("loadtest: make user %d: %w", id, err)
	}
	return u, nil
}

// Status returns the engine's state and counters.
func (e *Engine) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Status{State: e.state, StartTime: e.startTime, ActiveUsers: len(e.slots),
		NumUsersAdded: e.added.Load(), NumUsersRemoved: e.removed.Load(),
		NumUsersStopped: e.stopped.Load(), NumErrors: e.errs.Load()}
}

// MaxActiveUsers returns the configured limit.
func (e *Engine) MaxActiveUsers() int { return e.opts.MaxActiveUsers }

type engineMetrics struct {
	running    prometheus.Gauge
	userErrors prometheus.Counter
}

func newEngineMetrics(reg prometheus.Registerer, e *Engine) *engineMetrics {
	m := &engineMetrics{
		running: prometheus.NewGauge(prometheus.GaugeOpts{Name: "loadtest_users_running",
			Help: "User goroutines inside their Run method now (active users, less those between restarts)."}),
		userErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "loadtest_user_errors_total",
			Help: "User sessions that ended with an error."}),
	}
	if reg != nil {
		reg.MustRegister(m.running, m.userErrors,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "loadtest_active_users", Help: "Users that should be running now."},
				func() float64 { return float64(e.Status().ActiveUsers) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "loadtest_users_added_total", Help: "Users added since the run started."},
				func() float64 { return float64(e.added.Load()) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "loadtest_users_removed_total", Help: "Users removed since the run started."},
				func() float64 { return float64(e.removed.Load()) }),
		)
	}
	return m
}
