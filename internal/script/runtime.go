package script

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"

	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/mattermost"
)

// Script is one script as a runtime runs it.
type Script struct {
	Program *Program
	Params  map[string]any // the user's params dict (JSON values)
	Share   float64        // share of users, > 0
	// Pace, if > 0, calls main once per Pace in the same user, and records each iteration's
	// time both from its actual start and from its intended start (wrk2's correction).
	Pace time.Duration

	index int // in Options.Scripts
}

// Options configure a Runtime.
type Options struct {
	AgentID string
	Scripts []Script
	// Targets are base URLs for relative URLs; user id uses Targets[(id-1) % len].
	Targets []string
	// HTTP returns the client a session sends its requests with: the agent's shared one, or a
	// new one per session when PerUserPool is set (its idle connections are closed when the
	// session ends). Each session gets its own cookie jar over the client's Transport.
	HTTP        func() *http.Client
	PerUserPool bool
	Metrics     *usermetrics.Metrics
	Log         *slog.Logger
	// MaxSteps is how many Starlark steps a user may take between two builtin calls
	// (default 1,000,000, some tens of milliseconds of CPU).
	MaxSteps uint64
	// MaxResponseBytes caps a response body or WebSocket message (default 10 MiB).
	MaxResponseBytes int64
	// MemoryLimit: when the Go heap is above it, the users that are interpreting (not
	// waiting in a builtin) are stopped with an error (default 1 GiB).
	MemoryLimit uint64
	// Grace is how long a leaving user's in-flight request may take to finish (default 5s).
	Grace time.Duration
}

// Runtime runs the scripted users of one agent.
type Runtime struct {
	opts        Options
	predeclared starlark.StringDict
	cum         []float64        // cumulative shares, ending at 1
	params      []starlark.Value // each script's params, frozen and shared
	hooks       wsHooks

	mu       sync.Mutex
	sessions map[*session]struct{} // guarded by mu: users now running main
	routes   map[string]bool       // guarded by mu: request names seen (capped)

	stop chan struct{}
	wg   sync.WaitGroup
}

// MaxRouteNames bounds the distinct request names a runtime records; past it, requests are
// recorded under "(other)". Name requests with name= when a URL carries ids.
const MaxRouteNames = 500

// NewRuntime builds a runtime and starts its memory watchdog; Close stops it.
func NewRuntime(o Options) (*Runtime, error) {
	if len(o.Scripts) == 0 {
		return nil, errors.New("script: no scripts")
	}
	if o.HTTP == nil {
		o.HTTP = func() *http.Client { return http.DefaultClient }
	}
	if o.Metrics == nil {
		o.Metrics = usermetrics.New(nil, nil)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.MaxSteps == 0 {
		o.MaxSteps = 1_000_000
	}
	if o.MaxResponseBytes <= 0 {
		o.MaxResponseBytes = 10 << 20
	}
	if o.MemoryLimit == 0 {
		o.MemoryLimit = 1 << 30
	}
	if o.Grace <= 0 {
		o.Grace = 5 * time.Second
	}
	total := 0.0
	for _, s := range o.Scripts {
		if s.Program == nil || !(s.Share > 0) {
			return nil, errors.New("script: every script needs a Program and a Share > 0")
		}
		total += s.Share
	}
	o.Scripts = slices.Clone(o.Scripts)
	r := &Runtime{opts: o, sessions: map[*session]struct{}{}, routes: map[string]bool{}, stop: make(chan struct{})}
	acc := 0.0
	for i := range r.opts.Scripts {
		s := &r.opts.Scripts[i]
		s.index = i
		p, err := toStarlark(s.Params)
		if err != nil {
			return nil, &Error{Script: s.Program.Name, Msg: "Params: " + err.Error()}
		}
		p.Freeze()
		r.params = append(r.params, p)
		acc += s.Share / total
		r.cum = append(r.cum, acc)
	}
	r.cum[len(r.cum)-1] = 1
	r.predeclared = builtins()
	ws := o.Metrics.WebSocketOptions(wsOptionsZero)
	r.hooks = wsHooks{connect: ws.OnConnect, disconnect: ws.OnDisconnect, drop: func() { ws.OnDrop(mattermost.Event{}) }}
	r.wg.Go(r.watchdog)
	return r, nil
}

// Close stops the watchdog. Call it when the users are gone.
func (r *Runtime) Close() {
	close(r.stop)
	r.wg.Wait()
}

// ScriptFor returns the index of the script user id runs: ids walk the golden-ratio sequence
// over the cumulative shares, so every prefix 1..n of users holds the shares closely (users
// are removed newest first).
func (r *Runtime) ScriptFor(id int) int {
	u := math.Mod(float64(id)*0.6180339887498949, 1)
	for i, c := range r.cum {
		if u < c {
			return i
		}
	}
	return len(r.cum) - 1
}

// NewUser returns user id (1-based); it implements loadtest.User.
func (r *Runtime) NewUser(id int) *User {
	return &User{rt: r, id: id, sc: &r.opts.Scripts[r.ScriptFor(id)]}
}

// watchdog stops interpreting users while the heap is over the limit.
func (r *Runtime) watchdog() {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		metrics.Read(sample)
		if sample[0].Value.Kind() != metrics.KindUint64 {
			continue
		}
		heap := sample[0].Value.Uint64()
		if heap <= r.opts.MemoryLimit {
			continue
		}
		reason := fmt.Sprintf("memory limit: the agent's heap is %d MiB, over Script.MemoryLimitMB (%d MiB)", heap>>20, r.opts.MemoryLimit>>20)
		r.mu.Lock()
		n := 0
		for s := range r.sessions {
			if !s.waiting.Load() {
				s.thread.Cancel(reason)
				n++
			}
		}
		r.mu.Unlock()
		if n > 0 {
			r.opts.Log.Warn("stopped scripted users over the memory limit", "users", n, "heap_mib", heap>>20)
		}
	}
}

