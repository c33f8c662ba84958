package controller

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/internal/testtools"
	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/loadtest"
	"github.com/loadtest/loadtest/mattermost"
)

func TestEnv_MultiplierShares(t *testing.T) {
	cfg := agentconfig.DefaultConfig()
	cfg.UserControllerConfiguration.RatesDistribution = []agentconfig.RateDistribution{
		{ThinkTimeMultiplier: 1, Percentage: 0.1}, {Rate: 3, Percentage: 0.6}, {ThinkTimeMultiplier: 30, Percentage: 0.3}}
	e := NewEnv("lt0", cfg, nil, nil)
	counts := map[float64]int{}
	const n = 20000
	for id := 1; id <= n; id++ {
		counts[e.Multiplier(id)]++
	}
	for m, want := range map[float64]float64{1: 0.1, 3: 0.6, 30: 0.3} {
		if got := float64(counts[m]) / n; math.Abs(got-want) > 0.015 {
			t.Errorf("share of multiplier %v = %.3f; want %.2f ±0.015", m, got, want)
		}
	}
	if e.Multiplier(42) != e.Multiplier(42) || e.Username(42) != "lt0-user42" {
		t.Error("a user's multiplier and name must be stable")
	}
}

// sickServer serves mmsim, except that GET /users/{id} (the noop action) answers 500, or
// hangs when hang is set.
func sickServer(t *testing.T, hang bool) (string, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	url := mmsimtest.WithFaults(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != "GET" || !strings.HasPrefix(r.URL.Path, "/api/v4/users/") || strings.Count(r.URL.Path, "/") != 4 {
			return false
		}
		calls.Add(1)
		if hang {
			<-r.Context().Done()
			return true
		}
		w.WriteHeader(500)
		_, _ = w.Write([]byte(`{"id":"app.internal","message":"boom","status_code":500}`))
		return true
	})
	return url, &calls
}

// runNoop runs one noop user for d and returns its metrics and registry.
func runNoop(t *testing.T, url string, timeoutMs int, d time.Duration) (*prometheus.Registry, error) {
	t.Helper()
	cfg := agentconfig.DefaultConfig()
	cfg.ConnectionConfiguration.ServerURL = url
	cfg.ConnectionConfiguration.RequestTimeoutMilliseconds = timeoutMs
	cfg.UserControllerConfiguration.Type = "noop"
	reg := prometheus.NewRegistry()
	env := NewEnv("lt0", cfg, usermetrics.New(reg, nil), nil)
	newUser, err := Factory(env)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := newUser(1)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return reg, u.Run(ctx)
}

// TestNoop_ServerErrors: a server answering 500 is counted as errors, the user backs off
// (1s, then 2s, then 4s between calls) and keeps its session.
func TestNoop_ServerErrors(t *testing.T) {
	url, calls := sickServer(t, false)
	reg, err := runNoop(t, url, 30000, 4500*time.Millisecond)
	if err != nil {
		t.Fatalf("Run = %v; a failing action must not end the session", err)
	}
	// Calls at about 1s, 3s (after 2s), then the next would be at 7s: 2 calls in 4.5s, where
	// a user without backoff would make 4.
	if n := calls.Load(); n != 2 {
		t.Errorf("the user called the failing route %d times in 4.5s; want 2 (backing off)", n)
	}
	if got := counter(t, reg, "loadtest_http_errors_total", "GET", "/users/{user_id}", "app.internal", "500"); got != float64(calls.Load()) {
		t.Errorf("loadtest_http_errors_total{GET /users/{user_id} 500} = %v; want %d", got, calls.Load())
	}
}

