package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadtest/loadtest/agent"
	"github.com/loadtest/loadtest/agent/api"
	"github.com/loadtest/loadtest/coordinator"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/internal/testtools"
)

func waitFor(t *testing.T, b *testtools.LockedBuffer, re *regexp.Regexp, d time.Duration) []string {
	t.Helper()
	var m []string
	testtools.Eventually(t, d, "a line matching "+re.String(), func() bool {
		m = re.FindStringSubmatch(b.String())
		return m != nil
	})
	return m
}

// TestRun_JoinedAgents runs a plan on agents that join the coordinator over WebSocket (no
// agent list): the coordinator waits for two, splits the users between them, marks one down
// when its connection drops (the other takes its users), and takes it back into the plan
// when it joins again.
func TestRun_JoinedAgents(t *testing.T) {
	mm := mmsimtest.Start(t, nil)
	dir := t.TempDir()
	cfg := coordinator.DefaultConfig()
	cfg.ClusterConfig.Agents, cfg.ClusterConfig.JoinListen, cfg.ClusterConfig.MinJoinedAgents = nil, "127.0.0.1:0", 2
	cfg.LogSettings.EnableConsole = false
	planDoc := map[string]any{"Name": "joined", "Targets": []string{mm.URL}, "Users": 6, "SustainSec": 9, "ReportEverySec": 30,
		"Scripts": []map[string]any{{"Name": "ping", "PaceMs": 100, "Source": "def main():\n    get('/api/v4/system/ping', name='ping')\n"}}}
	args := []string{"--config", writeJSON(t, dir, "coordinator.json", cfg), "--plan", writeJSON(t, dir, "plan.json", planDoc), "--results", dir, "--listen", "127.0.0.1:0"}
	var out, errb testtools.LockedBuffer
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(context.Background()) // a failing test ends the run too
	defer cancel()
	var runErr error
	wg.Go(func() { runErr = run(ctx, args, &out, &errb) })
	url := waitFor(t, &out, regexp.MustCompile(`agents may join at (ws://\S+)`), 10*time.Second)[1]
	status := waitFor(t, &out, regexp.MustCompile(`status on (http://\S+)/status`), 10*time.Second)[1]

	join := func(id string) (context.CancelFunc, *sync.WaitGroup, *testtools.LockedBuffer) {
		srv := agent.NewServer(agent.ServerOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		var logs testtools.LockedBuffer
		var jw sync.WaitGroup
		jw.Go(func() {
			_ = api.Join(ctx, api.Handler(srv, api.HandlerOptions{}), api.JoinOptions{URL: url, ID: id, Backoff: 50 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&logs, nil))})
		})
		t.Cleanup(func() { cancel(); jw.Wait(); _ = srv.Shutdown(context.Background()) })
		return cancel, &jw, &logs
	}
	_, _, aLogs := join("ja")
	// Once ja's handshake is done the coordinator knows it, and would start if one agent
	// were enough.
	waitFor(t, aLogs, regexp.MustCompile(`(joined the coordinator)`), 10*time.Second)
	if strings.Contains(out.String(), "starting the load test") {
		t.Fatalf("the plan started with one of the two agents it waits for:\n%s", out.String())
	}
	dropB, bDone, _ := join("jb")
	waitFor(t, &out, regexp.MustCompile(`agent jb joined`), 10*time.Second)
	waitFor(t, &out, regexp.MustCompile(`(?s)agent jb joined.*agent ja joined|agent ja joined.*agent jb joined`), 10*time.Second)
	// Both carry their share of the users before jb goes.
	testtools.Eventually(t, 10*time.Second, "3 users on each agent", func() bool {
		m := get(status + "/metrics")
		return strings.Contains(m, `loadtest_coordinator_agent_users{agent="ja"} 3`) && strings.Contains(m, `loadtest_coordinator_agent_users{agent="jb"} 3`)
	})
	// The live view's observations: every tick so far from since=0, none twice from the
	// last Seq, and a bad since refused.
	var obs []coordinator.Observation
	if err := json.Unmarshal([]byte(get(status+"/observations?since=0")), &obs); err != nil || len(obs) == 0 || obs[0].Seq != 1 {
		t.Fatalf("observations: %v, %d (first %+v)", err, len(obs), obs)
	}
	var after []coordinator.Observation
	_ = json.Unmarshal([]byte(get(fmt.Sprintf("%s/observations?since=%d", status, obs[len(obs)-1].Seq))), &after)
	if len(after) > 0 && after[0].Seq != obs[len(obs)-1].Seq+1 {
		t.Fatalf("after Seq %d: first %d", obs[len(obs)-1].Seq, after[0].Seq)
	}
	if resp, err := http.Get(status + "/observations?since=x"); err != nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("since=x: %v %v; want 400", resp, err)
	} else {
		resp.Body.Close()
	}
	dropB() // its connection ends; the coordinator marks it down
	bDone.Wait()
	waitFor(t, &out, regexp.MustCompile(`agents: agent jb: `), 10*time.Second)
	join("jb") // and back
	waitFor(t, &out, regexp.MustCompile(`(?s)agents: agent jb: .*agent jb joined`), 10*time.Second)
	wg.Wait()
	if runErr != nil {
		t.Fatalf("run: %v\n%s\n%s", runErr, out.String(), errb.String())
	}
	r := readReport(t, out.String())
	// The count holds: ja takes jb's users while jb is gone, and they are shared again when
	// it is back; only the seconds of a change may differ.
	off := 0
	for _, s := range r.Series {
		if s.Phase == "sustain" && s.Users != 6 {
			off++
		}
	}
	if off > 2 {
		t.Errorf("%d seconds of the sustain phase without the plan's 6 users:\n%s", off, out.String())
	}
	var pings int64
	for _, p := range r.Periods {
		for _, s := range p.Metrics {
			if s.Key == "route GET ping" {
				pings += s.Count
			}
		}
	}
	if pings < 200 {
		t.Errorf("%d pings; want about 6 users x 10/s x 9 s", pings)
	}
}