// routeName returns name, or "(other)" once MaxRouteNames names are in use.
func (r *Runtime) routeName(name string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.routes[name] {
		return name
	}
	if len(r.routes) >= MaxRouteNames {
		return "(other)"
	}
	r.routes[name] = true
	return name
}

// User is one scripted user.
type User struct {
	rt *Runtime
	id int
	sc *Script
}

// ErrIdle says main returned without calling any builtin, so restarting it at once would
// spin; the engine restarts the user after its backoff instead.
var ErrIdle = errors.New("main() returned without calling a builtin (nothing to measure)")

// Run implements loadtest.User: it runs main in a fresh session, and when main returns runs
// it again in a fresh one (a returning script is replaced, so the count holds), or, with a
// pace, calls main once per pace in the same session. It returns nil when ctx ends, and an
// error when the script fails.
func (u *User) Run(ctx context.Context) error {
	if u.sc.Pace > 0 {
		return u.runPaced(ctx)
	}
	for ctx.Err() == nil {
		s, err := u.newSession(ctx)
		if err != nil {
			return err
		}
		start := time.Now()
		err = s.call(ctx, "main")
		s.close()
		if err == nil || ctx.Err() == nil { // a main the user's leaving cut short is not an iteration
			u.rt.opts.Metrics.ObserveAction(ActionName(u.sc.Program.Name), time.Since(start), err)
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if s.calls == 0 {
			return fmt.Errorf("script %s: %w", u.sc.Program.Name, ErrIdle)
		}
	}
	return nil
}

// runPaced calls main once per pace on a fixed schedule. When an iteration overruns, the
// next starts at once, and its intended start stays on the schedule, so the "(intended)"
// latency includes the wait a real client would have seen.
func (u *User) runPaced(ctx context.Context) error {
	s, err := u.newSession(ctx)
	if err != nil {
		return err
	}
	defer s.close()
	pace := u.sc.Pace
	// Spread the users' first iterations over one pace, so they do not start in lockstep.
	intended := time.Now().Add(time.Duration(s.rng.Int64N(int64(pace))))
	t := time.NewTimer(time.Until(intended))
	defer t.Stop()
	name := ActionName(u.sc.Program.Name)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		start := time.Now()
		before := s.calls
		err := s.call(ctx, "main")
		if ctx.Err() != nil {
			return nil
		}
		end := time.Now()
		m := u.rt.opts.Metrics
		m.ObserveAction(name, end.Sub(start), err)
		m.Recorder.Record(usermetrics.ActionPrefix+name+IntendedSuffix, end.Sub(intended), err != nil)
		if err != nil {
			return err
		}
		if s.calls == before {
			return fmt.Errorf("script %s: %w", u.sc.Program.Name, ErrIdle)
		}
		intended = intended.Add(pace)
		t.Reset(max(0, time.Until(intended)))
	}
}

