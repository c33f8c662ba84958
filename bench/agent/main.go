//go:build !windows

// (The benchmarks read getrusage, which Windows lacks; they run where the agents are measured.)

// Command agent measures the load-test agent itself, against a server running in another
// process (bench/agent.sh starts mmsim pinned to its own core):
//
//	-mode idle: memory per connected idle user (logged in, WebSocket open, no actions),
//	            averaged over all users and for the second half alone (the marginal cost);
//	            users are added -ramp-rate a second, or half at once and then the rest;
//	-mode cpu:  agent CPU time per HTTP request, with noop users calling as fast as they can;
//	-mode ramp: the most simulative users the agent sustains at utilization <= 0.8;
//	-mode warm: memory per warm simulative user, after -duration of activity;
//	-mode record: one simulative user's REST requests, as bench/k6-replay.js replays them.
//
// It prints its results on one or two lines.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/controller"
	"github.com/loadtest/loadtest/internal/gctune"
	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/loadtest"
)

func main() {
	server := flag.String("server-url", "http://127.0.0.1:18065", "target")
	mode := flag.String("mode", "idle", "idle, cpu or ramp")
	step := flag.Int("step", 1000, "ramp mode: users added per step")
	settle := flag.Duration("settle", 10*time.Second, "ramp mode: time per step, after the users have started, before utilization is sampled")
	window := flag.Duration("window", 30*time.Second, "ramp mode: how long utilization is sampled (every second) per step")
	users := flag.Int("users", 1000, "users")
	duration := flag.Duration("duration", 10*time.Second, "cpu mode: how long to measure; warm mode: how long the users are active before their memory is measured")
	cpuProfile := flag.String("cpuprofile", "", "cpu mode: write a CPU profile of the measured interval here; ramp mode: of each step's window, to this path plus .N (the step's users)")
	memProfile := flag.String("memprofile", "", "idle mode: write a heap profile here; ramp mode: one per step, to path.N")
	httpClient := flag.String("http-client", "", "ConnectionConfiguration.HTTPClient: fasthttp or net/http (empty: the default)")
	rampRate := flag.Int("ramp-rate", 0, "idle and ramp modes: add at most this many users a second (0: idle adds half at once, then the other half; ramp adds each step at once)")
	hold := flag.Duration("hold", 0, "idle mode: keep the users connected this long after measuring (to inspect the process: GOTRACEBACK=system and SIGQUIT print each frame's sp and fp)")
	out := flag.String("out", "recorded.json", "record mode: where the recorded session goes")
	images := flag.String("profile-images", "", "simulative modes: UserControllerConfiguration.Simulative.ProfileImages, browser or revalidate (empty: the default)")
	flag.Parse()
	gctune.Apply() // as the agent runs, unless GOGC is set
	profiles.cpu, profiles.mem, profiles.hold, profiles.rampRate, profiles.httpClient = *cpuProfile, *memProfile, *hold, *rampRate, *httpClient
	profiles.images = *images
	if *memProfile != "" && *mode != "ramp" {
		runtime.MemProfileRate = 1 // every allocation: a user's objects are small and few
	}
	if *mode == "record" {
		if err := record(*server, *users, *rampRate, *duration, *out); err != nil {
			fmt.Fprintln(os.Stderr, "agent bench:", err)
			os.Exit(1)
		}
		return
	}
	if *mode == "warm" {
		if err := warm(*server, *users, *rampRate, *duration); err != nil {
			fmt.Fprintln(os.Stderr, "agent bench:", err)
			os.Exit(1)
		}
		return
	}
	if *mode == "ramp" {
		if err := ramp(*server, *users, *step, *rampRate, *settle, *window); err != nil {
			fmt.Fprintln(os.Stderr, "agent bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*server, *mode, *users, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "agent bench:", err)
		os.Exit(1)
	}
}

var profiles struct {
	cpu, mem   string
	hold       time.Duration
	rampRate   int
	httpClient string
	images     string // Simulative.ProfileImages
}

func rssKB() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return n
		}
	}
	return 0
}

