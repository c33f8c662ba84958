package agent

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/loadtest"
)

// ServerOptions configure a Server.
type ServerOptions struct {
	Log *slog.Logger // nil: discard
	// Interval is how often each load test closes a metrics interval; 0: 1s.
	Interval time.Duration
	// NewUser, if set, makes the users of every load test instead of the controllers that
	// UserControllerConfiguration.Type names (custom behaviour, tests). A user that has a
	// start-up sequence (login, first loads) calls starting when it begins and the done it
	// returns when it ends, so the load test's status counts it in UsersStarting.
	NewUser func(id string, cfg agentconfig.Config, starting func() (done func())) (loadtest.NewUserFunc, error)
}

// Server holds the load tests of one agent process, by id. Its methods are the agent's
// operations; api.Handler serves them over HTTP. All are safe for concurrent use.
type Server struct {
	opts   ServerOptions
	log    *slog.Logger
	ctx    context.Context // the users' context; Shutdown cancels it
	cancel context.CancelFunc
	base   *prometheus.Registry // process and Go metrics

	mu    sync.RWMutex
	tests map[string]*loadTest // guarded by mu
	down  bool                 // guarded by mu: Shutdown was called
}

// NewServer returns a Server with no load tests.
func NewServer(opts ServerOptions) *Server {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Interval <= 0 {
		opts.Interval = time.Second
	}
	s := &Server{opts: opts, log: opts.Log, tests: map[string]*loadTest{}, base: prometheus.NewRegistry()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.base.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "loadtest_agent_loadtests", Help: "Load tests on this agent."},
			func() float64 { s.mu.RLock(); defer s.mu.RUnlock(); return float64(len(s.tests)) }))
	return s
}

// Create adds a stopped load test with the given config; it runs on Run.
func (s *Server) Create(id string, cfg agentconfig.Config) error {
	if err := ValidID(id); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return Errorf(ErrBadRequest, "config: %v", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		return Errorf(ErrConflict, "the agent is shutting down")
	}
	if _, ok := s.tests[id]; ok {
		return Errorf(ErrConflict, "load test %s already exists; DELETE /loadagent/%s first to replace it", id, id)
	}
	lt, err := newLoadTest(s.ctx, id, cfg, s.opts.NewUser, s.opts.Interval, s.log)
	if err != nil {
		return err
	}
	s.tests[id] = lt
	s.log.Info("load test created", "loadtest", id, "server_url", cfg.ConnectionConfiguration.ServerURL,
		"type", cfg.UserControllerConfiguration.Type, "max_active_users", cfg.UsersConfiguration.MaxActiveUsers)
	return nil
}

func (s *Server) get(id string) (*loadTest, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	lt, ok := s.tests[id]
	if !ok {
		return nil, Errorf(ErrNotFound, "load test %s not found", id)
	}
	return lt, nil
}

// with runs f on load test id and returns its status afterwards.
func (s *Server) with(id string, f func(*loadTest) error) (Status, error) {
	lt, err := s.get(id)
	if err != nil {
		return Status{}, err
	}
	if err := f(lt); err != nil {
		return lt.status(), err
	}
	return lt.status(), nil
}

// Run starts load test id with UsersConfiguration.InitialActiveUsers users.
func (s *Server) Run(id string) (Status, error) { return s.with(id, (*loadTest).run) }

// Stop stops every user of load test id and waits for them (they log out).
func (s *Server) Stop(id string) (Status, error) { return s.with(id, (*loadTest).stop) }

// AddUsers starts n more users; n must be > 0, and the total may not pass MaxActiveUsers.
func (s *Server) AddUsers(id string, n int) (Status, error) {
	if n <= 0 {
		return Status{}, Errorf(ErrBadRequest, "amount %d: must be > 0", n)
	}
	return s.with(id, func(lt *loadTest) error { return lt.change(n) })
}

// RemoveUsers stops the n newest users (all of them if there are fewer); n must be > 0.
func (s *Server) RemoveUsers(id string, n int) (Status, error) {
	if n <= 0 {
		return Status{}, Errorf(ErrBadRequest, "amount %d: must be > 0", n)
	}
	return s.with(id, func(lt *loadTest) error { return lt.change(-n) })
}

// SetUsers makes exactly n users active (idempotent). With seq > 0, a seq older than the
// last one applied in this run is a conflict, and a repeat of it changes nothing.
func (s *Server) SetUsers(id string, n int, seq uint64) (Status, error) {
	if n < 0 {
		return Status{}, Errorf(ErrBadRequest, "amount %d: must be >= 0", n)
	}
	return s.with(id, func(lt *loadTest) error { return lt.setUsers(n, seq) })
}

