package controller

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/loadtest/loadtest/agentconfig"
)

func TestPicker_Pick(t *testing.T) {
	p := NewPicker(map[string]float64{"a": 1, "b": 3, "zero": 0})
	for _, tc := range []struct {
		u    float64
		want string
	}{{0, "a"}, {0.2499, "a"}, {0.25, "b"}, {0.9999, "b"}} {
		if got := p.Pick(tc.u); got != tc.want {
			t.Errorf("Pick(%v) = %q; want %q", tc.u, got, tc.want)
		}
	}
	if sh := p.Shares(); len(sh) != 2 || math.Abs(sh["b"]-0.75) > 1e-12 {
		t.Errorf("Shares = %v; want a 0.25, b 0.75 and no zero-weight action", sh)
	}
	// Over many draws the default weights' shares hold (SwitchChannel is 42.2%).
	p = NewPicker(agentconfig.DefaultActionWeights())
	rng := rand.New(rand.NewPCG(1, 1))
	n, hits := 200000, 0
	for range n {
		if p.Pick(rng.Float64()) == "SwitchChannel" {
			hits++
		}
	}
	if got := float64(hits) / float64(n); math.Abs(got-p.Shares()["SwitchChannel"]) > 0.005 {
		t.Errorf("SwitchChannel share %.4f; want %.4f", got, p.Shares()["SwitchChannel"])
	}
}

func TestThinkTime(t *testing.T) {
	c := agentconfig.SimulativeConfig{MinIdleTimeMs: 1000, AvgIdleTimeMs: 20000, ThinkTimeDistribution: "uniform"}
	for _, tc := range []struct {
		dist string
		mult float64
		u    float64
		want time.Duration
	}{
		{"uniform", 1, 0, time.Second},
		{"uniform", 1, 0.5, 20 * time.Second},
		{"uniform", 1, 0.999999, 39 * time.Second},
		{"uniform", 3, 0.5, 60 * time.Second},
		{"exponential", 1, 0, time.Second},                     // floored at Min
		{"exponential", 1, 1 - math.Exp(-1), 20 * time.Second}, // the mean's quantile
	} {
		c.ThinkTimeDistribution = tc.dist
		got := ThinkTime(c, tc.mult, tc.u)
		if d := got - tc.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("ThinkTime(%s, ×%v, %v) = %v; want %v", tc.dist, tc.mult, tc.u, got, tc.want)
		}
	}
}

func TestSimulativeConfig_Validate(t *testing.T) {
	c := agentconfig.DefaultSimulativeConfig()
	c.AvgIdleTimeMs = 500
	c.ActionWeights["Teleport"] = 1
	c.ActionWeights["CreatePost"] = -1
	c.ThinkTimeDistribution = "normal"
	c.ProfileImages = "never"
	err := c.Validate()
	for _, want := range []string{"AvgIdleTimeMs: must be > MinIdleTimeMs (1000)", "ActionWeights.Teleport: is not an action; known: AddReaction",
		"ActionWeights.CreatePost: must be >= 0", `ThinkTimeDistribution: must be "uniform" or "exponential"`,
		`ProfileImages: must be "browser" or "revalidate", got "never"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v; want it to mention %q", err, want)
		}
	}
	for name := range agentconfig.DefaultActionWeights() {
		if simulativeActions[name] == nil {
			t.Errorf("action %s has a weight but no code", name)
		}
	}
}

func TestSimpleNext(t *testing.T) {
	acts := []agentconfig.SimpleAction{{ActionId: "A", RunPeriod: 1}, {ActionId: "B", RunPeriod: 2}, {ActionId: "C", RunPeriod: 3}}
	var got []string
	pos, cycle := -1, 0
	for range 11 {
		pos, cycle = SimpleNext(acts, cycle, pos)
		got = append(got, acts[pos].ActionId)
	}
	// Cycle 0: A B C; 1: A; 2: A B; 3: A C; 4: A B; 5: A.
	if want := "A B C A A B A C A B A"; strings.Join(got, " ") != want {
		t.Errorf("sequence %q; want %q", strings.Join(got, " "), want)
	}
}

// TestPeriodicPhase: users started in the same instant first poll spread over the minute, not
// in step: each of six 10 s buckets gets about a sixth of 6,000 users, and every draw is in
// (0, 60 s].
func TestPeriodicPhase(t *testing.T) {
	var buckets [6]int
	for id := range 6000 {
		d := periodicPhase(rand.New(rand.NewPCG(uint64(id), 42)))
		if d <= 0 || d > periodicEvery {
			t.Fatalf("user %d: first tick after %v; want (0, %v]", id, d, periodicEvery)
		}
		buckets[int((d-1)/(periodicEvery/6))]++
	}
	for i, n := range buckets {
		if n < 850 || n > 1150 { // 1,000 ± 4.9 standard deviations
			t.Errorf("first ticks in [%ds, %ds): %d of 6000; want about 1000 (all buckets: %v)", 10*i, 10*i+10, n, buckets)
		}
	}
}

func TestNextDue(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		name     string
		open     bool
		due, now time.Time
		wait     time.Duration
		want     time.Time
		dropped  int
	}{
		{"closed: after the end", false, t0, t0.Add(ms(50)), ms(100), t0.Add(ms(150)), 0},
		{"open: after the due time", true, t0, t0.Add(ms(50)), ms(100), t0.Add(ms(100)), 0},
		{"open: the first", true, time.Time{}, t0, ms(100), t0.Add(ms(100)), 0},
		{"open: late, within a wait", true, t0, t0.Add(ms(180)), ms(100), t0.Add(ms(100)), 0},
		{"open: far behind drops", true, t0, t0.Add(ms(450)), ms(100), t0.Add(ms(450)), 3},
		{"open: back to back", true, t0, t0.Add(ms(5)), 0, t0, 0},
	} {
		got, dropped := NextDue(tc.open, tc.due, tc.now, tc.wait)
		if !got.Equal(tc.want) || dropped != tc.dropped {
			t.Errorf("%s: NextDue = +%v, %d dropped; want +%v, %d", tc.name, got.Sub(t0), dropped, tc.want.Sub(t0), tc.dropped)
		}
	}
}

func TestExpectedActionRate_SimpleAndOpen(t *testing.T) {
	cfg := agentconfig.DefaultConfig()
	uc := &cfg.UserControllerConfiguration
	uc.Type = "simple"
	uc.Simple.Actions = []agentconfig.SimpleAction{{ActionId: "CreatePost", RunPeriod: 1, WaitAfterMs: 1000}, {ActionId: "SearchPosts", RunPeriod: 4, WaitAfterMs: 3000}}
	// Per 4 cycles: 4 waits of 1 s and 1 of 3 s: 5 actions in 7 s.
	if got := ExpectedActionRate(cfg, 0); math.Abs(got-5.0/7) > 1e-9 {
		t.Errorf("simple: %v actions/s; want 5/7", got)
	}
	uc.Type = "noop"
	if got := ExpectedActionRate(cfg, 200*time.Millisecond); math.Abs(got-1/1.2) > 1e-9 {
		t.Errorf("noop, closed, 200 ms latency: %v; want 1/1.2 s", got)
	}
	uc.Pacing = "open"
	if got := ExpectedActionRate(cfg, 200*time.Millisecond); math.Abs(got-1) > 1e-9 {
		t.Errorf("noop, open, 200 ms latency: %v; want 1 (the period)", got)
	}
	if got := ExpectedActionRate(cfg, 2*time.Second); math.Abs(got-0.5) > 1e-9 {
		t.Errorf("noop, open, 2 s latency: %v; want 0.5 (one in flight per user)", got)
	}
}