// memory returns heap and stack bytes in use after enough collections for idle goroutines'
// stacks to shrink (each GC halves a stack that uses under a quarter of it).
func memory() (heap, stacks uint64) {
	for range 5 {
		runtime.GC()
	}
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func run(server, mode string, users int, duration time.Duration) error {
	cfg := agentconfig.DefaultConfig()
	cfg.ConnectionConfiguration.ServerURL = server
	cfg.ConnectionConfiguration.HTTPClient = cmp.Or(profiles.httpClient, cfg.ConnectionConfiguration.HTTPClient)
	cfg.UserControllerConfiguration.Type = "noop"
	mult := 1e6 // idle: one GET /users/me every 11 days
	if mode == "cpu" {
		mult = 1e-9 // a period under 1 µs: each user calls back to back, as wrk's connections do
	}
	cfg.UserControllerConfiguration.RatesDistribution = []agentconfig.RateDistribution{{ThinkTimeMultiplier: mult, Percentage: 1}}
	initial := users
	if mode == "idle" {
		initial = 0 // added below: half, then the rest, to measure the second half's cost alone
	}
	e, m, reg, err := newEngine("bench", cfg, initial, users)
	if err != nil {
		return err
	}
	baseHeap, baseStacks := memory()
	baseRSS := rssKB()
	if err := e.Run(context.Background()); err != nil {
		return err
	}
	defer func() { _ = e.Stop() }()
	// ramp adds users up to n, at most rampRate a second (as the coordinator's RampRate
	// does), or all at once with no rate, and waits until they are connected.
	ramp := func(n int) error {
		if err := addUsers(e, n, profiles.rampRate); err != nil {
			return err
		}
		connected := func() float64 { return gauge(reg, "loadtest_websocket_connections_total") }
		return waitUntil(func() bool { return connected() >= float64(n) },
			func() string { return fmt.Sprintf("only %v of %d users connected", connected(), n) })
	}
	if err := ramp(initial); err != nil {
		return err
	}
	switch mode {
	case "idle":
		half := users / 2
		if err := ramp(half); err != nil {
			return err
		}
		time.Sleep(2 * time.Second) // let the login sequence's buffers settle
		halfHeap, halfStacks := memory()
		halfRSS := rssKB()
		if err := ramp(users); err != nil {
			return err
		}
		time.Sleep(2 * time.Second)
		heap, stacks := memory()
		rss := rssKB()
		if profiles.mem != "" {
			f, err := os.Create(profiles.mem)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.WriteHeapProfile(f); err != nil {
				return err
			}
		}
		// The average includes what the agent shares among its users (idle REST connections,
		// histograms) and the heap's fragmentation from the first logins; the marginal cost
		// is what each of the second half's users added.
		more := users - half
		fmt.Printf("idle users=%d goroutines=%d heap/user=%.1fKB stacks/user=%.1fKB total/user=%.1fKB rss/user=%.1fKB\n",
			users, runtime.NumGoroutine(), per(heap, baseHeap, users), per(stacks, baseStacks, users),
			per(heap+stacks, baseHeap+baseStacks, users), float64(rss-baseRSS)/float64(users))
		fmt.Printf("idle marginal (users %d -> %d): heap/user=%.1fKB stacks/user=%.1fKB total/user=%.1fKB rss/user=%.1fKB\n",
			half, users, per(heap, halfHeap, more), per(stacks, halfStacks, more),
			per(heap+stacks, halfHeap+halfStacks, more), float64(rss-halfRSS)/float64(more))
		time.Sleep(profiles.hold)
	case "cpu":
		if profiles.cpu != "" {
			f, err := os.Create(profiles.cpu)
			if err != nil {
				return err
			}
			defer f.Close()
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
			defer pprof.StopCPUProfile()
		}
		c0, r0, t0 := cpuTime(), requests(m), time.Now()
		time.Sleep(duration)
		c1, r1, el := cpuTime(), requests(m), time.Since(t0)
		n := r1 - r0
		fmt.Printf("cpu users=%d requests=%.0f rate=%.0f/s agent_cpu=%.2fs cpu_per_request=%.1fus\n", users, n, n/el.Seconds(),
			(c1 - c0).Seconds(), float64((c1-c0).Microseconds())/n)
	default:
		return fmt.Errorf("-mode must be idle or cpu, got %q", mode)
	}
	return nil
}

// ramp adds simulative users (default think times) step by step up to max, at most rate a
// second (0: each step at once), and measures each step as the coordinator judges an agent:
// once the users have started (loadtest_users_starting is 0) and settle has passed, it samples
// the utilization every second over window, as the agent server does, and the step is
// sustained when at most usermetrics.MaxOverShare of the samples are above 0.8, as the
// coordinator judges a probe. It prints the CPU share and the p99 schedule lag apart, the
// memory per user, and the most users sustained.
func ramp(server string, maxUsers, step, rate int, settle, window time.Duration) error {
	e, m, reg, err := startSimulative("ramp", server, maxUsers)
	if err != nil {
		return err
	}
	defer func() { _ = e.Stop() }()
	procs := float64(runtime.GOMAXPROCS(0))
	baseHeap, baseStacks := memory()
	best := 0
	for n := step; n <= maxUsers; n += step {
		if err := addUsers(e, n, rate); err != nil {
			return err
		}
		starting := func() float64 { return gauge(reg, "loadtest_users_starting") }
		if err := waitUntil(func() bool { return starting() == 0 },
			func() string { return fmt.Sprintf("%v of %d users still starting", starting(), n) }); err != nil {
			return err
		}
		time.Sleep(settle)
		var utils, cpus, lags []float64
		reqs0, events0, c0, w0 := requests(m), counter(reg, "loadtest_websocket_events_total"), cpuTime(), time.Now()
		m.SampleUtilization() // a fresh window
		stopProfile, err := startProfile(profiles.cpu, n)
		if err != nil {
			return err
		}
		for range int(window / time.Second) {
			c := cpuTime()
			time.Sleep(time.Second)
			u := m.SampleUtilization()
			utils, lags = append(utils, u.Value()), append(lags, u.Lag)
			cpus = append(cpus, (cpuTime()-c).Seconds()/procs)
		}
		stopProfile()
		el := time.Since(w0).Seconds()
		cpu := (cpuTime() - c0).Seconds() / el / procs
		rps, eps := (requests(m)-reqs0)/el, (counter(reg, "loadtest_websocket_events_total")-events0)/el
		over := usermetrics.OverShare(utils, usermetrics.SaturatedAbove)
		lagged := 0 // seconds whose utilization came from the lag, not the CPU
		for i, u := range utils {
			if u > cpus[i]+0.01 {
				lagged++
			}
		}
		heap, stacks := memory()
		if err := writeHeapProfile(profiles.mem, n); err != nil {
			return err
		}
		slices.Sort(utils)
		fmt.Printf("ramp users=%d cpu=%.2f cpu_max=%.2f lag_max=%.2f utilization median=%.2f max=%.2f over_0.8=%.0f%% lag_limited_s=%d/%d req/s=%.0f cpu_per_req=%.0fus events/s=%.0f heap+stacks=%.0fMB mem/user=%.1fKB user_errors=%d\n",
			n, cpu, slices.Max(cpus), slices.Max(lags), utils[len(utils)/2], utils[len(utils)-1], 100*over, lagged, len(utils),
			rps, cpu*procs*1e6/max(rps, 1), eps, float64(heap+stacks)/(1<<20), per(heap+stacks, baseHeap+baseStacks, n),
			e.Status().NumErrors)
		if over > usermetrics.MaxOverShare {
			break
		}
		best = n
	}
	fmt.Printf("ramp: the most simulative users sustained with at most %.0f%% of the 1 s utilization samples over %v above %.1f, of at most %d tried:\n",
		100*usermetrics.MaxOverShare, window, usermetrics.SaturatedAbove, maxUsers)
	fmt.Printf("sustained %d simulative users on one core\n", best) // the last line, for scripts comparing runs
	return nil
}

// per is the KB per user that n users added to memory in use.
func per(now, base uint64, n int) float64 { return (float64(now) - float64(base)) / 1024 / float64(n) }

// warm runs n simulative users (default think times) for d, then measures the memory of a
// warm user: all of them are measured, then half leave and are measured again, so what
// the agent shares among its users (histograms, the connection pool) and what the first
// logins fragmented cancel out. It also prints the CPU share and requests of the last
// minute, and writes a heap profile (-memprofile) of the warm population.
func warm(server string, n, rate int, d time.Duration) error {
	e, m, reg, err := startSimulative("warm", server, n)
	if err != nil {
		return err
	}
	defer func() { _ = e.Stop() }()
	baseHeap, baseStacks := memory()
	start := time.Now()
	if err := addUsers(e, n, rate); err != nil {
		return err
	}
	if err := waitUntil(func() bool { return gauge(reg, "loadtest_users_starting") == 0 },
		func() string { return "users still starting" }); err != nil {
		return err
	}
	time.Sleep(time.Until(start.Add(d - time.Minute)))
	reqs0, c0, w0 := requests(m), cpuTime(), time.Now()
	time.Sleep(time.Until(start.Add(d)))
	el := time.Since(w0).Seconds()
	rps, cpu := (requests(m)-reqs0)/el, (cpuTime()-c0).Seconds()/el/float64(runtime.GOMAXPROCS(0))
	heap, stacks := memory()
	if err := writeHeapProfile(profiles.mem, n); err != nil {
		return err
	}
	half := n / 2
	if _, err := e.SetUsers(half); err != nil {
		return err
	}
	if err := waitUntil(func() bool { return e.Status().ActiveUsers == half },
		func() string { return fmt.Sprintf("%d users still active", e.Status().ActiveUsers) }); err != nil {
		return err
	}
	time.Sleep(5 * time.Second) // the leavers' logouts and closed connections
	halfHeap, halfStacks := memory()
	fmt.Printf("warm users=%d after=%v cpu=%.2f req/s=%.0f all/user=%.1fKB (heap %.1f, stacks %.1f) errors=%d\n",
		n, d, cpu, rps, per(heap+stacks, baseHeap+baseStacks, n), per(heap, baseHeap, n), per(stacks, baseStacks, n), e.Status().NumErrors)
	fmt.Printf("warm per user (the %d that left): %.1fKB (heap %.1f, stacks %.1f)\n",
		n-half, per(heap+stacks, halfHeap+halfStacks, n-half), per(heap, halfHeap, n-half), per(stacks, halfStacks, n-half))
	return nil
}

// writeHeapProfile writes a heap profile of one ramp step to path.N ("": none).
func writeHeapProfile(path string, n int) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", path, n))
	if err != nil {
		return err
	}
	defer f.Close()
	return pprof.WriteHeapProfile(f)
}