// Status returns load test id's status.
func (s *Server) Status(id string) (Status, error) {
	return s.with(id, func(*loadTest) error { return nil })
}

// List returns every load test's status, by id.
func (s *Server) List() map[string]Status {
	s.mu.RLock()
	tests := make([]*loadTest, 0, len(s.tests))
	for _, lt := range s.tests {
		tests = append(tests, lt)
	}
	s.mu.RUnlock()
	out := make(map[string]Status, len(tests))
	for _, lt := range tests {
		out[lt.id] = lt.status()
	}
	return out
}

// Metrics returns what load test id recorded after interval since.
func (s *Server) Metrics(id string, since uint64) (MetricsPage, error) {
	lt, err := s.get(id)
	if err != nil {
		return MetricsPage{}, err
	}
	p, err := lt.metrics(since)
	if err != nil {
		return MetricsPage{}, err
	}
	return p.decode()
}

// SparseMetrics is Metrics with the histograms in their compact form, as the HTTP API
// sends them.
func (s *Server) SparseMetrics(id string, since uint64) (SparsePage, error) {
	lt, err := s.get(id)
	if err != nil {
		return SparsePage{}, err
	}
	return lt.metrics(since)
}

// Destroy stops load test id if it runs, and removes it. Its final status is returned.
func (s *Server) Destroy(id string) (Status, error) {
	s.mu.Lock()
	lt, ok := s.tests[id]
	delete(s.tests, id)
	s.mu.Unlock()
	if !ok {
		return Status{}, Errorf(ErrNotFound, "load test %s not found", id)
	}
	lt.close()
	s.log.Info("load test destroyed", "loadtest", id)
	return lt.status(), nil
}

// Shutdown stops every load test (their users log out), refuses new ones, and waits until
// all users are gone or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.down = true
	ids := slices.Sorted(maps.Keys(s.tests))
	s.mu.Unlock()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var wg sync.WaitGroup
		for _, id := range ids {
			wg.Go(func() {
				if _, err := s.Destroy(id); err != nil && !errors.Is(err, ErrNotFound) {
					s.log.Warn("destroy load test", "loadtest", id, "err", err)
				}
			})
		}
		wg.Wait()
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel() // the users' requests end now
		<-done
		return ctx.Err()
	}
}

// Gatherer gathers the process metrics and every load test's, each labelled loadtest_id.
func (s *Server) Gatherer() prometheus.Gatherer {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g := prometheus.Gatherers{s.base}
	for _, lt := range s.tests {
		g = append(g, lt.reg)
	}
	return g
}

// Gatherer is the agent's exposition (what GET /metrics serves), read in process: an
// embedded Prometheus engine in the same process scrapes it without a port.
func (l *Local) Gatherer() prometheus.Gatherer {
	return prometheus.GathererFunc(func() ([]*dto.MetricFamily, error) { return l.s.Gatherer().Gather() })
}

// Local is load test id on an in-process Server, with the coordinator's Agent method set.
type Local struct {
	s  *Server
	id string
}

// LoadTest returns a handle on load test id (which need not exist yet: Create makes it).
func (s *Server) LoadTest(id string) *Local { return &Local{s: s, id: id} }

// ID returns the load test's id.
func (l *Local) ID() string { return l.id }

// Version returns this process's build.
func (l *Local) Version(context.Context) (Version, error) { return BuildVersion(), nil }

// Create creates the load test with cfg.
func (l *Local) Create(_ context.Context, cfg agentconfig.Config) error { return l.s.Create(l.id, cfg) }

// Run starts it.
func (l *Local) Run(context.Context) (Status, error) { return l.s.Run(l.id) }

// SetUsers makes n users active; see Server.SetUsers.
func (l *Local) SetUsers(_ context.Context, n int, seq uint64) (Status, error) {
	return l.s.SetUsers(l.id, n, seq)
}

// Status returns its status.
func (l *Local) Status(context.Context) (Status, error) { return l.s.Status(l.id) }

// Metrics returns what it recorded after interval since.
func (l *Local) Metrics(_ context.Context, since uint64) (MetricsPage, error) {
	return l.s.Metrics(l.id, since)
}

// Stop stops its users.
func (l *Local) Stop(context.Context) (Status, error) { return l.s.Stop(l.id) }

// Destroy stops and removes it.
func (l *Local) Destroy(context.Context) error {
	_, err := l.s.Destroy(l.id)
	return err
}