// TestNoop_BackToBack: with a period under a microsecond a noop user sends its next call as
// soon as the last response arrives, as wrk does (the agent's CPU benchmark relies on it),
// and still stops when its context ends. With a 50 ms period, every gap is at least 50 ms.
func TestNoop_BackToBack(t *testing.T) {
	srv := mmsimtest.Start(t, nil)
	h := srv.Handler()
	var mu sync.Mutex
	var gaps []time.Duration
	var lastEnd time.Time
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		me := r.Method == "GET" && r.URL.Path == "/api/v4/users/me"
		if me {
			mu.Lock()
			if !lastEnd.IsZero() {
				gaps = append(gaps, time.Since(lastEnd))
			}
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
		if me {
			mu.Lock()
			lastEnd = time.Now()
			mu.Unlock()
		}
	}))
	t.Cleanup(hs.Close)
	mmsimtest.CreateTeam(t, hs.URL, srv.Config, "team1")
	for _, c := range []struct {
		mult      float64
		maxMedian time.Duration
		minGap    time.Duration
	}{{1e-9, 25 * time.Millisecond, 0}, {0.05, time.Hour, 50 * time.Millisecond}} {
		mu.Lock()
		gaps, lastEnd = nil, time.Time{}
		mu.Unlock()
		cfg := agentconfig.DefaultConfig()
		cfg.ConnectionConfiguration.ServerURL = hs.URL
		cfg.UserControllerConfiguration.Type = "noop"
		cfg.UserControllerConfiguration.RatesDistribution = []agentconfig.RateDistribution{{ThinkTimeMultiplier: c.mult, Percentage: 1}}
		newUser, err := Factory(NewEnv("lt0", cfg, usermetrics.New(prometheus.NewRegistry(), nil), nil))
		if err != nil {
			t.Fatal(err)
		}
		u, _ := newUser(1)
		ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
		err = u.Run(ctx)
		cancel()
		if err != nil {
			t.Fatalf("multiplier %v: Run = %v", c.mult, err)
		}
		mu.Lock()
		g := slices.Clone(gaps)
		mu.Unlock()
		slices.Sort(g)
		if len(g) < 3 {
			t.Fatalf("multiplier %v: %d calls in 700 ms; want at least 4", c.mult, len(g)+1)
		}
		if g[len(g)/2] > c.maxMedian || g[0] < c.minGap {
			t.Errorf("multiplier %v: %d gaps between a response and the next call, median %v, shortest %v; want median <= %v and all >= %v",
				c.mult, len(g), g[len(g)/2], g[0], c.maxMedian, c.minGap)
		}
	}
}

// TestNoop_ServerHangs: a server that never answers gives timeouts, counted, and no panic.
func TestNoop_ServerHangs(t *testing.T) {
	url, calls := sickServer(t, true)
	reg, err := runNoop(t, url, 300, 2500*time.Millisecond)
	if err != nil {
		t.Fatalf("Run = %v", err)
	}
	if calls.Load() == 0 {
		t.Fatal("the user never called the hanging route")
	}
	if got := counter(t, reg, "loadtest_http_timeouts_total", "GET", "/users/{user_id}"); got < 1 {
		t.Errorf("loadtest_http_timeouts_total = %v; want >= 1", got)
	}
}

// counter returns the value of the counter named name in reg whose label values, in
// label-name order, are labels.
func counter(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := len(m.GetLabel()) == len(labels)
			for i, l := range m.GetLabel() {
				if i >= len(labels) || l.GetValue() != labels[i] {
					match = false
				}
			}
			if match {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no %s%v in the registry", name, labels)
	return 0
}

// TestEngine_AddRemoveRealUsers changes the number of real noop users while they run against
// mmsim: the server sees the WebSockets come and go, and the users left are the first ones.
func TestEngine_AddRemoveRealUsers(t *testing.T) {
	srv := mmsimtest.Start(t, nil)
	mmsimtest.CreateTeam(t, srv.URL, srv.Config, "team1")
	cfg := agentconfig.DefaultConfig()
	cfg.ConnectionConfiguration.ServerURL = srv.URL
	cfg.UserControllerConfiguration.Type = "noop"
	env := NewEnv("lt7", cfg, usermetrics.New(nil, nil), nil)
	newUser, _ := Factory(env)
	e, err := loadtest.New(loadtest.Options{InitialActiveUsers: 3, MaxActiveUsers: 10}, newUser, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sockets := func() float64 {
		mfs, _ := srv.Registry().Gather()
		for _, mf := range mfs {
			if mf.GetName() == "mattermost_http_websockets_total" {
				total := 0.0
				for _, m := range mf.GetMetric() {
					total += m.GetGauge().GetValue()
				}
				return total
			}
		}
		return 0
	}
	waitFor := func(want float64) {
		t.Helper()
		testtools.Eventually(t, 10*time.Second, fmt.Sprintf("%v WebSockets on the server", want), func() bool { return sockets() == want })
	}
	if err := e.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(3)
	if n, err := e.AddUsers(5); err != nil || n != 8 {
		t.Fatalf("AddUsers(5) = %d, %v", n, err)
	}
	waitFor(8)
	if n, err := e.RemoveUsers(6); err != nil || n != 2 {
		t.Fatalf("RemoveUsers(6) = %d, %v", n, err)
	}
	waitFor(2)
	if n, err := e.SetUsers(4); err != nil || n != 4 {
		t.Fatalf("SetUsers(4) = %d, %v", n, err)
	}
	waitFor(4)
	if err := e.Stop(); err != nil {
		t.Fatal(err)
	}
	waitFor(0)
	// The users that ever ran are lt7-user1..8, each signed up once.
	c, _ := mattermost.New(srv.URL, mattermost.Options{})
	if _, err := c.Login(context.Background(), "lt7-user8", Password); err != nil {
		t.Errorf("lt7-user8 cannot log in: %v", err)
	}
	if _, err := c.Login(context.Background(), "lt7-user9", Password); err == nil {
		t.Error("lt7-user9 exists; only 8 users ever ran")
	}
}
