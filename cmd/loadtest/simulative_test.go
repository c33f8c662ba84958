package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/loadtest/loadtest/agentconfig"
	"github.com/loadtest/loadtest/internal/controller"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
)

// chiSquareCritical approximates the chi-square quantile for df degrees of freedom at the
// upper tail probability of z's standard normal quantile (Wilson-Hilferty, good for df >= 3).
func chiSquareCritical(df int, z float64) float64 {
	k := float64(df)
	return k * math.Pow(1-2/(9*k)+z*math.Sqrt(2/(9*k)), 3)
}

// TestRun_SimulativeMix is the end-to-end check: `loadtest init`, then 50 simulative
// users for 20 s against mmsim. No request and no action fails, every action of the table runs,
// WebSocket events arrive, and the mix of actions matches the weights (chi-square, p = 0.001).
// Think times are short and the rare actions' weights raised, so 20 s exercises them all.
func TestRun_SimulativeMix(t *testing.T) {
	if testing.Short() {
		t.Skip("20 s end-to-end run")
	}
	srv := mmsimtest.Start(t, nil)
	cfg := agentconfig.DefaultConfig()
	cfg.ConnectionConfiguration.ServerURL = srv.URL
	uc := &cfg.UserControllerConfiguration
	uc.Type = "simulative"
	uc.Simulative.MinIdleTimeMs, uc.Simulative.AvgIdleTimeMs = 50, 400
	for k, v := range uc.Simulative.ActionWeights {
		uc.Simulative.ActionWeights[k] = max(v, 0.1)
	}
	cfg.InstanceConfiguration.NumUsers, cfg.InstanceConfiguration.NumPosts, cfg.InstanceConfiguration.NumReactions = 50, 300, 50
	cfgPath, sumPath := writeConfig(t, cfg)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"init", "--config", cfgPath}, &out, &out); err != nil {
		t.Fatalf("init: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"--config", cfgPath, "-n", "50", "-d", "20s", "--summary", sumPath}, &out, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := readSummary(t, sumPath)
	// Users delete posts while others read, react to and reply to them, so a few requests on
	// a post deleted a moment before fail, as they would against a real server. Those routes
	// may fail rarely; every other route must not fail at all.
	racy := map[string]bool{"GET /posts/{post_id}/thread": true, "POST /posts": true, "POST /reactions": true,
		"PUT /posts/{post_id}/patch": true, "DELETE /posts/{post_id}": true, "GET /channels/{channel_id}/members/{user_id}": true,
		"PUT /users/{user_id}/teams/{team_id}/threads/{thread_id}/read/{timestamp}": true,
		"PUT /users/{user_id}/teams/{team_id}/threads/{thread_id}/following":        true,
		"DELETE /users/{user_id}/teams/{team_id}/threads/{thread_id}/following":     true}
	for _, r := range s.Routes {
		switch {
		case r.Errors == 0:
		case !racy[r.Key]:
			t.Errorf("route %s: %d errors; want none", r.Key, r.Errors)
		case float64(r.Errors) > 0.02*float64(r.Count)+2:
			t.Errorf("route %s: %d errors in %d requests; more than deleted posts explain", r.Key, r.Errors, r.Count)
		}
	}
	if s.UserErrors != 0 {
		t.Errorf("%d user sessions failed; want none\n%s", s.UserErrors, out.String())
	}
	if s.WSEvents == 0 {
		t.Error("no WebSocket events were received")
	}
	picks := map[string]float64{}
	total := 0.0
	for _, a := range s.Actions {
		if a.Errors != 0 {
			t.Errorf("action %s failed %d times", a.Key, a.Errors)
		}
		picks[a.Key] = float64(a.Count + a.Skipped)
		total += picks[a.Key]
	}
	shares := controller.NewPicker(uc.Simulative.ActionWeights).Shares()
	chi2 := 0.0
	for _, name := range agentconfig.SimulativeActions() {
		if picks[name] == 0 {
			t.Errorf("action %s never ran", name)
		}
		e := total * shares[name]
		chi2 += (picks[name] - e) * (picks[name] - e) / e
		if d := (picks[name] - e) * (picks[name] - e) / e; d > 4 {
			t.Logf("action %s: %v picks, %.1f expected (contributes %.1f)", name, picks[name], e, d)
		}
	}
	crit := chiSquareCritical(len(shares)-1, 3.0902) // upper 0.1%
	t.Logf("%v actions; chi-square %.1f with %d degrees of freedom (critical %.1f at p=0.001)", total, chi2, len(shares)-1, crit)
	if chi2 > crit {
		t.Errorf("the action mix does not match the weights: chi-square %.1f > %.1f\npicks %v", chi2, crit, picks)
	}
}

func TestChiSquareCritical(t *testing.T) {
	// Table values at p = 0.001: df 10 -> 29.59, df 30 -> 59.70.
	for df, want := range map[int]float64{10: 29.59, 30: 59.70} {
		if got := chiSquareCritical(df, 3.0902); math.Abs(got-want) > 0.5 {
			t.Errorf("chiSquareCritical(%d) = %.2f; want %.2f", df, got, want)
		}
	}
}

// TestRun_Simple runs simple users, whose cycle runs A every cycle, B every second and C
// every third: over whole cycles the counts are in the ratio 6:3:2.
func TestRun_Simple(t *testing.T) {
	srv := mmsimtest.Start(t, nil)
	cfg := agentconfig.DefaultConfig()
	cfg.ConnectionConfiguration.ServerURL = srv.URL
	cfg.UserControllerConfiguration.Type = "simple"
	cfg.UserControllerConfiguration.Simple.Actions = []agentconfig.SimpleAction{
		{ActionId: "SwitchChannel", RunPeriod: 1, WaitAfterMs: 20}, {ActionId: "CreatePost", RunPeriod: 2, WaitAfterMs: 20},
		{ActionId: "ViewGlobalThreads", RunPeriod: 3, WaitAfterMs: 20}}
	cfg.InstanceConfiguration.NumUsers = 10
	cfgPath, sumPath := writeConfig(t, cfg)
	var out bytes.Buffer
	if err := run(context.Background(), []string{"init", "--config", cfgPath}, &out, &out); err != nil {
		t.Fatalf("init: %v\n%s", err, out.String())
	}
	if err := run(context.Background(), []string{"--config", cfgPath, "-n", "5", "-d", "3s", "--summary", sumPath}, &out, &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := readSummary(t, sumPath)
	n := map[string]float64{}
	for _, a := range s.Actions {
		n[a.Key] = float64(a.Count + a.Skipped)
		if a.Errors != 0 {
			t.Errorf("action %s: %d errors", a.Key, a.Errors)
		}
	}
	if len(n) != 3 || n["SwitchChannel"] < 30 {
		t.Fatalf("actions %v; want the three of the cycle, SwitchChannel at least 30 times", n)
	}
	// Each of 5 users may stop mid-cycle, so allow a few steps per user either way.
	for name, ratio := range map[string]float64{"CreatePost": 0.5, "ViewGlobalThreads": 1.0 / 3} {
		if want := n["SwitchChannel"] * ratio; math.Abs(n[name]-want) > 10 {
			t.Errorf("%s ran %v times; want about %.0f (SwitchChannel %v × %.2f)", name, n[name], want, n["SwitchChannel"], ratio)
		}
	}
}

// writeConfig writes cfg to a temporary config file and returns its path and a summary path.
func writeConfig(t *testing.T, cfg agentconfig.Config) (cfgPath, sumPath string) {
	t.Helper()
	dir := t.TempDir()
	cfgPath, sumPath = filepath.Join(dir, "config.json"), filepath.Join(dir, "summary.json")
	b, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return cfgPath, sumPath
}