// startProfile starts a CPU profile of one ramp step to path.N ("" : none); the func it
// returns stops it.
func startProfile(path string, n int) (func(), error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", path, n))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// addUsers raises e's users to n, at most rate a second (0: at once), as the coordinator's
// RampRate does.
func addUsers(e *loadtest.Engine, n, rate int) error {
	for cur := e.Status().ActiveUsers; cur < n; {
		cur = n
		if rate > 0 {
			cur = min(n, e.Status().ActiveUsers+rate)
		}
		if _, err := e.SetUsers(cur); err != nil {
			return err
		}
		if cur < n {
			time.Sleep(time.Second)
		}
	}
	return nil
}

// waitUntil polls cond every 100 ms for up to 2 minutes; then it fails with what's words.
func waitUntil(cond func() bool, what func() string) error {
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s after 2 minutes", what())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil
}

// requests is how many HTTP requests m has recorded.
func requests(m *usermetrics.Metrics) float64 {
	n := 0.0
	for k, v := range m.Recorder.Snapshot() {
		if strings.HasPrefix(k, usermetrics.RoutePrefix) {
			n += float64(v.Hist.TotalCount())
		}
	}
	return n
}

// gauge is the value of the gauge name in reg (its first series), 0 if absent.
func gauge(reg *prometheus.Registry, name string) float64 {
	return metric(reg, name).GetGauge().GetValue()
}

// counter is the value of the counter name in reg (its first series), 0 if absent.
func counter(reg *prometheus.Registry, name string) float64 {
	return metric(reg, name).GetCounter().GetValue()
}

func metric(reg *prometheus.Registry, name string) *dto.Metric {
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			return mf.GetMetric()[0]
		}
	}
	return nil
}

