package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/loadtest/loadtest/internal/exitcode"
	"github.com/loadtest/loadtest/internal/mmsim"
	"github.com/loadtest/loadtest/internal/mmsim/mmsimtest"
	"github.com/loadtest/loadtest/internal/testtools"
	"github.com/loadtest/loadtest/internal/usermetrics"
)

// busyTarget is mmsim behind a proxy that answers every third GET /users/me with a 503 and
// the server's error id, as an overloaded Mattermost does.
func busyTarget(t *testing.T) (string, *atomic.Int64) {
	t.Helper()
	var busy, n atomic.Int64
	url := mmsimtest.WithFaults(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != "GET" || r.URL.Path != "/api/v4/users/me" || n.Add(1)%3 != 0 {
			return false
		}
		busy.Add(1)
		w.WriteHeader(503)
		_, _ = w.Write([]byte(`{"id":"api.server.busy.app_error","message":"The server is busy","status_code":503}`))
		return true
	})
	return url, &busy
}

// TestRun_Thresholds runs the plain command as CI would, against a target that fails a third
// of GET /users/me: the thresholds that hold pass, the error rate's fails, the run exits 99
// with every result in the summary, and the failures are grouped by route, status and reason.
func TestRun_Thresholds(t *testing.T) {
	base, busy := busyTarget(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	_ = os.WriteFile(cfg, []byte(`{"Thresholds": ["action GetMe count>=3"]}`), 0o600)
	sumPath := filepath.Join(dir, "summary.json")
	var out testtools.LockedBuffer
	err := run(context.Background(), []string{"--config", cfg, "--server-url", base, "--type", "noop", "-n", "3", "-d", "2500ms",
		"--summary", sumPath, "--threshold", "p99<10s", "--threshold", "route GET /users/{user_id} error_rate<1%"}, &out, &out)
	if got := exitcode.Of(err); got != exitcode.ThresholdsFailed {
		t.Fatalf("run = %v (exit %d); want exit %d, a threshold failed\n%s", err, got, exitcode.ThresholdsFailed, out.String())
	}
	s := readSummary(t, sumPath)
	if len(s.Thresholds) != 3 || !s.Thresholds[0].Passed || !s.Thresholds[1].Passed || s.Thresholds[2].Passed {
		t.Errorf("thresholds %+v; want the config's and the first flag's passing, the error rate's failing", s.Thresholds)
	}
	var g usermetrics.ErrorGroup
	for _, e := range s.FailedRequests {
		switch e.Route {
		case "GET /users/{user_id}":
			g = e
		case "POST /users/login": // each new user's first login, before it signs up
			if e.Status != 401 || e.Reason != "api.user.login.invalid_credentials_email_username" || e.Count != 2 {
				t.Errorf("group %+v; want the 2 new users' first logins: 401 invalid credentials", e)
			}
		default:
			t.Errorf("group %+v; want none on that route", e)
		}
	}
	if g.Route != "GET /users/{user_id}" || g.Status != 503 || g.Reason != "api.server.busy.app_error" || g.Count != busy.Load() ||
		!strings.Contains(g.Example, "The server is busy") {
		t.Errorf("group %+v; want GET /users/{user_id} 503 api.server.busy.app_error x%d with the message", g, busy.Load())
	}
	for _, want := range []string{"threshold PASS  p99<10s", "threshold FAIL  route GET /users/{user_id} error_rate<1% (observed ",
		"thresholds: 1 of 3 failed", "failed requests", "api.server.busy.app_error"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}

	// The same thresholds on a healthy target pass: exit 0.
	out = testtools.LockedBuffer{}
	err = run(context.Background(), []string{"--server-url", target(t), "--type", "noop", "-n", "2", "-d", "1500ms",
		"--threshold", "route GET /users/{user_id} error_rate<1%"}, &out, &out)
	if err != nil || !strings.Contains(out.String(), "threshold PASS") {
		t.Errorf("healthy target: run = %v; want a pass\n%s", err, out.String())
	}

	// A threshold that cannot be read is bad input, named, before anything runs.
	err = run(context.Background(), []string{"--server-url", base, "--threshold", "p99<1s", "--threshold", "p99 under 1s"}, &out, &out)
	if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), `--threshold[1]`) ||
		!strings.Contains(err.Error(), `"p99 under 1s"`) || !strings.Contains(err.Error(), "STAT OP VALUE") {
		t.Errorf("bad threshold: run = %v (exit %d); want exit 2 naming --threshold[1]", err, exitcode.Of(err))
	}
}

// TestRun_RampAndArrivalRate checks the ramp (users start at --ramp-rate a second) and the
// arrival rate (open pacing: the users keep the rate whatever the latency) against a target
// whose every request takes 100 ms.
func TestRun_RampAndArrivalRate(t *testing.T) {
	srv := mmsimtest.Start(t, func(c *mmsim.Config) { c.Capacity.Workers, c.Capacity.ServiceTimeMs = 64, 100 })
	mmsimtest.CreateTeam(t, srv.URL, srv.Config, "team1")

	var out testtools.LockedBuffer
	if err := run(context.Background(), []string{"--server-url", srv.URL, "--type", "noop", "-n", "6", "--ramp-rate", "2", "-d", "4500ms"}, &out, &out); err != nil {
		t.Fatalf("ramp: %v\n%s", err, out.String())
	}
	var users []string
	for _, l := range strings.Split(out.String(), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == "users" {
			users = append(users, f[2])
		}
	}
	if !strings.Contains(out.String(), "ramp: 2 users a second, all 6 in 2.5s") || len(users) != 2 || (users[0] != "4" && users[0] != "5") || users[1] != "6" {
		t.Errorf("ramp: progress users %v; want 4 or 5 at 2 s and 6 at 4 s\n%s", users, out.String())
	}

	// 4 users due every 200 ms (20 actions a second), each call taking 100 ms: open pacing
	// keeps 20/s; the same think time closed makes one call per 300 ms (13/s).
	count := func(args ...string) int64 {
		dir := t.TempDir()
		sumPath := filepath.Join(dir, "s.json")
		var out testtools.LockedBuffer
		args = append([]string{"--server-url", srv.URL, "--type", "noop", "-n", "4", "-d", "3s", "--summary", sumPath}, args...)
		if err := run(context.Background(), args, &out, &out); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, out.String())
		}
		return readSummary(t, sumPath).Actions[0].Count
	}
	closedCfg := filepath.Join(t.TempDir(), "closed.json")
	_ = os.WriteFile(closedCfg, []byte(`{"UserControllerConfiguration": {"Type": "noop", "RatesDistribution": [{"ThinkTimeMultiplier": 0.2, "Percentage": 1}]}}`), 0o600)
	open, closed := count("--arrival-rate", "20"), count("--config", closedCfg)
	if open < 48 || closed > 45 {
		t.Errorf("GetMe calls in 3 s: open %d, closed %d; want about 56 (20/s) and 38 (13/s)", open, closed)
	}
	err := run(context.Background(), []string{"--server-url", srv.URL, "--type", "simulative", "--arrival-rate", "5"}, &out, &out)
	if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), `--arrival-rate is for noop and simple users, not "simulative"`) {
		t.Errorf("arrival rate for simulative users: %v; want exit 2 saying what it is for", err)
	}
}
