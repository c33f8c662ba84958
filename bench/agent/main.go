// Command agent measures the load-test agent itself, against a server running in another
// process (bench/agent.sh starts mmsim pinned to its own core):
//
//	-mode idle: memory per connected idle user (logged in, WebSocket open, no actions),
//	            averaged over all users and for the second half alone (the marginal cost);
//	            users are added -ramp-rate a second, or half at once and then the rest;
//	-mode cpu:  agent CPU time per HTTP request, with noop users calling as fast as they can.
//
// It prints its results on one or two lines.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/loadtest/loadtest/internal/controller"
	"github.com/loadtest/loadtest/internal/usermetrics"
	"github.com/loadtest/loadtest/loadtest"
)

func main() {
	server := flag.String("server-url", "http://127.0.0.1:18065", "target")
	mode := flag.String("mode", "idle", "idle, cpu or ramp")
	step := flag.Int("step", 1000, "ramp mode: users added per step")
	settle := flag.Duration("settle", 20*time.Second, "ramp mode: time per step before utilization is sampled over the next 10s")
	users := flag.Int("users", 1000, "users")
	duration := flag.Duration("duration", 10*time.Second, "cpu mode: how long to measure")
	cpuProfile := flag.String("cpuprofile", "", "cpu mode: write a CPU profile of the measured interval here")
	memProfile := flag.String("memprofile", "", "idle mode: write a heap profile here")
	rampRate := flag.Int("ramp-rate", 0, "idle mode: add at most this many users a second (0: half at once, then the other half)")
	hold := flag.Duration("hold", 0, "idle mode: keep the users connected this long after measuring (to inspect the process: GOTRACEBACK=system and SIGQUIT print each frame's sp and fp)")
	flag.Parse()
	profiles.cpu, profiles.mem, profiles.hold, profiles.rampRate = *cpuProfile, *memProfile, *hold, *rampRate
	if *memProfile != "" {
		runtime.MemProfileRate = 1 // every allocation: a user's objects are small and few
	}
	if *mode == "ramp" {
		if err := ramp(*server, *users, *step, *settle); err != nil {
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
	cpu, mem string
	hold     time.Duration
	rampRate int
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
	cfg := loadtest.DefaultConfig()
	cfg.ConnectionConfiguration.ServerURL = server
	cfg.UserControllerConfiguration.Type = "noop"
	mult := 1e6 // idle: one GET /users/me every 11 days
	if mode == "cpu" {
		mult = 1e-9 // a period under 1 µs: each user calls back to back, as wrk's connections do
	}
	cfg.UserControllerConfiguration.RatesDistribution = []loadtest.RateDistribution{{ThinkTimeMultiplier: mult, Percentage: 1}}
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
	connected := func() float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "loadtest_websocket_connections_total" {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		return 0
	}
	waitConnected := func(n int) error {
		deadline := time.Now().Add(2 * time.Minute)
		for connected() < float64(n) {
			if time.Now().After(deadline) {
				return fmt.Errorf("only %v of %d users connected in 2 minutes", connected(), n)
			}
			time.Sleep(100 * time.Millisecond)
		}
		return nil
	}
	// ramp adds users up to n, at most rampRate a second (as the coordinator's RampRate
	// does), or all at once with no rate.
	ramp := func(n int) error {
		for cur := e.Status().ActiveUsers; cur < n; {
			cur = n
			if profiles.rampRate > 0 {
				cur = min(n, e.Status().ActiveUsers+profiles.rampRate)
			}
			if _, err := e.SetUsers(cur); err != nil {
				return err
			}
			if cur < n {
				time.Sleep(time.Second)
			}
		}
		return waitConnected(n)
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
		per := func(now, base uint64, n int) float64 { return float64(now-base) / 1024 / float64(n) }
		more := users - half
		fmt.Printf("idle users=%d goroutines=%d heap/user=%.1fKB stacks/user=%.1fKB total/user=%.1fKB rss/user=%.1fKB\n",
			users, runtime.NumGoroutine(), per(heap, baseHeap, users), per(stacks, baseStacks, users),
			per(heap+stacks, baseHeap+baseStacks, users), float64(rss-baseRSS)/float64(users))
		fmt.Printf("idle marginal (users %d -> %d): heap/user=%.1fKB stacks/user=%.1fKB total/user=%.1fKB rss/user=%.1fKB\n",
			half, users, per(heap, halfHeap, more), per(stacks, halfStacks, more),
			per(heap+stacks, halfHeap+halfStacks, more), float64(rss-halfRSS)/float64(more))
		time.Sleep(profiles.hold)
	case "cpu":
		reqs := func() float64 {
			s := m.Recorder.Snapshot()
			n := 0.0
			for k, v := range s {
				if strings.HasPrefix(k, usermetrics.RoutePrefix) {
					n += float64(v.Hist.TotalCount())
				}
			}
			return n
		}
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
		c0, r0, t0 := cpuTime(), reqs(), time.Now()
		time.Sleep(duration)
		c1, r1, el := cpuTime(), reqs(), time.Since(t0)
		n := r1 - r0
		fmt.Printf("cpu users=%d requests=%.0f rate=%.0f/s agent_cpu=%.2fs cpu_per_request=%.1fus\n", users, n, n/el.Seconds(),
			(c1 - c0).Seconds(), float64((c1-c0).Microseconds())/n)
	default:
		return fmt.Errorf("-mode must be idle or cpu, got %q", mode)
	}
	return nil
}

// ramp adds simulative users (default think times) step by step up to max, and after each step
// settles samples the agent's utilization over 10 s. It reports the most users seen with
// utilization <= 0.8.
func ramp(server string, maxUsers, step int, settle time.Duration) error {
	cfg := loadtest.DefaultConfig()
	cfg.ConnectionConfiguration.ServerURL = server
	e, m, _, err := newEngine("ramp", cfg, 0, maxUsers)
	if err != nil {
		return err
	}
	if err := e.Run(context.Background()); err != nil {
		return err
	}
	defer func() { _ = e.Stop() }()
	best := 0
	for n := step; n <= maxUsers; n += step {
		if _, err := e.SetUsers(n); err != nil {
			return err
		}
		time.Sleep(settle)
		m.SampleUtilization()
		time.Sleep(10 * time.Second)
		u := m.SampleUtilization()
		heap, stacks := memory()
		fmt.Printf("ramp users=%d utilization=%.2f heap+stacks=%.0fMB user_errors=%d\n", n, u, float64(heap+stacks)/(1<<20), e.Status().NumErrors)
		if u > usermetrics.SaturatedAbove {
			break
		}
		best = n
	}
	fmt.Printf("ramp: most simulative users at utilization <= %.1f: %d (of at most %d tried)\n", usermetrics.SaturatedAbove, best, maxUsers)
	return nil
}

// newEngine builds an engine of cfg's users, with their metrics in a fresh registry.
func newEngine(agentID string, cfg loadtest.Config, initial, maxUsers int) (*loadtest.Engine, *usermetrics.Metrics, *prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	m := usermetrics.New(reg, nil)
	newUser, err := controller.Factory(controller.NewEnv(agentID, cfg, m, nil))
	if err != nil {
		return nil, nil, nil, err
	}
	e, err := loadtest.New(loadtest.Options{InitialActiveUsers: initial, MaxActiveUsers: maxUsers}, newUser, nil, reg)
	return e, m, reg, err
}