// startSimulative starts an engine of simulative users (the default config against server),
// with none running yet.
func startSimulative(name, server string, maxUsers int) (*loadtest.Engine, *usermetrics.Metrics, *prometheus.Registry, error) {
	cfg := agentconfig.DefaultConfig()
	cfg.ConnectionConfiguration.ServerURL = server
	cfg.ConnectionConfiguration.HTTPClient = cmp.Or(profiles.httpClient, cfg.ConnectionConfiguration.HTTPClient)
	sim := &cfg.UserControllerConfiguration.Simulative
	sim.ProfileImages = cmp.Or(profiles.images, sim.ProfileImages)
	if err := sim.Validate(); err != nil {
		return nil, nil, nil, err
	}
	e, m, reg, err := newEngine(name, cfg, 0, maxUsers)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := e.Run(context.Background()); err != nil {
		return nil, nil, nil, err
	}
	return e, m, reg, nil
}

// newEngine builds an engine of cfg's users, with their metrics in a fresh registry.
func newEngine(agentID string, cfg agentconfig.Config, initial, maxUsers int) (*loadtest.Engine, *usermetrics.Metrics, *prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	m := usermetrics.New(reg, nil)
	newUser, err := controller.Factory(controller.NewEnv(agentID, cfg, m, nil))
	if err != nil {
		return nil, nil, nil, err
	}
	e, err := loadtest.New(loadtest.Options{InitialActiveUsers: initial, MaxActiveUsers: maxUsers}, newUser, nil, reg)
	return e, m, reg, err
}