// ActionName is the action under which a script's iterations are recorded.
func ActionName(script string) string { return "script " + script }

// IntendedSuffix marks the iteration times measured from their intended start.
const IntendedSuffix = " (intended)"

// session is one run of a script: its thread, globals and open connections. Only the
// user's goroutine touches it, but for waiting and thread, which the watchdog reads.
type session struct {
	u       *User
	ctx     context.Context
	thread  *starlark.Thread
	globals starlark.StringDict
	client  *http.Client
	rng     *rand.Rand
	timings map[string]time.Time
	conns   map[int64]*wsConn
	nextWS  int64
	calls   int         // builtin calls made
	waiting atomic.Bool // in a builtin, not interpreting
}

// newSession makes a fresh thread and runs the script's top level.
func (u *User) newSession(ctx context.Context) (*session, error) {
	rt := u.rt
	seed := fnv.New64a()
	fmt.Fprintf(seed, "%s/%d/%d", rt.opts.AgentID, u.id, time.Now().UnixNano())
	s := &session{u: u, ctx: ctx, rng: rand.New(rand.NewPCG(seed.Sum64(), uint64(u.id))),
		timings: map[string]time.Time{}, conns: map[int64]*wsConn{}}
	hc := rt.opts.HTTP()
	jar, _ := cookiejar.New(nil) // never fails without options
	s.client = &http.Client{Transport: hc.Transport, Timeout: hc.Timeout, Jar: jar, CheckRedirect: hc.CheckRedirect}
	name := u.sc.Program.Name
	s.thread = &starlark.Thread{Name: fmt.Sprintf("%s/user%d", name, u.id),
		Print: func(_ *starlark.Thread, msg string) { rt.opts.Log.Info(msg, "script", name, "user", u.id) }}
	s.thread.SetLocal(sessionKey, s)
	s.thread.SetMaxExecutionSteps(rt.opts.MaxSteps)
	predeclared := make(starlark.StringDict, len(rt.predeclared)+4)
	for k, v := range rt.predeclared {
		predeclared[k] = v
	}
	predeclared["params"] = rt.params[u.sc.index]
	predeclared["user_id"] = starlark.MakeInt(u.id)
	predeclared["agent_id"] = starlark.String(rt.opts.AgentID)
	target := ""
	if n := len(rt.opts.Targets); n > 0 {
		target = rt.opts.Targets[(u.id-1)%n]
	}
	predeclared["target"] = starlark.String(target)
	if err := s.interpret(ctx, func() error {
		g, err := u.sc.Program.prog.Init(s.thread, predeclared)
		s.globals = g
		return err
	}); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// call calls the global function fn with no arguments.
func (s *session) call(ctx context.Context, fn string) error {
	return s.interpret(ctx, func() error {
		_, err := starlark.Call(s.thread, s.globals[fn], nil, nil)
		return err
	})
}

// interpret runs f with the thread registered for the watchdog and cancelled when ctx ends.
func (s *session) interpret(ctx context.Context, f func() error) error {
	rt := s.u.rt
	rt.mu.Lock()
	rt.sessions[s] = struct{}{}
	rt.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { s.thread.Cancel("the user is leaving") })
	err := f()
	stop()
	rt.mu.Lock()
	delete(rt.sessions, s)
	rt.mu.Unlock()
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil: // cut short by the user's leaving
		return ctx.Err()
	}
	return runtimeError(s.u.sc.Program.Name, err, rt.opts.MaxSteps)
}

// enter marks the start of a builtin call; the returned func marks its end and gives the
// script a fresh step budget.
func (s *session) enter() func() {
	s.calls++
	s.waiting.Store(true)
	return func() {
		s.waiting.Store(false)
		s.thread.SetMaxExecutionSteps(s.thread.ExecutionSteps() + s.u.rt.opts.MaxSteps)
	}
}

// close closes the session's WebSocket connections.
func (s *session) close() {
	for id, c := range s.conns {
		c.closeNow()
		delete(s.conns, id)
	}
	if s.u.rt.opts.PerUserPool {
		s.client.CloseIdleConnections()
	}
}

const sessionKey = "loadtest.session"

func sessionOf(t *starlark.Thread) *session {
	s, _ := t.Local(sessionKey).(*session)
	return s
}
